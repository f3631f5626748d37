// The Code tab's editor: CodeMirror 6 (@uiw/react-codemirror) with Python highlighting, line numbers, and the
// line an error names marked (and scrolled to). The text travels with its form in a hidden field named
// `name`, so the surrounding rx.form submits it like the textarea it replaces.
// The editable element (.cm-content) carries the accessible name and the test id.
import React, { useEffect, useMemo, useRef, useState } from "react";
import CodeMirror from "@uiw/react-codemirror";
import { python } from "@codemirror/lang-python";
import { Decoration, EditorView } from "@codemirror/view";

const errorTheme = EditorView.baseTheme({
  ".cm-chat3d-error-line": { backgroundColor: "rgba(229, 72, 77, 0.16)", boxShadow: "inset 3px 0 0 #e5484d" },
  ".cm-gutterElement.cm-chat3d-error-gutter": { color: "#e5484d", fontWeight: "bold" },
});

function errorMarks(lineNo) {
  return EditorView.decorations.of((view) => {
    if (!lineNo || lineNo < 1 || lineNo > view.state.doc.lines) return Decoration.none;
    const line = view.state.doc.line(lineNo);
    return Decoration.set([
      Decoration.line({ attributes: { class: "cm-chat3d-error-line", "data-error-line": String(lineNo),
                                      title: `Line ${lineNo}: the error is here` } }).range(line.from),
    ]);
  });
}

export function CodeEditor({ name, defaultValue, errorLine, dark, label, testId, minHeight, className, style }) {
  const [text, setText] = useState(defaultValue || "");
  const view = useRef(null);
  const lineNo = Number(errorLine) || 0;
  const extensions = useMemo(() => [
    python(),
    errorTheme,
    errorMarks(lineNo),
    EditorView.contentAttributes.of({ "aria-label": label || "Program", "data-testid": testId || "code-editor" }),
  ], [lineNo, label, testId]);
  useEffect(() => {
    const v = view.current;
    if (!v || lineNo < 1 || lineNo > v.state.doc.lines) return;
    v.dispatch({ effects: EditorView.scrollIntoView(v.state.doc.line(lineNo).from, { y: "center" }) });
  }, [lineNo]);
  return (
    <div className={className} style={{ width: "100%", ...(style || {}) }}>
      <CodeMirror
        value={text}
        onChange={setText}
        onCreateEditor={(v) => { view.current = v; }}
        extensions={extensions}
        theme={dark ? "dark" : "light"}
        minHeight={minHeight || "360px"}
        basicSetup={{ lineNumbers: true, foldGutter: false, highlightActiveLine: true, autocompletion: false }}
        style={{ fontSize: "12px", border: "1px solid var(--gray-a6)", borderRadius: "var(--radius-2)", overflow: "hidden" }}
      />
      <input type="hidden" name={name} value={text} />
    </div>
  );
}

export default CodeEditor;
