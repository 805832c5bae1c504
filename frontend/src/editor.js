// The candidate's code editor: CodeMirror 6 with Python highlighting, bundled by esbuild into
// app/static/dist/editor.js (scripts/build-frontend.sh). The page script
// (app/static/js/candidate.js) uses only the small API this file puts on window.FaultlineEditor.

import { basicSetup } from "codemirror";
import { historyField, indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { Compartment, EditorState, Transaction } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "14px", backgroundColor: "#fff" },
  ".cm-scroller": {
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
    lineHeight: "1.5",
  },
  // #5f6b7a: 5.1:1 on the gutter, 4.6:1 on the active line's (WCAG AA asks 4.5:1).
  ".cm-gutters": { backgroundColor: "#f6f7f9", borderRight: "1px solid #e2e5ea", color: "#5f6b7a" },
  ".cm-activeLineGutter": { backgroundColor: "#e9edf3" },
  "&.cm-focused": { outline: "none" },
  "&.fl-readonly .cm-content": { backgroundColor: "#fafafa" },
  "&.fl-readonly .cm-activeLine": { backgroundColor: "transparent" },
});

/**
 * Create an editor in `element`.
 * options: doc (string), readOnly (bool), lineWrapping (bool), onChange (function(text)),
 * onEdit (function({changes, origin, inserted}): every edit as CodeMirror's ChangeSet JSON, what
 * made it (type, paste, drop, undo, redo, reset or other) and the text it inserted),
 * label (aria label), saved (what saved() returned earlier: the undo history comes back with
 * it, but only when its text is exactly `doc`, so it never undoes into text the server lacks).
 * Returns {view, getValue(), setValue(text, userEvent), setLineWrapping(on), saved(),
 * copiedText(), focus(), destroy()}.
 */
function create(element, options = {}) {
  const readOnly = Boolean(options.readOnly);
  const wrapping = new Compartment();
  const wrappingExtension = (on) => (on ? EditorView.lineWrapping : []);
  const extensions = [
    basicSetup,
    keymap.of([indentWithTab]),
    python(),
    theme,
    EditorState.tabSize.of(4),
    indentUnit.of("    "), // PEP 8: four spaces (CodeMirror's default is two)
    wrapping.of(wrappingExtension(Boolean(options.lineWrapping))),
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
    EditorView.contentAttributes.of({
      "aria-label": options.label || "code editor",
      "aria-readonly": String(readOnly),
    }),
  ];
  if (readOnly) {
    extensions.push(EditorView.editorAttributes.of({ class: "fl-readonly" }));
  }
  if (typeof options.onChange === "function") {
    extensions.push(
      EditorView.updateListener.of((update) => {
        if (update.docChanged) options.onChange(update.state.doc.toString());
      }),
    );
  }
  if (typeof options.onEdit === "function") {
    extensions.push(
      EditorView.updateListener.of((update) => {
        for (const transaction of update.transactions) {
          if (transaction.docChanged) options.onEdit(describeEdit(transaction));
        }
      }),
    );
  }
  const doc = options.doc || "";
  const view = new EditorView({ parent: element, state: initialState(doc, extensions, options.saved) });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (text, userEvent) =>
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: text },
        annotations: userEvent ? Transaction.userEvent.of(userEvent) : [],
      }),
    setLineWrapping: (on) =>
      view.dispatch({ effects: wrapping.reconfigure(wrappingExtension(Boolean(on))) }),
    saved: () => view.state.toJSON({ history: historyField }),
    copiedText: () => copiedText(view.state),
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}

const ORIGINS = [
  ["input.paste", "paste"],
  ["input.drop", "drop"],
  ["undo", "undo"],
  ["redo", "redo"],
  ["reset", "reset"],
  ["input", "type"],
  ["delete", "type"],
  ["move", "type"],
];

// What a copy or cut takes, as CodeMirror's own clipboard handler does: the selected text, or
// with nothing selected the whole line of each cursor.
function copiedText(state) {
  const ranges = state.selection.ranges;
  if (ranges.some((range) => !range.empty)) {
    return ranges
      .filter((range) => !range.empty)
      .map((range) => state.sliceDoc(range.from, range.to))
      .join(state.lineBreak);
  }
  const lines = [];
  let upto = -1;
  for (const range of ranges) {
    const line = state.doc.lineAt(range.from);
    if (line.number > upto) lines.push(line.text);
    upto = line.number;
  }
  return lines.join(state.lineBreak);
}

function describeEdit(transaction) {
  let inserted = "";
  transaction.changes.iterChanges((fromA, toA, fromB, toB, text) => {
    inserted += text.toString();
  });
  const found = ORIGINS.find(([event]) => transaction.isUserEvent(event));
  return { changes: transaction.changes.toJSON(), origin: found ? found[1] : "other", inserted };
}

function initialState(doc, extensions, saved) {
  if (saved && saved.doc === doc && saved.history) {
    try {
      return EditorState.fromJSON(saved, { extensions }, { history: historyField });
    } catch (err) {
      // A history from another version of the editor: start without it.
    }
  }
  return EditorState.create({ doc, extensions });
}

window.FaultlineEditor = { create, version: "2" };
