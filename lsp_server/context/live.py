"""Connects the context engine to the server's document store without per-keystroke cost.

The engine wants whole texts (for recent-edit diffs, similar windows and the symbol index),
but joining a 100k-line file costs milliseconds, too much for every keystroke. So edits only
mark a document dirty; its text is handed over when it is needed: before a completion is
built (already debounced and rate-limited) and on save. Huge files are sent as a window
around the cursor and stay out of the history and the index.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from .engine import ContextBlocked, ContextEngine
from .types import PromptContext

log = logging.getLogger(__name__)

HUGE_FILE_CHARS = 400_000
WINDOW_BEFORE = 24_000
WINDOW_AFTER = 8_000


class LiveDocument(Protocol):
    uri: str
    language_id: str

    @property
    def text(self) -> str: ...

    @property
    def length(self) -> int: ...

    def text_range(self, start: int, end: int) -> str: ...


class DocumentSource(Protocol):
    def get(self, uri: str) -> LiveDocument | None: ...

    def uris(self) -> list[str]: ...


class LiveContext:
    """The engine plus the dirty set; one per server."""

    def __init__(self, engine: ContextEngine, documents: DocumentSource) -> None:
        self.engine = engine
        self.documents = documents
        self._dirty: set[str] = set()
        self._blocked_logged: set[str] = set()

    # ----- document events ---------------------------------------------------------------
    def on_open(self, uri: str, text: str, language_id: str) -> None:
        if len(text) <= HUGE_FILE_CHARS:
            self.engine.on_open(uri, text, language_id)

    def on_change(self, uri: str) -> None:
        self._dirty.add(uri)

    def on_save(self, uri: str) -> None:
        self._sync(uri)
        self.engine.on_save(uri)

    def on_close(self, uri: str) -> None:
        self._dirty.discard(uri)
        self.engine.on_close(uri)

    def on_watched_file(self, uri: str, kind: int) -> None:
        self.engine.on_watched_file(uri, kind)

    def _sync(self, uri: str) -> None:
        if uri not in self._dirty:
            return
        self._dirty.discard(uri)
        doc = self.documents.get(uri)
        if doc is not None and doc.length <= HUGE_FILE_CHARS:
            self.engine.on_change(uri, doc.text, doc.language_id)

    def flush_dirty(self) -> None:
        for uri in list(self._dirty):
            self._sync(uri)

    # ----- requests ----------------------------------------------------------------------
    def blocked_reason(self, uri: str) -> str | None:
        return self.engine.blocked_reason(uri)

    def build(self, doc: LiveDocument, offset: int, budget_tokens: int, *,
              billed: bool = False, stable_suffix: bool = False) -> PromptContext | None:
        """Context for a completion at `offset`, or None when the document must not be sent
        (`billed`, `stable_suffix`: see `ContextEngine.build`)."""
        reason = self.engine.blocked_reason(doc.uri)
        if reason is not None:
            if doc.uri not in self._blocked_logged:
                self._blocked_logged.add(doc.uri)
                log.info("not sending %s to the model: %s", doc.uri, reason)
            return None
        self.flush_dirty()
        if doc.length > HUGE_FILE_CHARS:
            start = max(0, offset - WINDOW_BEFORE)
            text = doc.text_range(start, offset + WINDOW_AFTER)
            local = offset - start
        else:
            text, local = doc.text, offset
        open_docs: Mapping[str, tuple[str, str]] | None = None
        try:
            ctx = self.engine.build(uri=doc.uri, text=text, offset=local,
                                    language_id=doc.language_id, open_documents=open_docs,
                                    budget_tokens=budget_tokens, billed=billed,
                                    stable_suffix=stable_suffix)
        except ContextBlocked as exc:
            if doc.uri not in self._blocked_logged:
                self._blocked_logged.add(doc.uri)
                log.info("not sending %s to the model: %s", doc.uri, exc.reason)
            return None
        if doc.length > HUGE_FILE_CHARS:
            ctx.prefix_truncated = ctx.prefix_truncated or start > 0
            ctx.suffix_truncated = True
        return ctx

    def start(self, roots: list[Path]) -> None:
        self.engine.set_roots(roots)
        self.engine.start()

    def stop(self) -> None:
        self.engine.stop()
