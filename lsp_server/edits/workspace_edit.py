"""The overlay's difference as one LSP `WorkspaceEdit` the editor can review, apply and undo.

The shape per client capability (versioned `documentChanges`, the `changes` fallback, change
annotations, `CreateFile`) is the one builder's, `edit_builder.py`: here each changed file is
diffed into minimal edits (`textdiff.py`) computed against the text it held when the agent read
it, with that open buffer's version (files that were not open carry `None`: no version check),
and every edit points at one annotation with `needs_confirmation=True` when the client has them.

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

from ..edit_builder import EditCapabilities, FileEdit, build_edit
from ..textdiff import text_edits
from .overlay import FileChange

__all__ = [
    "ANNOTATION_ID",
    "BuiltEdit",
    "EditCapabilities",
    "build_workspace_edit",
    "client_can_create_files",
    "revalidate",
    "stale_message",
]

ANNOTATION_ID = "devstral-edit"


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
    files: list[FileEdit] = []
    skipped: list[Path] = []
    for ch in items:
        if ch.old == ch.new:  # (an empty new file has old None, new "")
            continue
        if ch.old is None and not (caps.create_files and caps.document_changes):
            skipped.append(ch.path)
            continue
        files.append(FileEdit(uri=to_uri(ch.path), version=None if ch.old is None else ch.version,
                              edits=text_edits(ch.old or "", ch.new, enc),
                              create=ch.old is None))

    message = None
    if skipped:
        names = ", ".join(p.name for p in skipped)
        message = (
            f"This editor cannot create files through the language server, so the proposed new "
            f"file(s) were left out: {names}."
        )
    if not files:
        return BuiltEdit(edit=None, files=[], skipped=skipped, message=message)
    annotation = lsp.ChangeAnnotation(label=label, needs_confirmation=True,
                                      description=description)
    edit = build_edit(files, caps, annotation=annotation, annotation_id=ANNOTATION_ID)
    return BuiltEdit(edit=edit, files=[f.uri for f in files], skipped=skipped, message=message)


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
