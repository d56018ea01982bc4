"""From a cursor to a cleaned suggestion: caches, debounce, in-flight reuse, the model, cleanup.

Both `textDocument/inlineCompletion` and `textDocument/completion` (and the `complete` CLI
command) go through `CompletionPipeline.complete`, so they share caches, backoff and
behaviour. Order of checks, cheapest first: typed-through cache, context + LRU cache, backoff,
in-flight reuse, debounce, and only then a model call. Requests the user invoked skip backoff
and debounce.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..config import Endpoint, Settings
from ..context.types import PromptContext
from ..model.client import BackendError, ModelClient
from ..model.prompts import (
    CompletionOptions,
    ModelRequest,
    build_completion_request,
    strip_assistant_prefix,
)
from .cache import ANCHOR_TAIL, LRUCache, Read, TypedThroughCache, request_key, text_key
from .debounce import AdaptiveDebounce
from .health import BackendHealth
from .postprocess import StopDetector, clean_completion, decide_multiline
from .speculation import SPECULATIVE_DELAY_S, speculate

log = logging.getLogger(__name__)

Source = Literal["model", "typed", "cache", "inflight"]


class UserChannel(Protocol):
    """How the pipeline talks to the user: one popup per outage, the rest to the log."""

    def show_error(self, message: str) -> None: ...


class StatusHooks(Protocol):
    """What the pipeline tells the status line (`devstral/status`) beyond the gateway's
    call events: a request skipped by backoff, a file that must not be sent."""

    def backoff(self, seconds: float) -> None: ...

    def document_withheld(self, uri: str) -> None: ...


@dataclass
class Suggestion:
    text: str
    source: Source
    multiline: bool = False
    alternatives: list[str] = field(default_factory=list)


@dataclass
class Stats:
    """Counters for `devstral/stats`, the benchmark and `doctor`."""

    requests: int = 0
    model_calls: int = 0
    model_calls_cancelled: int = 0
    model_calls_failed: int = 0
    early_stops: int = 0
    typed_hits: int = 0
    cache_hits: int = 0
    inflight_joins: int = 0
    superseded: int = 0
    backoff_skips: int = 0
    speculative_starts: int = 0
    last_timings: dict[str, float] = field(default_factory=dict)
    last_prompt_tokens: int = 0


class _Flight:
    """A model call that several requests may wait on; cancelled when nobody waits."""

    def __init__(self, task: asyncio.Task[str], offset: int, tail: str, *,
                 keep: bool = False) -> None:
        self.task = task
        self.offset = offset
        self.tail = tail
        self.waiters = 0
        self.partial = [""]
        """The raw text streamed so far (`_call_model` updates it)."""
        self.keep = keep
        """An automatic call outlives its requests: VS Code cancels the previous request on
        every keystroke, and the next one, typed along the prediction, joins the call; the
        next request that does not extend it cancels it (`_cancel_inflight`)."""

    async def wait(self) -> str:
        self.waiters += 1
        try:
            return await asyncio.shield(self.task)
        finally:
            self.waiters -= 1
            if self.waiters == 0 and not self.task.done() and not self.keep:
                self.task.cancel()

    def extended_by(self, read: Read, offset: int) -> str | None:
        """The characters typed since this flight started, if the new position extends it."""
        if self.task.done() or offset < self.offset or offset - self.offset > 200:
            return None
        if read(self.offset - ANCHOR_TAIL, self.offset) != self.tail:
            return None
        typed = read(self.offset, offset)
        if "\n" in typed:
            return None
        # What the model streamed so far (raw, before cleanup) already contradicts the typing:
        # the caller cancels the call instead of waiting for an answer it cannot use.
        seen = self.partial[0].lstrip(" \t")
        if seen and not (seen.startswith(typed.lstrip(" \t"))
                         or typed.lstrip(" \t").startswith(seen)):
            return None
        return typed


ContextBuilder = Callable[[str, int], PromptContext | None]
"""(uri, offset) → context, or None when the document must not be sent."""


class CompletionPipeline:
    def __init__(
        self,
        *,
        settings: Callable[[], Settings],
        endpoint: Callable[[], Endpoint],
        model: Callable[[], ModelClient],
        build_context: ContextBuilder,
        user: UserChannel,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: Callable[[], str | None] = lambda: None,
        status: StatusHooks | None = None,
        in_transit: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """`clock` and `sleep` are the time the pipeline lives in (a fake clock in unit tests
        drives debounce and backoff without waiting). `in_transit` waits for the editor's
        messages already on their way in (`inbox.Inbox.drained`): a debounce that ran out
        must see an edit the editor sent before it did."""
        self._settings = settings
        self._endpoint = endpoint
        self._model = model
        self._build_context = build_context
        self._budget = budget
        self.status = status
        self._in_transit = in_transit
        self.user = user
        self.clock = clock
        self.sleep = sleep
        self.health = BackendHealth(clock=clock)
        self.debounce = AdaptiveDebounce(clock=clock)
        self.typed = TypedThroughCache()
        self.lru = LRUCache()
        self.stats = Stats()
        self._seq: dict[str, int] = {}
        self._inflight: dict[str, _Flight] = {}
        self._shown_problems: set[str] = set()
        self._last_was_delete: dict[str, bool] = {}

    # ----- notifications from document sync -------------------------------------------
    def note_edit(self, uri: str, *, deletion: bool) -> None:
        self.debounce.note_edit(uri)
        self._last_was_delete[uri] = deletion
        self._seq[uri] = self._seq.get(uri, 0) + 1

    def forget(self, uri: str) -> None:
        self.typed.forget(uri)
        self.debounce.forget(uri)
        self._seq.pop(uri, None)
        self._last_was_delete.pop(uri, None)
        flight = self._inflight.pop(uri, None)
        if flight is not None and not flight.task.done():
            flight.task.cancel()

    def settings_changed(self) -> None:
        """Another model or prompt gives other answers: nothing cached still holds."""
        self.lru.clear()
        self.typed.clear()
        self._shown_problems.clear()
        self.health.record_success()

    # ----- the pipeline ------------------------------------------------------------------
    async def complete(
        self, uri: str, read: Read, offset: int, *, invoked: bool
    ) -> Suggestion | None:
        """Best suggestion at `offset`, or None (nothing to say, superseded, or failed)."""
        started = self.clock()
        self.stats.requests += 1
        settings = self._settings()
        self.debounce.base_ms = settings.debounce_ms

        if not invoked and self._last_was_delete.get(uri):
            self._cancel_inflight(uri)  # a call kept for typing along is moot now
            return None  # no suggestions while the user is deleting

        rest = self.typed.lookup(uri, read, offset)
        if rest is not None:
            self.stats.typed_hits += 1
            self.stats.last_timings = {"total_ms": (self.clock() - started) * 1000}
            return Suggestion(rest, "typed", multiline="\n" in rest)

        endpoint = self._endpoint()
        if (problem := endpoint.problem()) is not None:
            if problem not in self._shown_problems:
                # Shown (and logged) once per problem, not on every keystroke.
                self._shown_problems.add(problem)
                self.user.show_error(problem)
            else:
                log.debug("no completion: %s", problem)
            return None

        if (reached := self._budget()) is not None:
            # Automatic requests pause with one message; an invoked one says why, each time.
            if invoked or reached not in self._shown_problems:
                self._shown_problems.add(reached)
                self.user.show_error(reached)
            return None

        # Cheap key on the text around the cursor: a repeated position is answered before the
        # debounce without building the context.
        window_key = text_key(uri, read(offset - 3000, offset), read(offset, offset + 1000))
        hit = self.lru.get(window_key)
        if hit is not None:
            return self._cache_hit(uri, read, offset, hit)

        seq = self._seq.get(uri, 0)
        debounce_s = 0.0
        if not invoked and not self.health.allow_automatic():
            self.stats.backoff_skips += 1
            if self.status is not None:
                self.status.backoff(self.health.backoff_remaining())
            return None
        # A call already running for this text answers this request too, invoked or not: an
        # editor asking for ghost text and for menu items at once must not pay twice.
        joined = await self._join_inflight(uri, read, offset)
        if joined is not None:
            return joined
        if not invoked:
            self._cancel_inflight(uri)  # the user moved on: close that stream now
            debounce_s = max(0.0, self.debounce.delay_s(uri) - (self.clock() - started))
            if debounce_s > SPECULATIVE_DELAY_S and speculate(
                    endpoint.base_url, read(offset - 500, offset).rsplit("\n", 1)[-1],
                    endpoint.provider, endpoint.model or ""):
                debounce_s = SPECULATIVE_DELAY_S  # see speculation.py: a local endpoint
                self.stats.speculative_starts += 1
            if debounce_s:
                await self.sleep(debounce_s)
                if self._in_transit is not None and self._seq.get(uri, 0) == seq:
                    await self._in_transit()
            if self._seq.get(uri, 0) != seq:
                self.stats.superseded += 1
                return None
            if debounce_s and (joined := await self._join_inflight(uri, read, offset)):
                return joined  # another request for this text started the call meanwhile

        # Only a request that survived the debounce pays for the context.
        prepare_started = self.clock()
        ctx = self._build_context(uri, offset)
        if ctx is None:
            if self.status is not None:
                self.status.document_withheld(uri)
            return None
        request, multiline = self.prepare_request(ctx, read, offset)
        self.stats.last_prompt_tokens = ctx.token_counts.get("total", 0)
        key = request_key(request.body)
        hit = self.lru.get(key)
        if hit is not None:
            self.lru.put(window_key, hit)
            return self._cache_hit(uri, read, offset, hit)
        prepared_s = self.clock() - prepare_started
        self._cancel_inflight(uri)

        model_started = self.clock()
        partial = [""]
        task = asyncio.ensure_future(
            self._call_model(request, ctx, multiline, settings, partial))
        flight = _Flight(task, offset, read(offset - ANCHOR_TAIL, offset), keep=not invoked)
        flight.partial = partial
        self._inflight[uri] = flight
        task.add_done_callback(lambda t: self._store(t, uri, read, flight, (key, window_key)))
        try:
            suggestion = await flight.wait()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # counted once, in _call_model
            return None  # superseded by a newer request for this document
        except BackendError as exc:
            self._report_failure(exc)
            return None
        finally:
            if self._inflight.get(uri) is flight and flight.task.done():
                self._inflight.pop(uri, None)
        model_s = self.clock() - model_started
        self.debounce.note_latency(model_s)
        if self.health.record_success():
            log.info("the model endpoint answers again; completions resume")
        total_s = self.clock() - started
        self.stats.last_timings = {
            "total_ms": total_s * 1000,
            "prepare_ms": prepared_s * 1000,
            "debounce_ms": debounce_s * 1000,
            "model_ms": model_s * 1000,
            "overhead_ms": (total_s - debounce_s - model_s) * 1000,
        }
        if not suggestion:
            return None  # not cached: an empty answer is worth asking again (`_store` caches)
        alternatives = []
        if "\n" in suggestion.strip("\n"):
            first = suggestion.split("\n", 1)[0]
            if first.strip():
                alternatives.append(first)
        return Suggestion(suggestion, "model", multiline=multiline, alternatives=alternatives)

    def _store(self, task: asyncio.Task[str], uri: str, read: Read, flight: _Flight,
               keys: tuple[str, ...]) -> None:
        """Cache a finished call's answer even when every request that waited on it was
        cancelled (VS Code cancels on each keystroke): typing along it is then answered from
        the typed-through cache. Not when the text before its position changed since."""
        if task.cancelled() or task.exception() is not None or not task.result():
            return
        if read(flight.offset - ANCHOR_TAIL, flight.offset) != flight.tail:
            return
        for key in keys:
            self.lru.put(key, task.result())
        if self._inflight.get(uri) is flight or uri not in self._inflight:
            self.typed.remember(uri, read, flight.offset, task.result())

    def _cache_hit(self, uri: str, read: Read, offset: int, text: str) -> Suggestion:
        self.stats.cache_hits += 1
        self.typed.remember(uri, read, offset, text)
        return Suggestion(text, "cache", multiline="\n" in text)

    def _cancel_inflight(self, uri: str) -> None:
        old = self._inflight.pop(uri, None)
        if old is not None and not old.task.done():
            old.task.cancel()
            self.stats.superseded += 1

    def prepare_request(
        self, ctx: PromptContext, read: Read, offset: int
    ) -> tuple[ModelRequest, bool]:
        """The request for a built context (and whether it asks for several lines); the CLI's
        `prompt` uses it too, so it prints exactly what `complete` would send."""
        settings, endpoint = self._settings(), self._endpoint()
        multiline = self._multiline(settings, read, offset)
        opts = CompletionOptions(
            model=endpoint.model or "",
            mode=endpoint.prompt_mode,
            multiline=multiline,
            max_tokens=settings.max_tokens if multiline else min(settings.max_tokens, 64),
            temperature=settings.temperature,
            # a str from the preset table, one of PrefixStyle's values by construction
            prefix_style=endpoint.prefix_style,  # type: ignore[arg-type]
            fim_style=endpoint.fim_style,
            layout=settings.prompt_layout,
        )
        return build_completion_request(ctx, opts), multiline

    def _multiline(self, settings: Settings, read: Read, offset: int) -> bool:
        if settings.multiline != "auto":
            return settings.multiline == "always"
        before = read(offset - 2000, offset).rsplit("\n", 1)[-1]
        after = read(offset, offset + 2000).split("\n", 1)[0].rstrip("\r")
        return decide_multiline(before, after)

    async def _join_inflight(self, uri: str, read: Read, offset: int) -> Suggestion | None:
        flight = self._inflight.get(uri)
        if flight is None:
            return None
        typed = flight.extended_by(read, offset)
        if typed is None:
            return None
        self.stats.inflight_joins += 1
        try:
            suggestion = await flight.wait()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            return None
        except BackendError:
            return None  # reported by the request that started the call
        if suggestion.startswith(typed) and len(suggestion) > len(typed):
            return Suggestion(suggestion[len(typed):], "inflight")
        return None

    async def _call_model(
        self, request: ModelRequest, ctx: PromptContext, multiline: bool, settings: Settings,
        partial: list[str] | None = None,
    ) -> str:
        """Stream, stop as soon as cleanup knows the answer is complete, and clean it."""
        self.stats.model_calls += 1
        anchor = request.assistant_prefix
        detector = StopDetector(
            prefix=ctx.prefix, suffix=ctx.suffix, language_id=ctx.language_id,
            multiline=multiline,
        )

        def should_stop(accumulated: str) -> bool:
            if anchor and anchor.startswith(accumulated):
                return False  # still echoing the prefix
            text = strip_assistant_prefix(accumulated, anchor)
            if partial is not None:
                partial[0] = text
            return detector.feed(text)

        try:
            result = await self._model().stream_completion(
                request, timeout_s=settings.timeout_ms / 1000, should_stop=should_stop
            )
        except asyncio.CancelledError:
            self.stats.model_calls_cancelled += 1
            raise
        except BackendError:
            self.stats.model_calls_failed += 1
            raise
        if result.stopped_early:
            self.stats.early_stops += 1
        raw = strip_assistant_prefix(result.text, anchor)
        return clean_completion(
            raw, prefix=ctx.prefix, suffix=ctx.suffix, language_id=ctx.language_id,
            multiline=multiline,
        )

    def _report_failure(self, exc: BackendError) -> None:
        if exc.kind == "budget":  # refused before any request: not an outage
            if exc.message not in self._shown_problems:
                self._shown_problems.add(exc.message)
                self.user.show_error(exc.message)
            return
        tell = self.health.record_failure(exc.message, exc.retry_after)
        wait = self.health.backoff_remaining()
        log.warning("completion failed (%s): %s; automatic requests wait %.1fs",
                    exc.kind, exc.message, wait)
        if tell:
            hint = ""
            if exc.kind == "auth":
                hint = " Check the API key (DEVSTRAL_API_KEY or the `apiKey` setting)."
            elif exc.kind == "not_found":
                hint = " Check the `model` and `baseUrl` settings; `devstral-lsp doctor` helps."
            self.user.show_error(
                f"Devstral: {exc.message}.{hint} Completions pause and resume by themselves."
            )
