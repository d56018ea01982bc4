"""The background indexer: one daemon thread keeps the symbol index current.

The first build walks the workspace roots; afterwards document events queue per-file updates
(`queue`), which the thread applies after a short debounce, so a burst of keystrokes reparses a
file once and parsing never runs on a completion request. Without a running thread (tests,
the CLI) updates are applied at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .grammars import language_for
from .symbols import SymbolIndex

log = logging.getLogger(__name__)


class BackgroundIndexer:
    """Builds `index` over `roots()` on a thread and applies queued file updates."""

    def __init__(self, index: SymbolIndex, roots: Callable[[], list[Path]], *,
                 enabled: bool = True, debounce_seconds: float = 0.15) -> None:
        self.index = index
        self.roots = roots
        self.enabled = enabled
        self.debounce_seconds = debounce_seconds
        self._pending: dict[Path, tuple[str | None, str | None]] = {}
        self._cond = threading.Condition()
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._rebuild = False
        self._thread: threading.Thread | None = None
        self._indexed = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (idempotent). Never blocks."""
        if not self.enabled or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._rebuild = True
        self._thread = threading.Thread(target=self._run, name="devstral-index", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Cancel indexing and wait (briefly) for the thread to finish."""
        self._stop.set()
        self._cancel.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_until_indexed(self, timeout: float | None = None) -> bool:
        """Block until the first full index build is done (for tests, benchmarks, `doctor`)."""
        return self._indexed.wait(timeout)

    def request_rebuild(self) -> None:
        """Cancel a running build and walk the roots again (no-op without a thread)."""
        if self._thread is None:
            return
        self._cancel.set()
        with self._cond:
            self._rebuild = True
            self._cond.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._rebuild and not self._pending and not self._stop.is_set():
                    self._cond.wait()
                rebuild = self._rebuild
                self._rebuild = False
            if self._stop.is_set():
                return
            if rebuild:
                self._cancel = threading.Event()
                try:
                    stats = self.index.build(self.roots(), self._cancel)
                    log.info(
                        "indexed %d files (%d definitions) in %.1f s",
                        stats.files,
                        stats.definitions,
                        stats.seconds,
                    )
                    if stats.complete:
                        self._indexed.set()
                except Exception:
                    log.exception("index build failed")
                    self._indexed.set()
            time.sleep(self.debounce_seconds)
            self.flush()

    def flush(self) -> None:
        """Apply queued index updates now (the background thread calls this too)."""
        with self._cond:
            pending = self._pending
            self._pending = {}
        for path, (text, language_id) in pending.items():
            try:
                if text is None and not path.exists():
                    self.index.remove(path)
                else:
                    self.index.update(path, text, language_id)
            except Exception:
                log.exception("index update failed for %s", path)

    def queue(self, path: Path | None, text: str | None, language_id: str | None) -> None:
        """Reindex `path` from `text` (None: from the disk, or drop it if it is gone)."""
        if path is None or not self.enabled or language_for(path, language_id) is None:
            return
        with self._cond:
            self._pending[path] = (text, language_id)
            self._cond.notify_all()
        if self._thread is None:
            self.flush()

    def remove(self, path: Path) -> None:
        """Drop a deleted file from the index and from the queue."""
        self.index.remove(path)
        with self._cond:
            self._pending.pop(path, None)

    def rules_changed(self, excluded: Callable[[Path], str | None]) -> None:
        """The ignore rules changed: rebuild, or (without a thread) drop what is now
        excluded."""
        if self._thread is not None:
            self.request_rebuild()
        else:
            for file in list(self.index._files):
                if excluded(file):
                    self.index.remove(file)
