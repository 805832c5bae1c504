// The candidate's code editor: CodeMirror 6 with Python highlighting, bundled by esbuild into
// app/static/dist/editor.js (scripts/build-frontend.sh). The page script
// (app/static/js/candidate.js) uses only the small API this file puts on window.FaultlineEditor.

import { basicSetup } from "codemirror";
import { historyField, indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { Compartment, EditorState } from "@codemirror/state";
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
 * label (aria label), saved (what saved() returned earlier: the undo history comes back with
 * it, but only when its text is exactly `doc`, so it never undoes into text the server lacks).
 * Returns {view, getValue(), setValue(text), setLineWrapping(on), saved(), focus(), destroy()}.
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
  const doc = options.doc || "";
  const view = new EditorView({ parent: element, state: initialState(doc, extensions, options.saved) });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (text) =>
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    setLineWrapping: (on) =>
      view.dispatch({ effects: wrapping.reconfigure(wrappingExtension(Boolean(on))) }),
    saved: () => view.state.toJSON({ history: historyField }),
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
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
