"""The overlay's difference as one LSP `WorkspaceEdit` the editor can review, apply and undo.

Shape, by client capability (`workspace.workspaceEdit`):

* **documentChanges** — `TextDocumentEdit`s with `OptionalVersionedTextDocumentIdentifier`: the
  version is the one the open buffer had when the agent started (the text the edits were computed
  against), so an editor whose buffer moved on rejects the edit instead of corrupting it; files
  that were not open carry `None` (no version check). New files are a `CreateFile`
  (never overwriting) followed by a `TextDocumentEdit` inserting their content.
  A client that lists `resourceOperations` but not `documentChanges` (Neovim 0.7–0.11 do exactly
  that) is treated as supporting `documentChanges`: resource operations exist only inside
  `documentChanges`, and Neovim's `apply_workspace_edit` has handled them since 0.5.
* **changeAnnotations** (`changeAnnotationSupport`) — every edit is an `AnnotatedTextEdit` (and
  the `CreateFile` is annotated) pointing at one annotation with `needs_confirmation=True`, which
  makes VS Code show its refactor preview instead of applying silently.
* **neither** — `changes` (uri → `TextEdit`s). It has no versions, so the server must check
  the files right before sending it.

Whatever the shape, `revalidate` runs right before `workspace/applyEdit`: every edited file is
compared with what it held when it was read, so an edit never lands on text it was not computed
for (a file that was not open has no version for the editor to check).

New files when the client cannot create them (no `"create"` in `resourceOperations`, or the
`changes` fallback, which cannot express creation): they are **left out** and reported in
`BuiltEdit.skipped` with a message for the user. Sending a `TextEdit` for a URI that does not exist
is undefined behaviour in LSP (VS Code fails the whole edit; other clients silently create an
unsaved buffer somewhere), so we don't rely on it. The agent is also told up front
(`Overlay(allow_create=False)` → the `create` command answers with an error), so in practice
the model puts new code into existing files and nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsprotocol import types as lsp

from .overlay import FileChange
from .textdiff import UTF16, _norm_encoding, text_edits

ANNOTATION_ID = "devstral-edit"


@dataclass(frozen=True)
class EditCapabilities:
    """What the client can receive in a `WorkspaceEdit`, reduced to the three choices we make."""

    document_changes: bool = True
    create_files: bool = True
    change_annotations: bool = True
    position_encoding: str = UTF16

    @classmethod
    def from_client(
        cls,
        caps: lsp.ClientCapabilities | None,
        position_encoding: str | lsp.PositionEncodingKind | None = None,
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
            position_encoding=_norm_encoding(position_encoding),
        )


@dataclass
class BuiltEdit:
    """The edit to send (None when there is nothing to apply) and what the user should know."""

    edit: lsp.WorkspaceEdit | None
    files: list[str] = field(default_factory=list)
    """URIs of the files the edit touches, in order."""
    skipped: list[Path] = field(default_factory=list)
    """New files that could not be included (the client cannot create files)."""
    message: str | None = None
    """Explanation for the user when something was skipped."""


def _default_uri(path: Path) -> str:
    return path.as_uri()


def build_workspace_edit(
    changes: Mapping[Path, FileChange] | Iterable[FileChange],
    caps: EditCapabilities,
    *,
    label: str = "Devstral edit",
    description: str | None = None,
    uri_for: Callable[[Path], str] | None = None,
) -> BuiltEdit:
    """Turn `Overlay.changed_files()` into one `WorkspaceEdit` for this client.

    `uri_for` maps a real path to the URI the editor knows it by (pass the document store's
    lookup so open buffers get exactly their URI); defaults to `Path.as_uri()`.
    """
    items = list(changes.values()) if isinstance(changes, Mapping) else list(changes)
    items.sort(key=lambda c: c.path)
    to_uri = uri_for or _default_uri
    enc = caps.position_encoding
    annotate = caps.document_changes and caps.change_annotations
    ann_id = ANNOTATION_ID if annotate else None

    def edits_for(old: str, new: str) -> list[lsp.TextEdit | lsp.AnnotatedTextEdit]:
        plain = text_edits(old, new, enc)
        if ann_id is None:
            return list(plain)
        return [
            lsp.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=ann_id)
            for e in plain
        ]

    files: list[str] = []
    skipped: list[Path] = []
    doc_changes: list[lsp.TextDocumentEdit | lsp.CreateFile] = []
    plain_changes: dict[str, list[lsp.TextEdit]] = {}
    for ch in items:
        if ch.old == ch.new:  # (an empty new file has old None, new "")
            continue
        uri = to_uri(ch.path)
        if ch.old is None:
            if not caps.create_files or not caps.document_changes:
                skipped.append(ch.path)
                continue
            doc_changes.append(
                lsp.CreateFile(
                    uri=uri,
                    options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                    annotation_id=ann_id,
                )
            )
            if ch.new:
                doc_changes.append(
                    lsp.TextDocumentEdit(
                        text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                            uri=uri, version=None
                        ),
                        edits=edits_for("", ch.new),
                    )
                )
            files.append(uri)
            continue
        if caps.document_changes:
            doc_changes.append(
                lsp.TextDocumentEdit(
                    text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=ch.version
                    ),
                    edits=edits_for(ch.old, ch.new),
                )
            )
        else:
            plain_changes[uri] = text_edits(ch.old, ch.new, enc)
        files.append(uri)

    message = None
    if skipped:
        names = ", ".join(p.name for p in skipped)
        message = (
            f"This editor cannot create files through the language server, so the proposed new "
            f"file(s) were left out: {names}."
        )
    if not files:
        return BuiltEdit(edit=None, files=[], skipped=skipped, message=message)
    if caps.document_changes:
        edit = lsp.WorkspaceEdit(document_changes=doc_changes)
        if ann_id is not None:
            edit.change_annotations = {
                ann_id: lsp.ChangeAnnotation(
                    label=label, needs_confirmation=True, description=description
                )
            }
    else:
        edit = lsp.WorkspaceEdit(changes=plain_changes)
    return BuiltEdit(edit=edit, files=files, skipped=skipped, message=message)


STALE_MESSAGE = (
    "Devstral: the edit was not applied because {names} changed since Devstral read "
    "{them}; run it again."
)


def revalidate(
    changes: Iterable[FileChange],
    open_documents: Mapping[Path, tuple[str, int]],
    *,
    max_file_bytes: int = 4_000_000,
) -> tuple[list[FileChange], list[Path]]:
    """Check every change against what its file holds *now*, right before sending the edit.

    Each `FileChange.old` is what the file looked like when it was read (an open buffer with
    its version, or the disk). Returns the changes to send and the paths that moved on:

    * read from an open buffer: stale unless the buffer still has that version (or, once
      closed, the disk holds the same text);
    * read from disk: stale unless the file - in the buffer the user may have opened since,
      else on disk - still holds exactly that text; a file opened since gets the buffer's
      version, so the editor itself refuses the edit if the user types before it lands;
    * a new file: stale if something exists there now.

    The edits were computed for the old text, so a stale file is never patched: the caller
    refuses the whole edit with `STALE_MESSAGE` (half a multi-file change is worse than none).
    """
    from ..fs_limits import read_regular

    def disk(path: Path) -> str | None:
        try:
            return read_regular(path, max_file_bytes).decode("utf-8").removeprefix("\ufeff")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return "\x00unreadable"  # never equal to a text we computed an edit for

    fresh: list[FileChange] = []
    stale: list[Path] = []
    for ch in changes:
        now = open_documents.get(ch.path)
        if ch.old is None:
            if now is not None or os.path.lexists(ch.path):
                stale.append(ch.path)
            else:
                fresh.append(ch)
            continue
        if now is not None:
            text, version = now
            if ch.version is not None and version == ch.version:
                fresh.append(ch)
            elif text.removeprefix("\ufeff") == ch.old:
                fresh.append(replace(ch, version=version))
            else:
                stale.append(ch.path)
            continue
        if disk(ch.path) == ch.old:
            fresh.append(replace(ch, version=None))
        else:
            stale.append(ch.path)
    return fresh, stale


def stale_message(stale: Iterable[Path]) -> str:
    paths = list(stale)
    names = ", ".join(p.name for p in paths)
    return STALE_MESSAGE.format(names=names, them="it" if len(paths) == 1 else "them")


def client_can_create_files(caps: EditCapabilities) -> bool:
    """Pass as `Overlay(allow_create=...)` so the model is told before it tries."""
    return caps.document_changes and caps.create_files
