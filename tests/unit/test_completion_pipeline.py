"""The completion pipeline's state machine in-process: a fake clock and a fake model.

No server, no HTTP, no sleeping: the clock only moves when a test advances it, the model answers
when a test says so. Covered: deletion suppression, superseding (debounce and newer requests),
in-flight join, cancellation accounting, backoff (exponential and Retry-After), one message per
outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from lsp_server.completion.pipeline import CompletionPipeline
from lsp_server.config import build_settings, resolve_endpoint
from lsp_server.context.types import PromptContext
from lsp_server.model.client import BackendError, StreamResult

ENV = {"DEVSTRAL_PROVIDER": "openai", "DEVSTRAL_BASE_URL": "http://127.0.0.1:9/v1",
       "DEVSTRAL_MODEL": "devstral-small-latest", "DEVSTRAL_API_KEY": "sk-test-pipeline"}
URI = "file:///tmp/pipeline/a.py"


class FakeClock:
    """Monotonic time that moves only in `advance`; `sleep` waits for it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.t + seconds, fut))
        await fut

    @property
    def sleeping(self) -> int:
        return sum(1 for _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        await settle()  # requests started just before go to sleep first
        self.t += seconds
        for deadline, fut in list(self._sleepers):
            if deadline <= self.t:
                self._sleepers.remove((deadline, fut))
                if not fut.done():
                    fut.set_result(None)
        await settle()


async def settle() -> None:
    """Let every ready task run until they all wait on something."""
    for _ in range(20):
        await asyncio.sleep(0)


class FakeModel:
    """`ModelClient.stream_completion` whose calls the test answers one by one."""

    def __init__(self) -> None:
        self.calls: list[asyncio.Future[StreamResult]] = []
        self.cancelled = 0

    async def stream_completion(self, request: Any, *, timeout_s: float,
                                should_stop: Callable[[str], bool] | None = None
                                ) -> StreamResult:
        fut: asyncio.Future[StreamResult] = asyncio.get_running_loop().create_future()
        self.calls.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    def answer(self, text: str, index: int = -1) -> None:
        self.calls[index].set_result(StreamResult(text=text))

    def fail(self, exc: BackendError, index: int = -1) -> None:
        self.calls[index].set_exception(exc)


class Shown:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def show_error(self, message: str) -> None:
        self.errors.append(message)


class Doc:
    """A document the test types into; `read` is the pipeline's view of it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self, a: int, b: int) -> str:
        return self.text[max(0, a):max(0, b)]


class Rig:
    def __init__(self, env: dict[str, str] | None = None, **settings: Any) -> None:
        env = ENV if env is None else env
        self.clock = FakeClock()
        self.model = FakeModel()
        self.user = Shown()
        self.doc = Doc("def add(a, b):\n    return a")
        init = {"debounceMs": 100, "multiline": "never", **settings}
        self.settings, problems = build_settings(env, init)
        assert problems == []
        self.endpoint = resolve_endpoint(self.settings, env)
        self.contexts = 0
        self.pipeline = CompletionPipeline(
            settings=lambda: self.settings, endpoint=lambda: self.endpoint,
            model=lambda: self.model,  # type: ignore[arg-type,return-value]
            build_context=self.context, user=self.user, clock=self.clock,
            sleep=self.clock.sleep, in_transit=self.in_transit)
        self.transit: list[str] = []
        """Keys the editor sent that have not reached the document yet (`in_transit`)."""

    async def in_transit(self) -> None:
        """Like `Inbox.drained`: the messages on their way in are handled meanwhile."""
        while self.transit:
            self.type(self.transit.pop(0))

    def context(self, uri: str, offset: int) -> PromptContext:
        self.contexts += 1
        return PromptContext(path="a.py", language_id="python",
                             prefix=self.doc.text[:offset], suffix=self.doc.text[offset:])

    def type(self, text: str) -> None:
        self.doc.text += text
        self.pipeline.note_edit(URI, deletion=False)

    def delete(self, n: int) -> None:
        self.doc.text = self.doc.text[:-n]
        self.pipeline.note_edit(URI, deletion=True)

    def request(self, *, invoked: bool) -> asyncio.Task[Any]:
        return asyncio.ensure_future(self.pipeline.complete(
            URI, self.doc.read, len(self.doc.text), invoked=invoked))

    @property
    def stats(self) -> Any:
        return self.pipeline.stats


async def test_invoked_request_skips_debounce_and_answers() -> None:
    rig = Rig()
    task = rig.request(invoked=True)
    await settle()
    assert len(rig.model.calls) == 1 and rig.clock.sleeping == 0
    rig.model.answer(" + b")
    got = await task
    assert got is not None and got.text == " + b" and got.source == "model"


async def test_automatic_request_waits_the_debounce_on_the_clock() -> None:
    rig = Rig()
    task = rig.request(invoked=False)
    await settle()
    assert rig.model.calls == [] and rig.clock.sleeping == 1 and rig.contexts == 0
    await rig.clock.advance(0.05)
    assert rig.model.calls == []
    await rig.clock.advance(0.06)
    assert len(rig.model.calls) == 1
    rig.model.answer(" + b")
    assert (await task) is not None


async def test_no_automatic_suggestion_while_deleting() -> None:
    rig = Rig()
    rig.delete(1)
    assert await rig.request(invoked=False) is None
    assert rig.model.calls == [] and rig.contexts == 0
    task = rig.request(invoked=True)  # the user asks: answered anyway
    await settle()
    assert len(rig.model.calls) == 1
    rig.model.answer("a")
    assert (await task) is not None
    rig.type(" ")
    auto = rig.request(invoked=False)  # typing again: suggestions come back
    await rig.clock.advance(1.0)
    assert len(rig.model.calls) == 2
    rig.model.answer("+ b")
    assert (await auto) is not None


async def test_keystroke_during_debounce_supersedes_without_a_model_call() -> None:
    rig = Rig()
    first = rig.request(invoked=False)
    await settle()
    rig.type(" ")
    second = rig.request(invoked=False)
    await rig.clock.advance(1.0)
    assert await first is None
    assert rig.stats.superseded == 1
    assert len(rig.model.calls) == 1 and rig.contexts == 1  # only the second paid
    rig.model.answer("+ b")
    got = await second
    assert got is not None and got.text == "+ b"


async def test_newer_request_cancels_the_older_model_call() -> None:
    rig = Rig()
    first = rig.request(invoked=True)
    await settle()
    rig.doc.text += "\n"  # a new line: no longer an extension of the first call
    rig.pipeline.note_edit(URI, deletion=False)
    second = rig.request(invoked=True)
    await settle()
    assert len(rig.model.calls) == 2
    assert rig.model.calls[0].cancelled() and rig.model.cancelled == 1
    assert await first is None
    rig.model.answer("return a + b")
    assert (await second) is not None
    assert rig.stats.model_calls == 2 and rig.stats.model_calls_cancelled == 1
    assert rig.stats.superseded == 1


async def test_typing_into_a_pending_answer_joins_the_call_in_flight() -> None:
    rig = Rig()
    first = rig.request(invoked=True)
    await settle()
    rig.type(" +")
    second = rig.request(invoked=False)
    await settle()
    assert len(rig.model.calls) == 1 and rig.stats.inflight_joins == 1
    rig.model.answer(" + b")
    got1, got2 = await first, await second
    assert got1 is not None and got1.text == " + b"
    assert got2 is not None and got2.text == " b" and got2.source == "inflight"
    assert rig.stats.model_calls == 1 and rig.model.cancelled == 0


async def test_joined_call_is_cancelled_only_when_nobody_waits() -> None:
    rig = Rig()
    first = rig.request(invoked=True)
    await settle()
    rig.type(" +")
    second = rig.request(invoked=False)
    await settle()
    first.cancel()
    await settle()
    assert not rig.model.calls[0].cancelled()  # the joined request still waits on it
    second.cancel()
    await settle()
    assert rig.model.calls[0].cancelled() and rig.model.cancelled == 1
    assert rig.stats.model_calls_cancelled == 1  # counted once, not per waiter
    for task in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_failure_backs_off_automatic_requests_exponentially_and_tells_once() -> None:
    rig = Rig()
    task = rig.request(invoked=True)
    await settle()
    rig.model.fail(BackendError("server", "the model returned HTTP 500", status=500))
    assert await task is None
    assert rig.pipeline.health.backoff_s == 1.0 and len(rig.user.errors) == 1
    rig.type(" ")
    assert await rig.request(invoked=False) is None  # backing off: no call, no debounce
    assert rig.stats.backoff_skips == 1 and len(rig.model.calls) == 1
    task = rig.request(invoked=True)  # the user asks: tried anyway
    await settle()
    rig.model.fail(BackendError("server", "the model returned HTTP 500", status=500))
    assert await task is None
    assert rig.pipeline.health.backoff_s == 2.0 and len(rig.user.errors) == 1  # same outage
    await rig.clock.advance(1.5)
    rig.type(" ")
    assert await rig.request(invoked=False) is None and rig.stats.backoff_skips == 2
    await rig.clock.advance(0.6)  # past the 2 s
    rig.type("+")
    auto = rig.request(invoked=False)
    await rig.clock.advance(1.0)  # the debounce
    assert len(rig.model.calls) == 3
    rig.model.answer(" b")
    assert (await auto) is not None
    assert rig.pipeline.health.backoff_s == 0.0 and not rig.pipeline.health.in_outage


async def test_retry_after_longer_than_exponential_backoff_is_honoured() -> None:
    rig = Rig()
    task = rig.request(invoked=True)
    await settle()
    rig.model.fail(BackendError("rate_limit", "rate limited", status=429, retry_after=3.0))
    assert await task is None
    await rig.clock.advance(1.2)  # past the exponential 1 s
    rig.type(" ")
    assert await rig.request(invoked=False) is None and rig.stats.backoff_skips == 1
    await rig.clock.advance(1.9)  # past Retry-After
    rig.type("+")
    auto = rig.request(invoked=False)
    await rig.clock.advance(1.0)
    assert len(rig.model.calls) == 2
    rig.model.answer(" b")
    assert (await auto) is not None


async def test_cancelled_request_counts_one_cancelled_call() -> None:
    rig = Rig()
    task = rig.request(invoked=True)
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.model.cancelled == 1
    assert rig.stats.model_calls == 1 and rig.stats.model_calls_cancelled == 1
    assert rig.stats.model_calls_failed == 0 and rig.stats.superseded == 0


async def test_repeated_position_is_answered_from_the_cache() -> None:
    rig = Rig()
    task = rig.request(invoked=True)
    await settle()
    rig.model.answer(" + b")
    await task
    got = await rig.request(invoked=False)
    assert got is not None and got.source in ("cache", "typed") and len(rig.model.calls) == 1


async def test_misconfiguration_is_told_and_logged_once_not_per_keystroke(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig({k: v for k, v in ENV.items() if k != "DEVSTRAL_BASE_URL"})
    assert rig.endpoint.problem() is not None
    with caplog.at_level(logging.INFO, logger="lsp_server"):
        for _ in range(5):
            rig.type("x")
            assert await rig.request(invoked=False) is None
    assert rig.model.calls == [] and len(rig.user.errors) == 1
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


async def test_debounce_sees_a_keystroke_still_in_transit() -> None:
    """A key the editor sent before the debounce ran out, still on its way through the
    reader when it did, supersedes the request: no model call for a text typed past (the
    Neovim-style trace's second call per pause, issue 16)."""
    rig = Rig()
    first = rig.request(invoked=False)
    await settle()
    rig.transit.append(" ")
    await rig.clock.advance(1.0)
    assert await first is None
    assert rig.stats.superseded == 1 and rig.model.calls == [] and rig.contexts == 0
    second = rig.request(invoked=False)  # the key's own request, once it is read
    await rig.clock.advance(1.0)
    assert len(rig.model.calls) == 1
    rig.model.answer("+ b")
    got = await second
    assert got is not None and got.text == "+ b"
