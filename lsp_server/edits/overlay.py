"""An in-memory layer of file contents the edit agent reads and writes instead of the disk.

The model must see what the user sees — the unsaved text of open buffers — and its edits must reach
the user's files only through the editor, as a reviewable `WorkspaceEdit`. So every read goes
overlay → open buffer snapshot → disk, every write stays here, and nothing ever touches the disk.
The open documents are snapshotted (text and version) when the overlay is made: the final edit is
computed against those texts and carries those versions, so an editor refuses it if the user typed
in the meantime instead of applying edits at shifted positions.

The model always sees `\\n` line endings (that is what it was trained on and what it writes in
`old_str`/`new_str`); a file that uses CRLF throughout is converted back when the change is
reported, so the resulting edit keeps the file's line endings.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..fs_limits import UnreadableFile, is_regular_file, read_regular, walk_files
from .paths import SKIPPED_DIR_NAMES, PathRefused, WorkspacePaths, _norm

log = logging.getLogger(__name__)

IsAllowed = Callable[[Path], "str | None"]
"""Returns a refusal reason for a path (ignored, secret…), or None when the model may see it."""


MAX_LIST_SCAN = 2_000
"""Directory entries one `view` of a folder looks at (per folder level)."""


def allow_all(_path: Path) -> str | None:
    """Default policy: everything inside the roots may be seen (the server injects the real one)."""
    return None


@dataclass
class _File:
    original: str | None
    """Snapshot in the model's form (`\\n` endings when `crlf`); None: did not exist."""
    version: int | None
    """The open document's version at snapshot time; None for files known only from disk."""
    crlf: bool = False
    current: str | None = None
    """None: deleted/nonexistent (only reachable by undoing a create)."""
    history: list[str | None] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.current != self.original


@dataclass(frozen=True)
class FileChange:
    """One file's difference, with the file's own line endings restored."""

    path: Path
    old: str | None
    """The snapshot text (None: new file)."""
    new: str
    version: int | None
    """The open document's version the edit was computed against (None: not open)."""


def _to_model_text(text: str) -> tuple[str, bool]:
    """(`\\n`-normalised text, True) for CRLF-only files; mixed or LF files stay untouched."""
    crlf = text.count("\r\n")
    if crlf and crlf == text.count("\n") == text.count("\r"):
        return text.replace("\r\n", "\n"), True
    return text, False


def _from_model_text(text: str, crlf: bool) -> str:
    if not crlf:
        return text
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


class Overlay:
    """Files as the agent sees and edits them. Not thread-safe; one agent run at a time.

    `roots`: `(name, path)` workspace folders. `open_documents`: real path → `(text, version)` of
    every open buffer. `is_allowed`: refusal policy for ignored and secret files (applied to
    directories too, so a refused directory is never walked). `max_file_bytes`: larger files are
    refused, both on disk and as edit results. `allow_create`: False when the client cannot
    create files (no `create` resource operation), so the model is told up front.
    """

    def __init__(
        self,
        roots: Sequence[tuple[str, Path]],
        open_documents: Mapping[Path, tuple[str, int]] | None = None,
        is_allowed: IsAllowed | None = None,
        max_file_bytes: int = 1_000_000,
        *,
        allow_create: bool = True,
        documents_only: bool = False,
    ) -> None:
        self.paths = WorkspacePaths(roots)
        self._open = {_norm(p): tv for p, tv in (open_documents or {}).items()}
        self.documents_only = documents_only
        """No workspace folder: `roots` only name the open documents' folders, and the agent
        may see and edit exactly the open documents (nothing else on disk, no new files)."""
        if documents_only:
            allow_create = False
        self._is_allowed = is_allowed or allow_all
        self.max_file_bytes = max_file_bytes
        self.allow_create = allow_create
        self._files: dict[Path, _File] = {}

    # ---- path checks -------------------------------------------------------------------------

    def resolve(self, model_path: str) -> Path:
        """Model path → real path, refusing escapes and disallowed files (`PathRefused`)."""
        real = self.paths.resolve(model_path)
        if self.documents_only and real not in self._open and not self._holds_open(real):
            raise PathRefused(self.documents_only_note(f"The path {model_path} cannot be accessed"))
        self.check_allowed(real, model_path)
        return real

    def documents_only_note(self, head: str = "Note") -> str:
        """Why only open files are reachable, naming them (for tool results)."""
        names = ", ".join(sorted(self.display(p) for p in self._open)) or "(none)"
        return (f"{head}: no workspace folder is open in the editor, so only the files open in "
                f"the editor can be viewed or edited: {names}.")

    def check_allowed(self, real: Path, shown: str | None = None) -> None:
        shown = shown or self.display(real)
        reason = self._is_allowed(real)
        if reason:
            raise PathRefused(f"The path {shown} cannot be accessed: {reason}.")
        # A file inside an ignored directory is refused even when the policy only matches dirs.
        root = self.paths.root_of(real)
        if root is not None:
            parent = real.parent
            while parent != root.path and root.path in parent.parents:
                reason = self._is_allowed(parent)
                if reason:
                    raise PathRefused(f"The path {shown} cannot be accessed: {reason}.")
                parent = parent.parent

    def display(self, real: Path) -> str:
        """The `/workspace/…` name of a real path."""
        return self.paths.to_model(real)

    # ---- reading -----------------------------------------------------------------------------

    def _load(self, real: Path) -> _File:
        f = self._files.get(real)
        if f is not None:
            return f
        shown = self.display(real)
        if real in self._open:
            text, version = self._open[real]
            if len(text.encode("utf-8", "surrogatepass")) > self.max_file_bytes:
                raise PathRefused(self._too_large(shown, len(text.encode("utf-8", "replace"))))
            model_text, crlf = _to_model_text(text)
            f = _File(original=model_text, version=version, crlf=crlf, current=model_text)
        elif self.documents_only:
            f = _File(original=None, version=None, current=None)
            self._files[real] = f
            return f
        elif os.path.lexists(real) and not is_regular_file(real):
            if real.is_dir():
                raise PathRefused(f"The path {shown} is a directory.")
            raise PathRefused(f"The path {shown} is not a regular file and cannot be viewed or "
                              "edited.")
        elif real.exists():
            try:
                data = read_regular(real, self.max_file_bytes)
            except UnreadableFile as exc:
                raise PathRefused(f"The file {shown} cannot be viewed or edited: {exc.reason}."
                                  ) from None
            if b"\x00" in data[:8192]:
                raise PathRefused(
                    f"The file {shown} appears to be binary and cannot be viewed or edited."
                )
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PathRefused(
                    f"The file {shown} is not UTF-8 text and cannot be viewed or edited."
                ) from None
            if text.startswith("\ufeff"):
                # Editors hide the BOM and LSP positions don't count it; keep it out of the
                # model's view and out of the diff.
                text = text[1:]
            model_text, crlf = _to_model_text(text)
            f = _File(original=model_text, version=None, crlf=crlf, current=model_text)
        else:
            f = _File(original=None, version=None, current=None)
        self._files[real] = f
        return f

    def _too_large(self, shown: str, size: int) -> str:
        return (
            f"The file {shown} is too large ({size} bytes; the limit is {self.max_file_bytes} "
            "bytes) and cannot be viewed or edited."
        )

    def is_file(self, real: Path) -> bool:
        f = self._files.get(real)
        if f is not None:
            return f.current is not None
        if self.documents_only:
            return real in self._open
        return real in self._open or is_regular_file(real)

    def is_dir(self, real: Path) -> bool:
        if real.is_dir() and (not self.documents_only or self._holds_open(real)):
            return True
        prefix = real
        return any(
            f.current is not None and prefix in p.parents for p, f in self._files.items()
        ) or any(prefix in p.parents for p in self._open)

    def read(self, real: Path) -> str:
        """Current text (model form) of an existing file; `PathRefused` if there is none."""
        f = self._load(real)
        if f.current is None:
            raise PathRefused(
                f"The path {self.display(real)} does not exist. Please provide a valid path."
            )
        return f.current

    def peek(self, real: Path) -> str | None:
        """Current text for searching, without caching disk files in the overlay.

        A search may scan thousands of files; only files the agent views or edits are kept.
        Returns None for missing, binary, non-UTF-8 or oversized files.
        """
        f = self._files.get(real)
        if f is not None:
            return f.current
        if real in self._open:
            return _to_model_text(self._open[real][0])[0]
        if self.documents_only:
            return None
        try:
            data = read_regular(real, self.max_file_bytes)
        except OSError:
            return None
        if b"\x00" in data[:8192]:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return _to_model_text(text.removeprefix("\ufeff"))[0]

    # ---- writing (memory only) ---------------------------------------------------------------

    def write(self, real: Path, text: str) -> None:
        """Replace an existing file's text, remembering the previous one for `undo`."""
        f = self._load(real)
        if f.current is None:
            raise PathRefused(
                f"The path {self.display(real)} does not exist. Please provide a valid path."
            )
        self._check_size(real, text)
        f.history.append(f.current)
        f.current = text

    def create(self, real: Path, text: str) -> None:
        """Create a file that does not exist (on disk, in a buffer or in the overlay)."""
        if self.is_dir(real):
            raise PathRefused(
                f"The path {self.display(real)} is a directory. Cannot overwrite it using "
                "command `create`."
            )
        f = self._load(real)
        if f.current is not None:
            raise PathRefused(
                f"File already exists at: {self.display(real)}. Cannot overwrite files using "
                "command `create`."
            )
        for parent in real.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise PathRefused(
                        f"Cannot create {self.display(real)}: {self._safe_display(parent)} is a "
                        "file, not a directory."
                    )
                break
        self._check_size(real, text)
        f.history.append(None)
        f.current = text

    def _safe_display(self, real: Path) -> str:
        try:
            return self.display(real)
        except PathRefused:
            return str(real)

    def _check_size(self, real: Path, text: str) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_file_bytes:
            raise PathRefused(
                f"The new content of {self.display(real)} would be {size} bytes; the limit is "
                f"{self.max_file_bytes} bytes."
            )

    def undo(self, real: Path) -> str | None:
        """Revert the last edit of one file; returns the restored text (None: file removed)."""
        f = self._files.get(real)
        if f is None or not f.history:
            raise PathRefused(f"No edit history found for {self.display(real)}.")
        f.current = f.history.pop()
        return f.current

    # ---- listing -----------------------------------------------------------------------------

    def _holds_open(self, directory: Path) -> bool:
        return any(directory == p or directory in p.parents for p in self._open)

    def _visible(self, path: Path) -> bool:
        if self.documents_only and not self._holds_open(path):
            return False
        if path.name in SKIPPED_DIR_NAMES and (path.is_dir() or not path.exists()):
            return False
        try:
            self.paths.resolve(str(path))
        except PathRefused:
            return False
        return not self._is_allowed(path)

    def list_dir(self, real: Path, depth: int = 2) -> tuple[list[tuple[Path, bool]], int]:
        """Entries `(path, is_dir)` up to `depth` levels below `real`, sorted, hidden excluded.

        Returns the entries and the number of hidden entries directly in `real` (OpenHands
        mentions those). Files created in the overlay are included, undone creations are not.
        """
        entries: dict[Path, bool] = {}
        hidden = 0

        def walk(d: Path, level: int) -> None:
            nonlocal hidden
            try:
                with os.scandir(d) as it:
                    # A folder with a million entries must not stall the agent: look at a
                    # bounded number (the view shows at most a few hundred anyway).
                    children = list(itertools.islice(it, MAX_LIST_SCAN))
            except OSError:
                children = []
            for ch in children:
                if len(entries) >= MAX_LIST_SCAN:
                    return
                p = Path(ch.path)
                if ch.name.startswith("."):
                    if level == 1 and not self.documents_only:
                        hidden += 1
                    continue
                if not self._visible(p):
                    continue
                f = self._files.get(p)
                if f is not None and f.current is None and not ch.is_dir():
                    continue
                is_dir = ch.is_dir()
                entries[p] = is_dir
                if is_dir and level < depth:
                    walk(p, level + 1)

        walk(real, 1)
        for p, f in self._files.items():
            if f.current is None or real not in p.parents:
                continue
            rel = p.relative_to(real).parts
            if any(part.startswith(".") for part in rel):
                continue
            for i in range(1, min(len(rel), depth) + 1):
                sub = real.joinpath(*rel[:i])
                entries.setdefault(sub, i < len(rel))
        return sorted(entries.items()), hidden

    def iter_files(self, real: Path, max_files: int = 20_000) -> Iterator[Path]:
        """Searchable files below `real` (or `real` itself): disk ∪ buffers ∪ overlay, allowed only.

        Skips hidden and bulky directories and anything `is_allowed` refuses; deterministic order.
        """
        if self.is_file(real):
            yield real
            return
        seen: set[Path] = set()
        if not self.documents_only:

            def prune(sub: Path, name: str) -> bool:
                return name.startswith(".") or name in SKIPPED_DIR_NAMES or not self._visible(sub)

            def keep(p: Path, name: str) -> bool:
                if name.startswith(".") or not self._visible(p):
                    return False
                f = self._files.get(p)
                return f is None or f.current is not None

            for p in walk_files(real, prune=prune, keep_file=keep, max_files=max_files):
                seen.add(p)
                yield p
        extra = sorted(
            p
            for p in [*self._open, *(q for q, f in self._files.items() if f.current is not None)]
            if p not in seen and (real in p.parents) and self._visible(p)
        )
        for p in extra:
            if p in seen:
                continue
            seen.add(p)
            yield p

    # ---- results -----------------------------------------------------------------------------

    def changed_files(self) -> dict[Path, FileChange]:
        """Every file whose current text differs from its snapshot, line endings restored.

        A file created then removed again by undo does not appear, nor does one whose path is
        refused now. Deletions cannot happen (the tools have no delete command).
        """
        out: dict[Path, FileChange] = {}
        for p, f in sorted(self._files.items()):
            if not f.changed or f.current is None:
                continue
            try:
                # Defence in depth: every path got here through `resolve`, but the disk may
                # have changed since (a symlink swapped in); a refused path never leaves.
                self.paths.resolve(str(p))
                self.check_allowed(p)
            except PathRefused as exc:
                log.warning("dropping the change to %s: %s", p, exc)
                continue
            old = None if f.original is None else _from_model_text(f.original, f.crlf)
            out[p] = FileChange(
                path=p, old=old, new=_from_model_text(f.current, f.crlf), version=f.version
            )
        return out
