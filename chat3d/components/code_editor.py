"""The program editor: a thin Reflex wrapper around CodeMirror 6 (@uiw/react-codemirror, Python mode) in
assets/chat3d_code_editor.jsx, with line numbers, highlighting and the error's line marked.

Render errors name a line ("line 7"); a plain textarea gave no way to find it. The editor keeps its text in a
hidden form field named `name`, so the Code tab's rx.form submits it as before. It is uncontrolled: remount
it (a new `key`) to load another program.
"""

from __future__ import annotations

import reflex as rx

# Exact versions: the editor and the CodeMirror packages it shares with lang-python must be one set.
CODE_EDITOR_LIBS = [
    "@uiw/react-codemirror@4.25.12",
    "@codemirror/lang-python@6.2.1",
    "@codemirror/view@6.44.2",
    "@codemirror/state@6.7.6",
    "@codemirror/language@6.13.1",
    "@codemirror/theme-one-dark@6.1.3",
    "codemirror@6.0.2",
]


class CodeEditor(rx.NoSSRComponent):
    library = rx.asset("chat3d_code_editor.jsx").importable_path
    tag = "CodeEditor"
    lib_dependencies: list[str] = CODE_EDITOR_LIBS

    name: rx.Var[str]  # the form field the text is submitted as
    default_value: rx.Var[str]
    error_line: rx.Var[int]  # 1-based; 0 marks nothing
    dark: rx.Var[bool]
    label: rx.Var[str]  # the editable area's accessible name
    test_id: rx.Var[str]
    min_height: rx.Var[str]


code_editor = CodeEditor.create
