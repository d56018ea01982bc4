"""The one `WorkspaceEdit` builder: per-file `TextEdit`s -> the shape this client accepts.

Every proposal of the model (a code action's rewrite, a next-edit suggestion, the edit agent's
files) reaches the user's files through here, so the rule is written once:

* **Versioned `documentChanges` whenever the client supports them.** Each file becomes a
  `TextDocumentEdit` whose `OptionalVersionedTextDocumentIdentifier` carries the version of the
  text the edits were computed for: an editor whose buffer moved on refuses the edit instead of
  applying model output at shifted positions. `None` (a file that was not open) means no
  check; the caller revalidates such files itself (`edits/workspace_edit.revalidate`).
  A client listing `resourceOperations` without `documentChanges` (Neovim 0.7-0.11) supports
  them: resource operations exist only inside `documentChanges`.
* **`changes`** (uri -> `TextEdit`s) only for a client without `documentChanges`. It has no
  versions, so the caller must check the text right before sending it; it cannot create files
  (`ValueError`: the caller leaves new files out and tells the user).
* **Change annotations**, when the caller passes one and the client supports them: every edit
  is an `AnnotatedTextEdit` (and a `CreateFile` carries the id), which makes VS Code show its
  refactor preview instead of applying silently.
* A new file is a `CreateFile` that never overwrites, followed by the `TextDocumentEdit`
  inserting its content (none for an empty file).

Sits at the top of the package, next to `textdiff.py`, so `actions/`, `edits/` and `features/`
can all use it without depending on one another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lsprotocol import types as lsp

from .positions import PositionEncoding, normalize_encoding


@dataclass(frozen=True)
class EditCapabilities:
    """What the client can receive in a `WorkspaceEdit`, reduced to the choices we make."""

    document_changes: bool = True
    create_files: bool = True
    change_annotations: bool = True
    position_encoding: str = PositionEncoding.UTF16

    @classmethod
    def from_client(
        cls,
        caps: lsp.ClientCapabilities | None,
        position_encoding: object = None,
    ) -> EditCapabilities:
        """Derive from `initialize` params; `position_encoding` is the one the server chose."""
        we = caps.workspace.workspace_edit if caps and caps.workspace else None
        resource_ops = set(we.resource_operations or []) if we else set()
        doc_changes = bool(we and (we.document_changes or resource_ops))
        return cls(
            document_changes=doc_changes,
            create_files=doc_changes and lsp.ResourceOperationKind.Create in resource_ops,
            change_annotations=bool(
                doc_changes and we is not None and we.change_annotation_support is not None
            ),
            position_encoding=normalize_encoding(position_encoding),
        )


@dataclass(frozen=True)
class FileEdit:
    """The edits of one file, with the version of the text they were computed for."""

    uri: str
    version: int | None
    edits: Sequence[lsp.TextEdit]
    create: bool = False
    """A new file: a `CreateFile` precedes the edits (which then insert its whole content)."""


def build_edit(
    files: Iterable[FileEdit],
    caps: EditCapabilities,
    *,
    annotation: lsp.ChangeAnnotation | None = None,
    annotation_id: str = "devstral-edit",
) -> lsp.WorkspaceEdit:
    """One `WorkspaceEdit` for `files`, in order, shaped for `caps` (module docstring)."""
    files = list(files)
    if not caps.document_changes:
        if any(f.create for f in files):
            raise ValueError("a client without documentChanges cannot create files")
        return lsp.WorkspaceEdit(changes={f.uri: list(f.edits) for f in files})
    ann_id = annotation_id if annotation is not None and caps.change_annotations else None
    changes: list[lsp.TextDocumentEdit | lsp.CreateFile] = []
    for f in files:
        if f.create:
            changes.append(lsp.CreateFile(
                uri=f.uri, options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                annotation_id=ann_id))
            if not f.edits:
                continue
        edits: list[lsp.TextEdit | lsp.AnnotatedTextEdit | lsp.SnippetTextEdit] = (
            list(f.edits) if ann_id is None else
            [lsp.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=ann_id)
             for e in f.edits])
        changes.append(lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=f.uri,
                                                                      version=f.version),
            edits=edits))
    edit = lsp.WorkspaceEdit(document_changes=changes)
    if ann_id is not None and annotation is not None:
        edit.change_annotations = {ann_id: annotation}
    return edit
