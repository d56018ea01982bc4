"""The workspace's symbol index: name -> definitions, kept current while the user works.

Completion context asks "where is `foo` defined?" on every keystroke, so the answer is a dict
look-up under a lock, never a parse; the parsing (`definitions.extract`) happens when a file is
opened, changed or found by the background build (`indexer.py` runs `build` on a thread, which
is why queries are safe while a build runs). Files the privacy guard excludes are dropped, never
indexed, so nothing from them can reach a prompt; the workspace walk is bounded and prunes
VCS, dependency and virtual-env folders, because the workspace is untrusted and may be huge.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..fs_limits import read_regular, walk_files
from ..privacy.policy import PrivacyGuard
from .definitions import Definition, FileSymbols, extract
from .grammars import EXTENSIONS, language_for

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".idea",
        ".vscode",
        "site-packages",
        "dist-packages",
        ".next",
        ".nuxt",
        "bower_components",
        ".cargo",
        ".eggs",
    }
)


@dataclass
class IndexStats:
    files: int = 0
    definitions: int = 0
    skipped: int = 0
    seconds: float = 0.0
    complete: bool = False


class SymbolIndex:
    """Name -> definitions over the workspace; safe to query while a build runs."""

    def __init__(
        self,
        guard: PrivacyGuard,
        *,
        max_files: int = 5000,
        max_file_bytes: int = 512_000,
    ) -> None:
        self.guard = guard
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self._files: dict[Path, FileSymbols] = {}
        self._by_name: dict[str, list[Definition]] = {}
        self._lock = threading.RLock()
        self.stats = IndexStats()

    # -- queries
    def lookup(self, name: str) -> list[Definition]:
        with self._lock:
            return list(self._by_name.get(name, ()))

    def file(self, path: Path) -> FileSymbols | None:
        with self._lock:
            return self._files.get(path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    # -- updates
    def _put(self, symbols: FileSymbols) -> None:
        with self._lock:
            self._drop(symbols.path)
            self._files[symbols.path] = symbols
            for d in symbols.definitions:
                self._by_name.setdefault(d.name, []).append(d)

    def _drop(self, path: Path) -> None:
        old = self._files.pop(path, None)
        if old is None:
            return
        for d in old.definitions:
            bucket = self._by_name.get(d.name)
            if bucket is not None:
                bucket[:] = [x for x in bucket if x.path != path]
                if not bucket:
                    del self._by_name[d.name]

    def remove(self, path: Path) -> None:
        with self._lock:
            self._drop(Path(os.path.abspath(path)))

    def update(
        self, path: Path, text: str | None = None, language_id: str | None = None
    ) -> FileSymbols | None:
        """(Re)index one file from `text`, or from disk when `text` is None.

        Files excluded from context (secret, `.devstralignore`d, `.gitignore`d) are dropped
        rather than indexed, so nothing from them can reach a prompt.
        """
        path = Path(os.path.abspath(path))
        language = language_for(path, language_id)
        if language is None or self.guard.excluded_reason(path):
            self.remove(path)
            return None
        mtime = 0.0
        if text is None:
            try:
                # Regular files only, bounded: a `dev.py` linked to /dev/stdin or /dev/zero,
                # or a FIFO, is skipped instead of hanging or flooding the indexer.
                data: str | bytes = read_regular(path, self.max_file_bytes)
                mtime = path.stat().st_mtime
            except OSError:
                self.remove(path)
                return None
        else:
            if len(text) > self.max_file_bytes:
                self.remove(path)
                return None
            data = text
        try:
            symbols = extract(path, data, language)
        except Exception:
            log.debug("cannot index %s", path, exc_info=True)
            return None
        symbols.mtime = mtime
        self._put(symbols)
        return symbols

    # -- background build
    def iter_files(self, roots: Sequence[Path], cancel: threading.Event) -> Iterator[Path]:
        """Indexable files under `roots`, pruning VCS/dependency/venv and ignored folders.

        Bounded like every workspace walk (`fs_limits.walk_files`: depth, files, folders, no
        directory links), so a 300-level folder chain cannot keep the indexer busy for minutes.
        """

        def prune(sub: Path, name: str) -> bool:
            if name in SKIP_DIRS or (name.startswith(".") and name != ".github"):
                return True
            return (sub / "pyvenv.cfg").exists() or self.guard.dir_excluded(sub)

        def keep(_path: Path, name: str) -> bool:
            return os.path.splitext(name)[1].lower() in EXTENSIONS

        for root in roots:
            yield from walk_files(root, prune=prune, keep_file=keep, cancel=cancel,
                                  max_files=max(self.max_files * 4, 1000))

    def build(
        self,
        roots: Sequence[Path],
        cancel: threading.Event | None = None,
        on_progress: Callable[[IndexStats], None] | None = None,
    ) -> IndexStats:
        """Index every file under `roots` (bounded by `max_files`); returns the stats."""
        cancel = cancel or threading.Event()
        stats = IndexStats()
        self.stats = stats
        started = time.perf_counter()
        for path in self.iter_files(roots, cancel):
            if cancel.is_set():
                break
            if stats.files >= self.max_files:
                stats.skipped += 1
                continue
            symbols = self.update(path)
            if symbols is None:
                stats.skipped += 1
            else:
                stats.files += 1
                stats.definitions += len(symbols.definitions)
            if on_progress is not None and stats.files % 500 == 0:
                on_progress(stats)
            time.sleep(0)  # let request threads in between files
        stats.seconds = time.perf_counter() - started
        stats.complete = not cancel.is_set()
        return stats
