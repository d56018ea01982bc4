"""Fitting the model's text to the range and building minimal versioned edits."""

from __future__ import annotations

from lsprotocol import types as lsp

from lsp_server.actions.edit import append_text, document_edit, fit_to_range
from lsp_server.textdiff import apply_text_edits


def test_trailing_newline_follows_the_range() -> None:
    assert fit_to_range("x = 1\n", "x = 2") == "x = 2\n"
    assert fit_to_range("x = 1", "x = 2\n\n") == "x = 2"
    assert fit_to_range("x = 1\n\n", "x = 2\n") == "x = 2\n\n"
    assert fit_to_range("import os\n", "\n") == ""


def test_first_line_not_indented_twice() -> None:
    # The range starts after the line's indentation; the model re-indented its first line.
    assert fit_to_range("return a\n", "    return a + b\n", line_prefix="    ") == (
        "return a + b\n")
    # A range starting at column 0 keeps the model's indentation.
    assert fit_to_range("    return a\n", "    return a + b\n") == "    return a + b\n"


def test_crlf_kept() -> None:
    assert fit_to_range("a\r\nb\r\n", "a\nc\n", newline="\r\n") == "a\r\nc\r\n"


def _apply(edit: lsp.WorkspaceEdit, text: str, uri: str) -> str:
    if edit.document_changes:
        [dc] = edit.document_changes
        assert isinstance(dc, lsp.TextDocumentEdit)
        return apply_text_edits(text, dc.edits)
    assert edit.changes is not None
    return apply_text_edits(text, edit.changes[uri])


def test_document_edit_is_minimal_and_versioned() -> None:
    text = "import os\n\ndef add(a, b):\n    return a\n\nprint(add(1, 2))\n"
    start = text.index("    return a")
    end = start + len("    return a\n")
    edit = document_edit(text, start, end, "    return a + b\n", uri="file:///x.py", version=7,
                         encoding="utf-16")
    assert edit is not None and edit.document_changes
    [dc] = edit.document_changes
    assert isinstance(dc, lsp.TextDocumentEdit)
    assert dc.text_document.version == 7
    [e] = dc.edits
    assert e.new_text == " + b" and e.range.start.line == 3
    assert _apply(edit, text, "file:///x.py") == text.replace("return a\n", "return a + b\n")


def test_document_edit_changes_fallback_and_noop() -> None:
    text = "a\r\nb\r\n"
    edit = document_edit(text, 3, 6, "c\r\n", uri="u", version=1, encoding="utf-8",
                         document_changes=False)
    assert edit is not None and edit.changes is not None
    assert _apply(edit, text, "u") == "a\r\nc\r\n"
    assert document_edit(text, 0, 3, "a\r\n", uri="u", version=1, encoding="utf-8") is None


def test_annotated_edit() -> None:
    ann = lsp.ChangeAnnotation(label="Devstral", needs_confirmation=True)
    edit = document_edit("x\n", 0, 1, "y", uri="u", version=1, encoding="utf-16",
                         annotation=ann)
    assert edit is not None and edit.change_annotations
    [dc] = edit.document_changes or []
    assert isinstance(dc, lsp.TextDocumentEdit)
    assert isinstance(dc.edits[0], lsp.AnnotatedTextEdit)


def test_append_text() -> None:
    assert append_text("", "def test_a():\n    pass\n") == "def test_a():\n    pass\n"
    assert append_text("import x\n", "def test_a():\n    pass") == (
        "import x\n\n\ndef test_a():\n    pass\n")
    assert append_text("a\r\n", "b\n", "\r\n") == "a\r\n\r\n\r\nb\r\n"
