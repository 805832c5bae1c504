// The candidate's code editor: CodeMirror 6 with Python highlighting, bundled by esbuild into
// app/static/dist/editor.js (scripts/build-frontend.sh). The page script
// (app/static/js/candidate.js) uses only the small API this file puts on window.FaultlineEditor.

import { basicSetup } from "codemirror";
import { historyField, indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import {
  ChangeSet,
  Compartment,
  EditorState,
  StateEffect,
  StateField,
  Text,
  Transaction,
} from "@codemirror/state";
import { Decoration, EditorView, keymap } from "@codemirror/view";

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
  ".fl-changed": { backgroundColor: "#fde68a", outline: "1px solid #d97706" },
});

// The replay's "change just made": marked ranges, replaced by each setHighlight.
const setHighlightEffect = StateEffect.define();
const highlightField = StateField.define({
  create: () => Decoration.none,
  update(marks, transaction) {
    let next = marks.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setHighlightEffect)) next = effect.value;
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});
const changedMark = Decoration.mark({ class: "fl-changed" });

/**
 * Create an editor in `element`.
 * options: doc (string), readOnly (bool), lineWrapping (bool), onChange (function(text)),
 * onEdit (function({changes, origin, inserted}): every edit as CodeMirror's ChangeSet JSON, what
 * made it (type, paste, drop, undo, redo, reset or other) and the text it inserted),
 * label (aria label), saved (what saved() returned earlier: the undo history comes back with
 * it, but only when its text is exactly `doc`, so it never undoes into text the server lacks).
 * Returns {view, getValue(), setValue(text, userEvent), setLineWrapping(on), saved(),
 * copiedText(), setHighlight(ranges, scroll), focus(), destroy()}.
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
    highlightField,
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
    setHighlight: (ranges, scroll) => {
      const length = view.state.doc.length;
      const marks = ranges
        .map(({ from, to }) => ({ from: Math.min(from, length), to: Math.min(to, length) }))
        .filter(({ from, to }) => to > from)
        .map(({ from, to }) => changedMark.range(from, to));
      const effects = [setHighlightEffect.of(Decoration.set(marks, true))];
      if (scroll && ranges.length) {
        effects.push(EditorView.scrollIntoView(Math.min(ranges[0].from, length), { y: "center" }));
      }
      view.dispatch({ effects });
    },
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

/**
 * Replaying recorded edits on CodeMirror's own documents (a rope: an edit costs little however
 * long the text). docOf(text) makes one; apply(doc, json) applies one edit (ChangeSet JSON, as
 * onEdit reported it) and returns the new document and the ranges it inserted; it throws when
 * the edit does not fit the document's length (a replay that diverged). doc.toString() is the
 * text.
 */
const replayDocs = {
  docOf: (text) => Text.of(text.split("\n")),
  apply(doc, json) {
    const changes = ChangeSet.fromJSON(json);
    const next = changes.apply(doc);
    const inserted = [];
    changes.iterChanges((fromA, toA, fromB, toB) => {
      inserted.push({ from: fromB, to: toB });
    });
    return { doc: next, inserted };
  },
};

window.FaultlineEditor = { create, replayDocs, version: "3" };
