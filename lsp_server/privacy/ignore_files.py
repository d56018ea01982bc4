"""`.gitignore` and `.devstralignore` files: gitignore syntax, per folder, loaded lazily.

Its own module because the ignore semantics (patterns relative to their folder, deeper files
win, nothing inside an ignored folder can be re-included) are a rule set of their own, and the
files are untrusted workspace content: read bounded and regular-files-only, a malformed one is
skipped with a warning rather than failing requests. `policy.PrivacyGuard` decides with them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..fs_limits import read_small_text

if TYPE_CHECKING:
    import pathspec

log = logging.getLogger(__name__)

IGNORE_FILE = ".devstralignore"
GITIGNORE_FILE = ".gitignore"


def build_spec(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    """A gitignore matcher for `lines` (pathspec is imported on first use, not at startup)."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(list(lines))


class IgnoreTree:
    """Per-directory ignore files under one root, loaded lazily and cached.

    Git semantics: patterns in `dir/.gitignore` are relative to `dir`, deeper files win over
    shallower ones, and nothing inside an ignored directory can be re-included.
    """

    def __init__(self, root: Path, filename: str) -> None:
        self.root = root
        self.filename = filename
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._specs.clear()

    def _spec(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        with self._lock:
            if directory in self._specs:
                return self._specs[directory]
        spec = None
        # Bounded and regular files only: an ignore file linked to /dev/zero or a FIFO reads
        # as absent instead of hanging the server or filling its memory.
        text = read_small_text(directory / self.filename)
        if text is not None:
            try:
                spec = build_spec(text.splitlines())
            except Exception:  # malformed pattern: ignore the file rather than fail requests
                log.warning("cannot parse %s", directory / self.filename, exc_info=True)
        with self._lock:
            self._specs[directory] = spec
        return spec

    def _check(self, rel_parts: Sequence[str], is_dir: bool) -> bool | None:
        """Decision for one path (no ancestors): deepest ignore file with a match wins."""
        decision: bool | None = None
        directory = self.root
        for depth in range(len(rel_parts)):
            spec = self._spec(directory)
            if spec is not None:
                rel = "/".join(rel_parts[depth:]) + ("/" if is_dir else "")
                result = spec.check_file(rel)
                if result.include is not None:
                    decision = result.include
            directory = directory / rel_parts[depth]
        return decision

    def matches(self, rel_parts: Sequence[str], is_dir: bool = False) -> bool:
        """Whether the path, or a folder above it, is ignored (an ignored folder hides all)."""
        for end in range(1, len(rel_parts)):
            if self._check(rel_parts[:end], is_dir=True):
                return True
        return bool(self._check(rel_parts, is_dir=is_dir))
