"""The one WorkspaceEdit builder's contract: versioned documentChanges whenever the client has
them, `changes` otherwise (which cannot create files), annotations only when both sides want."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp

from lsp_server.edit_builder import EditCapabilities, FileEdit, build_edit

EDIT = lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0),
                                    end=lsp.Position(line=0, character=1)), new_text="y")
ANN = lsp.ChangeAnnotation(label="Devstral", needs_confirmation=True)


def test_document_changes_carry_the_version_the_edits_were_computed_for() -> None:
    edit = build_edit([FileEdit("file:///a", 7, [EDIT]), FileEdit("file:///b", None, [EDIT])],
                      EditCapabilities(change_annotations=False), annotation=ANN)
    assert edit.changes is None and edit.change_annotations is None
    a, b = edit.document_changes or []
    assert isinstance(a, lsp.TextDocumentEdit) and isinstance(b, lsp.TextDocumentEdit)
    assert (a.text_document.uri, a.text_document.version) == ("file:///a", 7)
    assert b.text_document.version is None and a.edits == [EDIT]


def test_changes_fallback_has_no_versions_and_cannot_create() -> None:
    caps = EditCapabilities(document_changes=False)
    edit = build_edit([FileEdit("file:///a", 7, [EDIT])], caps, annotation=ANN)
    assert edit.document_changes is None and edit.changes == {"file:///a": [EDIT]}
    with pytest.raises(ValueError):
        build_edit([FileEdit("file:///new", None, [EDIT], create=True)], caps)


def test_annotations_and_created_files() -> None:
    edit = build_edit([FileEdit("file:///new", None, [EDIT], create=True),
                       FileEdit("file:///empty", None, [], create=True)],
                      EditCapabilities(), annotation=ANN, annotation_id="x")
    create, content, empty = edit.document_changes or []
    assert isinstance(create, lsp.CreateFile) and create.annotation_id == "x"
    assert create.options == lsp.CreateFileOptions(overwrite=False, ignore_if_exists=False)
    assert isinstance(content, lsp.TextDocumentEdit)
    assert all(isinstance(e, lsp.AnnotatedTextEdit) and e.annotation_id == "x"
               for e in content.edits)
    assert isinstance(empty, lsp.CreateFile) and empty.uri == "file:///empty"
    assert edit.change_annotations == {"x": ANN}
    plain = build_edit([FileEdit("file:///a", 1, [EDIT])], EditCapabilities())
    assert plain.change_annotations is None  # no annotation asked for: plain TextEdits
