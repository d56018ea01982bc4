"""One next-edit suggestion: region, prompt, one model call, reply, edits; with the same
cache, backoff and cancellation rules as completions.

The engine knows nothing of LSP: the protocol module hands it a snapshot of the document
(text and version), the context engine's snippets and diffs, and an `ask` function that calls
the model; it answers with `NextEdit` (document offsets) or None.

* Cache: the same prompt gets the same answer without a call (undo, moving back and forth).
* Cancellation on typing: `note_edit` cancels the document's call in flight (its HTTP stream is
  closed); the request then answers None, as does one whose document changed meanwhile.
* Backoff: automatic requests wait while the backend is failing (the completion pipeline's
  `BackendHealth`, shared), requests the user invoked still try.
* Secrets: everything of the current file goes through a `SecretVault`; the model sees
  placeholders and its rewrite gets the real values back, so a key is neither sent nor lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..completion.cache import LRUCache, request_key
from ..completion.health import BackendHealth
from ..context.recent import LatestEdit, region_diff
from ..privacy.vault import SecretVault
from ..text import normalize_newlines as _norm
from ..textdiff import Span
from .prompt import CURSOR, NesInput, OtherFile, build_messages
from .region import Region, approx_tokens, select_region
from .reply import parse_rewrite
from .suggest import last_edit, propose

log = logging.getLogger(__name__)


@dataclass
class Answer:
    """What one model call returned."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


Ask = Callable[[list[dict[str, Any]], int], Awaitable[Answer]]
"""`ask(messages, max_tokens)`: one chat call; raises the backend's error on failure."""


class NesBackendError(Exception):
    """Wraps a failed model call for the caller (message fit to show the user)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass
class NesRequest:
    uri: str
    version: int
    text: str
    cursor: int
    language_id: str
    path: str
    invoked: bool = False
    snippets: Sequence[OtherFile] = ()
    recent_edits: Sequence[str] = ()
    """Committed diffs of the context engine (already redacted), oldest first."""
    latest: LatestEdit | None = None
    """The document's latest burst (the edit in progress), if the history has one."""
    count: Callable[[str], int] = approx_tokens
    max_region_tokens: int = 600
    model: str = ""
    """Part of the cache key: another model gives other answers."""


@dataclass
class NextEdit:
    """A suggestion: `spans` (offsets into `text`, the document at `version`) applied together."""

    id: str
    uri: str
    version: int
    text: str
    spans: list[Span]
    region: Region
    source: str = "model"
    usage: dict[str, int] = field(default_factory=dict)
    elapsed_ms: float = 0.0


@dataclass
class NesStats:
    requests: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    suggestions: int = 0
    empty: int = 0
    unparsable: int = 0
    cancelled: int = 0
    failed: int = 0
    backoff_skips: int = 0
    shown: int = 0
    accepted: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    last_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)





def _hide_around(vault: SecretVault, text: str, cut: int) -> tuple[str, int]:
    """`text` through the vault, and where offset `cut` lands in the result (a secret that
    straddles `cut` moves it to the start of that line)."""
    whole = vault.hide(text)
    head = vault.hide(text[:cut])
    if whole.startswith(head):
        return whole, len(head)
    line_start = text.rfind("\n", 0, cut) + 1
    return whole, len(vault.hide(text[:line_start]))


class NextEditEngine:
    def __init__(self, ask: Callable[[], Ask], *, health: BackendHealth | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ask = ask
        self.health = health or BackendHealth(clock=clock)
        self.clock = clock
        self.cache = LRUCache(capacity=128)
        self.stats = NesStats()
        self._inflight: dict[str, asyncio.Task[Answer]] = {}
        self.latest: dict[str, NextEdit] = {}
        """Per document, the last suggestion made (code actions and inline completion offer
        it again while the document is at its version)."""
        self.last_request_body: list[dict[str, Any]] | None = None

    # ----- document events -----------------------------------------------------------------
    def note_edit(self, uri: str) -> None:
        """The user typed: the call in flight for `uri` is for a text that is gone."""
        task = self._inflight.pop(uri, None)
        if task is not None and not task.done():
            task.cancel()
        self.latest.pop(uri, None)

    def forget(self, uri: str) -> None:
        self.note_edit(uri)

    def clear(self) -> None:
        """Settings changed: cached answers came from another model or prompt."""
        self.cache.clear()

    def suggestion_for(self, uri: str, version: int) -> NextEdit | None:
        found = self.latest.get(uri)
        return found if found is not None and found.version == version else None

    def find(self, suggestion_id: str) -> NextEdit | None:
        for edit in self.latest.values():
            if edit.id == suggestion_id:
                return edit
        return None

    # ----- the suggestion ------------------------------------------------------------------
    def prepare(self, req: NesRequest) -> tuple[Region, NesInput, SecretVault, str, str]:
        """The region, the prompt input, the vault, and the region/context as the model sees
        them (for parsing its answer)."""
        region = select_region(req.text, req.cursor, count=req.count,
                               max_tokens=req.max_region_tokens)
        vault = SecretVault()
        shown_region, cursor = _hide_around(vault, _norm(region.text[:region.cursor_in_region])
                                            + _norm(region.text[region.cursor_in_region:]),
                                            len(_norm(region.text[:region.cursor_in_region])))
        before, after = vault.hide(_norm(region.before)), vault.hide(_norm(region.after))
        diffs = list(req.recent_edits)
        if req.latest is not None and req.latest.pending:
            diff = region_diff(req.latest.label or req.path, _norm(req.latest.before),
                               _norm(req.latest.after))
            if diff:
                diffs.append(vault.hide(diff))
        inp = NesInput(path=req.path, language=req.language_id, region=shown_region,
                       cursor=cursor, before=before, after=after, recent_edits=diffs,
                       snippets=list(req.snippets))
        return region, inp, vault, before, after

    async def suggest(self, req: NesRequest) -> NextEdit | None:
        started = self.clock()
        self.stats.requests += 1
        region, inp, vault, before, after = self.prepare(req)
        messages = build_messages(inp)
        key = request_key({"nes": messages, "model": req.model})
        answer_text = self.cache.get(key)
        usage: dict[str, int] = {}
        source = "cache"
        if answer_text is not None:
            self.stats.cache_hits += 1
        else:
            if not req.invoked and not self.health.allow_automatic():
                self.stats.backoff_skips += 1
                return None
            answer = await self._call(req.uri, messages, req.count(inp.region))
            if answer is None:
                return None
            answer_text, source = answer.text, "model"
            usage = {"promptTokens": answer.prompt_tokens,
                     "completionTokens": answer.completion_tokens,
                     "cachedTokens": answer.cached_tokens}
            self.cache.put(key, answer_text)
        self.last_request_body = messages
        rewritten = parse_rewrite(answer_text, region=inp.region.replace(CURSOR, ""),
                                  before=before, after=after)
        if rewritten is None:
            self.stats.unparsable += 1
            log.info("next edit: the answer is not a rewrite of the region; no suggestion")
            return None
        new_region = vault.reveal(rewritten)
        if "\r\n" in region.text:
            new_region = new_region.replace("\n", "\r\n")
        latest = req.latest
        last = last_edit(latest.before, latest.after) if (
            latest is not None and latest.after == req.text) else None
        spans = propose(req.text, region, new_region, last=last, language_id=req.language_id)
        elapsed = (self.clock() - started) * 1000
        self.stats.last_ms = elapsed
        if not spans:
            self.stats.empty += 1
            self.latest.pop(req.uri, None)
            return None
        self.stats.suggestions += 1
        result = NextEdit(id=uuid.uuid4().hex[:12], uri=req.uri, version=req.version,
                          text=req.text, spans=spans, region=region, source=source,
                          usage=usage, elapsed_ms=elapsed)
        self.latest[req.uri] = result
        return result

    async def _call(self, uri: str, messages: list[dict[str, Any]], region_tokens: int
                    ) -> Answer | None:
        old = self._inflight.pop(uri, None)
        if old is not None and not old.done():
            old.cancel()
        max_tokens = min(4096, region_tokens * 2 + 128)
        self.stats.model_calls += 1
        task = asyncio.ensure_future(self._ask()(messages, max_tokens))
        self._inflight[uri] = task
        try:
            answer = await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            self.stats.cancelled += 1
            if not task.done():
                task.cancel()  # the request itself was cancelled: close the stream
            if current is not None and current.cancelling():
                raise
            return None  # superseded by typing or a newer request
        except NesBackendError as exc:
            self.stats.failed += 1
            self.health.record_failure(exc.message, exc.retry_after)
            raise
        finally:
            if self._inflight.get(uri) is task:
                self._inflight.pop(uri, None)
        self.health.record_success()
        self.stats.tokens_in += answer.prompt_tokens
        self.stats.tokens_out += answer.completion_tokens
        return answer
