"""WorkspaceEdit shapes for real captured client capabilities, and applying them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from lsprotocol.converters import get_converter

from lsp_server.edits.overlay import FileChange, Overlay
from lsp_server.edits.tool_specs import EDITOR
from lsp_server.edits.tools import ToolBox
from lsp_server.edits.workspace_edit import (
    ANNOTATION_ID,
    EditCapabilities,
    build_workspace_edit,
    client_can_create_files,
    revalidate,
)
from lsp_server.textdiff import apply_text_edits

CAPS_DIR = Path(__file__).resolve().parents[1] / "data" / "client-capabilities"

VSCODE_LIKE: dict[str, Any] = {
    "workspace": {
        "workspaceEdit": {
            "documentChanges": True,
            "resourceOperations": ["create", "rename", "delete"],
            "failureHandling": "textOnlyTransactional",
            "normalizesLineEndings": True,
            "changeAnnotationSupport": {"groupsOnLabel": True},
        }
    }
}
BARE: dict[str, Any] = {"workspace": {"applyEdit": True}}


def client_caps(name: str) -> lsp.ClientCapabilities:
    if name == "vscode-like":
        raw = VSCODE_LIKE
    elif name == "bare":
        raw = BARE
    else:
        path = CAPS_DIR / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(path)  # shipped in tests/data: never skip silently
        raw = json.loads(path.read_text())
        raw = raw.get("capabilities", raw)
    return get_converter().structure(raw, lsp.ClientCapabilities)


def apply_workspace_edit(
    edit: lsp.WorkspaceEdit,
    files: dict[str, str],
    versions: dict[str, int],
    encoding: str = "utf-16",
) -> dict[str, str]:
    """What a conforming client does: check versions, create files, apply edits."""
    out = dict(files)
    if edit.document_changes is not None:
        for change in edit.document_changes:
            if isinstance(change, lsp.CreateFile):
                assert change.uri not in out, "CreateFile must not overwrite"
                out[change.uri] = ""
            elif isinstance(change, lsp.TextDocumentEdit):
                uri = change.text_document.uri
                version = change.text_document.version
                if version is not None:
                    assert versions.get(uri) == version, "stale version"
                out[uri] = apply_text_edits(out[uri], list(change.edits), encoding)  # type: ignore[arg-type]
            else:  # pragma: no cover
                raise AssertionError(f"unexpected change {change}")
    for uri, edits in (edit.changes or {}).items():
        out[uri] = apply_text_edits(out[uri], edits, encoding)
    return out


@pytest.fixture
def scenario(tmp_path: Path) -> tuple[Path, Overlay]:
    ws = tmp_path / "proj"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "a.py").write_text("def foo():\n    return 1\n")
    (ws / "pkg" / "b.py").write_text("from pkg.a import foo\r\n\r\nprint(foo())\r\n")
    open_docs = {ws / "pkg" / "a.py": ("def foo():\n    return 1  # unsaved 😀\n", 12)}
    ov = Overlay([("proj", ws)], open_docs)
    tb = ToolBox(ov)
    for args in (
        {
            "command": "str_replace",
            "path": "/workspace/pkg/a.py",
            "old_str": "foo",
            "new_str": "bar",
        },
        {
            "command": "str_replace",
            "path": "/workspace/pkg/b.py",
            "old_str": "import foo",
            "new_str": "import bar",
        },
        {
            "command": "str_replace",
            "path": "/workspace/pkg/b.py",
            "old_str": "(foo())",
            "new_str": "(bar())",
        },
        {
            "command": "create",
            "path": "/workspace/pkg/c.py",
            "file_text": "from pkg.a import bar\n",
        },
    ):
        assert not tb.execute(EDITOR, args).error
    return ws, ov


def _files(ws: Path) -> tuple[dict[str, str], dict[str, int]]:
    files = {
        (ws / "pkg" / "a.py").as_uri(): "def foo():\n    return 1  # unsaved 😀\n",
        (ws / "pkg" / "b.py").as_uri(): (ws / "pkg" / "b.py").read_bytes().decode(),
    }
    return files, {(ws / "pkg" / "a.py").as_uri(): 12}


EXPECTED_A = "def bar():\n    return 1  # unsaved 😀\n"
EXPECTED_B = "from pkg.a import bar\r\n\r\nprint(bar())\r\n"
EXPECTED_C = "from pkg.a import bar\n"


def test_capabilities_derivation() -> None:
    vs = EditCapabilities.from_client(client_caps("vscode-like"))
    assert (vs.document_changes, vs.create_files, vs.change_annotations) == (True, True, True)
    bare = EditCapabilities.from_client(client_caps("bare"))
    assert (bare.document_changes, bare.create_files, bare.change_annotations) == (
        False,
        False,
        False,
    )
    assert not client_can_create_files(bare)
    assert EditCapabilities.from_client(None).document_changes is False


def test_vscode_like_annotated_versioned_with_create(scenario: tuple[Path, Overlay]) -> None:
    ws, ov = scenario
    caps = EditCapabilities.from_client(client_caps("vscode-like"))
    built = build_workspace_edit(
        ov.changed_files(), caps, label="Devstral: rename foo", description="2 files"
    )
    edit = built.edit
    assert edit is not None and edit.changes is None and edit.document_changes is not None
    assert built.skipped == [] and built.message is None
    a_uri, b_uri, c_uri = ((ws / "pkg" / n).as_uri() for n in ("a.py", "b.py", "c.py"))
    assert built.files == [a_uri, b_uri, c_uri]
    kinds = [type(c).__name__ for c in edit.document_changes]
    assert kinds == ["TextDocumentEdit", "TextDocumentEdit", "CreateFile", "TextDocumentEdit"]
    a_edit, b_edit, create, c_edit = edit.document_changes
    assert isinstance(a_edit, lsp.TextDocumentEdit) and isinstance(b_edit, lsp.TextDocumentEdit)
    assert a_edit.text_document.version == 12  # the open buffer's version
    assert b_edit.text_document.version is None  # only on disk
    assert all(isinstance(e, lsp.AnnotatedTextEdit) for e in a_edit.edits)
    assert all(e.annotation_id == ANNOTATION_ID for e in a_edit.edits)  # type: ignore[union-attr]
    # Minimal: "foo" -> "bar" is a 3-character replacement on line 0.
    assert [(e.range.start.line, e.range.start.character, e.new_text) for e in a_edit.edits] == [
        (0, 4, "bar")
    ]
    assert isinstance(create, lsp.CreateFile) and create.uri == c_uri
    assert create.options is not None and create.options.overwrite is False
    assert create.annotation_id == ANNOTATION_ID
    assert isinstance(c_edit, lsp.TextDocumentEdit) and c_edit.text_document.version is None
    assert edit.change_annotations == {
        ANNOTATION_ID: lsp.ChangeAnnotation(
            label="Devstral: rename foo", needs_confirmation=True, description="2 files"
        )
    }
    files, versions = _files(ws)
    result = apply_workspace_edit(edit, files, versions)
    assert result == {a_uri: EXPECTED_A, b_uri: EXPECTED_B, c_uri: EXPECTED_C}
    # It serialises to the wire shape clients expect.
    wire = get_converter().unstructure(edit)
    assert wire["changeAnnotations"][ANNOTATION_ID]["needsConfirmation"] is True
    assert wire["documentChanges"][2] == {
        "kind": "create",
        "uri": c_uri,
        "options": {"overwrite": False, "ignoreIfExists": False},
        "annotationId": ANNOTATION_ID,
    }
    assert wire["documentChanges"][1]["textDocument"] == {"uri": b_uri, "version": None}


@pytest.mark.parametrize("name", ["neovim-0.11.4", "neovim-0.7.2"])
def test_neovim_document_changes_without_annotations(
    scenario: tuple[Path, Overlay], name: str
) -> None:
    ws, ov = scenario
    caps = EditCapabilities.from_client(client_caps(name), "utf-8")
    assert (caps.document_changes, caps.create_files, caps.change_annotations) == (
        True,
        True,
        False,
    )
    edit = build_workspace_edit(ov.changed_files(), caps).edit
    assert edit is not None and edit.document_changes is not None
    assert edit.change_annotations is None
    for change in edit.document_changes:
        if isinstance(change, lsp.TextDocumentEdit):
            assert all(type(e) is lsp.TextEdit for e in change.edits)
        else:
            assert isinstance(change, lsp.CreateFile) and change.annotation_id is None
    files, versions = _files(ws)
    result = apply_workspace_edit(edit, files, versions, "utf-8")
    assert result[(ws / "pkg" / "a.py").as_uri()] == EXPECTED_A
    assert result[(ws / "pkg" / "c.py").as_uri()] == EXPECTED_C


def test_eglot_document_changes_without_create(scenario: tuple[Path, Overlay]) -> None:
    ws, ov = scenario
    caps = EditCapabilities.from_client(client_caps("emacs-eglot-1.9"))
    assert (caps.document_changes, caps.create_files, caps.change_annotations) == (
        True,
        False,
        False,
    )
    assert not client_can_create_files(caps)
    built = build_workspace_edit(ov.changed_files(), caps)
    assert built.edit is not None and built.edit.document_changes is not None
    assert not any(isinstance(c, lsp.CreateFile) for c in built.edit.document_changes)
    assert built.skipped == [ws / "pkg" / "c.py"]
    assert built.message is not None and "c.py" in built.message
    files, versions = _files(ws)
    result = apply_workspace_edit(built.edit, files, versions)
    assert result[(ws / "pkg" / "a.py").as_uri()] == EXPECTED_A
    assert result[(ws / "pkg" / "b.py").as_uri()] == EXPECTED_B
    assert (ws / "pkg" / "c.py").as_uri() not in result


def test_bare_client_gets_changes(scenario: tuple[Path, Overlay]) -> None:
    ws, ov = scenario
    caps = EditCapabilities.from_client(client_caps("bare"))
    built = build_workspace_edit(ov.changed_files(), caps)
    edit = built.edit
    assert edit is not None and edit.document_changes is None and edit.changes is not None
    assert edit.change_annotations is None
    assert set(edit.changes) == {(ws / "pkg" / n).as_uri() for n in ("a.py", "b.py")}
    assert built.skipped == [ws / "pkg" / "c.py"]
    files, versions = _files(ws)
    result = apply_workspace_edit(edit, files, versions)
    assert result[(ws / "pkg" / "b.py").as_uri()] == EXPECTED_B


def test_stale_version_is_rejected_by_client(scenario: tuple[Path, Overlay]) -> None:
    ws, ov = scenario
    edit = build_workspace_edit(ov.changed_files(), EditCapabilities()).edit
    assert edit is not None
    files, versions = _files(ws)
    versions[(ws / "pkg" / "a.py").as_uri()] = 13  # the user typed meanwhile
    with pytest.raises(AssertionError, match="stale version"):
        apply_workspace_edit(edit, files, versions)
    a = ws / "pkg" / "a.py"
    assert revalidate(ov.changed_files().values(), {a: ("typed\n", 13)})[1] == [a]


def test_nothing_changed_gives_no_edit(tmp_path: Path) -> None:
    built = build_workspace_edit({}, EditCapabilities())
    assert built.edit is None and built.files == []
    same = FileChange(path=tmp_path / "x.py", old="a", new="a", version=1)
    assert build_workspace_edit([same], EditCapabilities()).edit is None


def test_only_new_files_on_client_without_create(tmp_path: Path) -> None:
    new = FileChange(path=tmp_path / "n.py", old=None, new="x\n", version=None)
    built = build_workspace_edit([new], EditCapabilities(create_files=False))
    assert built.edit is None and built.skipped == [tmp_path / "n.py"] and built.message


def test_uri_for_and_position_encoding(tmp_path: Path) -> None:
    ch = FileChange(path=tmp_path / "x.py", old="😀a\n", new="😀b\n", version=3)
    caps = EditCapabilities(change_annotations=False, position_encoding="utf-32")
    built = build_workspace_edit([ch], caps, uri_for=lambda p: "file:///custom/" + p.name)
    assert built.files == ["file:///custom/x.py"]
    assert built.edit is not None and built.edit.document_changes is not None
    change = built.edit.document_changes[0]
    assert isinstance(change, lsp.TextDocumentEdit)
    assert change.edits[0].range.start.character == 1  # one code point in utf-32


def test_undone_new_file_is_absent(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    ws.mkdir()
    ov = Overlay([("w", ws)])
    tb = ToolBox(ov)
    tb.execute(EDITOR, {"command": "create", "path": "/workspace/n.py", "file_text": "x"})
    tb.execute(EDITOR, {"command": "undo_edit", "path": "/workspace/n.py"})
    assert build_workspace_edit(ov.changed_files(), EditCapabilities()).edit is None


def test_empty_new_file_is_create_only(tmp_path: Path) -> None:
    new = FileChange(path=tmp_path / "empty.py", old=None, new="", version=None)
    built = build_workspace_edit([new], EditCapabilities())
    assert built.edit is not None and built.edit.document_changes is not None
    [change] = built.edit.document_changes
    assert isinstance(change, lsp.CreateFile) and built.files == [(tmp_path / "empty.py").as_uri()]
