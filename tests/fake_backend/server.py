"""A fake OpenAI-compatible HTTP server for tests and benchmarks.

The real model (Devstral Small behind Mistral's API, vLLM, llama.cpp, ...) cannot be
reached from CI, yet the language server's HTTP path (the real ``openai`` client,
``httpx2``, SSE parsing, cancellation closing the socket) is exactly what must be tested.
So this module serves the real wire format on ``127.0.0.1`` from raw asyncio streams,
with scripted replies that include the faults real backends produce.

Quick reference
---------------

.. code-block:: python

    from tests.fake_backend import FakeBackend, Reply

    with FakeBackend(models=["devstral-small-latest"], echo_prefix=True) as fb:
        fb.base_url                        # "http://127.0.0.1:PORT/v1"
        fb.enqueue(Reply.text("return a + b\\n"), Reply.error(429, retry_after=1))
        fb.default = Reply.text("pass")    # or a callable(RecordedRequest) -> Reply
        ...                                # point an OpenAI client at fb.base_url
        fb.wait_for_requests(1, timeout=5.0)
        req = fb.requests[0]               # RecordedRequest
        req.body["messages"], req.headers["authorization"], req.client_disconnected
        fb.reset()                         # clear queue and recorded requests

    async with FakeBackend() as fb:        # same object, from async tests
        await fb.wait_for_requests_async(1)
        await fb.requests[0].wait_done_async()

The server always runs on its own event loop in a daemon thread, in both the ``with`` and
``async with`` forms.  That keeps it independent of the code under test: a test that
blocks its own loop, or a pygls server running in another thread, cannot starve it, and
timestamps (``time.monotonic()``) are comparable across threads.

Endpoints
---------

* ``POST /v1/chat/completions``  chat; Mistral ``prefix: true`` / vLLM
  ``continue_final_message`` are recorded, the prefix is echoed when ``echo_prefix``.
* ``POST /v1/completions``       legacy completion (``prompt``, ``suffix``) → ``text_completion``.
* ``POST /v1/fim/completions``   Mistral FIM (``prompt``, ``suffix``) → chat-shaped objects.
* ``GET /v1/models`` and ``GET /v1/models/{id}``  the configured model ids.
* anything else → 404 with an OpenAI error body.

The three completion endpoints share one FIFO of scripted replies; when it is empty,
``default`` answers (if ``default`` is None the request gets a 500 saying so, so that an
unscripted call fails loudly instead of silently returning plausible text).  A request
whose body is not JSON gets a 400 and does not consume a reply.

What the real ``openai`` 3.x client (``httpx2``) does with each reply kind, as pinned by
``tests/unit/test_fake_backend.py``:

=====================================  ==============================================
``Reply.error(429, retry_after=7)``    ``RateLimitError``; ``err.response.headers["retry-after"]``
``Reply.error(500)``                   ``InternalServerError`` (any 5xx)
``Reply.hang()`` + client timeout      ``APITimeoutError``; request records the disconnect
``Reply.hang(after_chunks=n)``         ``n`` chunks, then ``APITimeoutError`` while iterating
``Reply.reset(after_chunks=n)``        ``n`` chunks, then ``APIConnectionError`` (``ReadError``)
``Reply.malformed_sse()``              ``json.JSONDecodeError`` while iterating (not wrapped!)
``Reply.malformed_json()``             ``json.JSONDecodeError`` from ``create()`` (not wrapped!)
``Reply.stream_error(msg)``            ``APIError(msg)`` while iterating (not a status error)
``Reply.empty_choices()``              accepted: ``choices == []`` (``choices[0]`` → IndexError)
=====================================  ==============================================

Every request is recorded as a :class:`RecordedRequest` as soon as its body has been read
(before the reply starts), and is updated as the exchange proceeds: ``t_first_chunk``,
``chunks_sent``, ``t_finished``, and, if the client hangs up before the response is
complete, ``client_disconnected=True`` with ``t_disconnected``.  The disconnect is
noticed by a task that keeps reading the socket during the response, so EOF is seen
within a millisecond or two, not on the next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

from . import profiles, wire
from .http11 import BadRequest, ClientGone, Connection, RequestHead, status_line
from .prompt_cache import PromptCache
from .replies import Reply, RetryAfterDate

__all__ = ["FakeBackend", "RecordedRequest", "ReplySource"]

log = logging.getLogger(__name__)

ReplySource = Reply | Callable[["RecordedRequest"], Reply]
"""A reply, or a function choosing one from the request (e.g. to echo what was asked)."""

_COMPLETION_ROUTES: dict[str, wire.Style] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completion",
    "/v1/fim/completions": "fim",
}
_POLL_INTERVAL = 0.001
WAIT_GUARD_S = 60.0
"""Upper bound of the request waits: a guard for a broken test, never a speed expectation. A
cold server's first model call waits for its model library (openai, the tokenizer), which
takes over 10 s on a loaded 2-core machine; a 5 s bound failed there while nothing was wrong."""


@dataclass(eq=False)
class RecordedRequest:
    """One HTTP request as the server saw it, plus what happened to its response.

    Timestamps are ``time.monotonic()`` values, comparable with the test's own.  The
    object is updated by the server thread while the exchange runs; use
    :meth:`wait_done` / :meth:`wait_done_async` before asserting on the outcome.

    Attributes:
        method, path, query: request line (path without query string or trailing slash).
        headers: lower-case names; ``authorization`` exactly as the client sent it.
        body / raw_body: parsed JSON (None if absent or invalid) and the exact bytes.
        t_received: body fully read (the reply's ttft is measured from here).
        connection_id: same value for requests that reused a keep-alive connection.
        reply: the :class:`Reply` chosen (None for non-completion routes).
        status: HTTP status sent (None if nothing was sent, e.g. ``hang``/``reset(0)``).
        t_first_chunk / chunks_sent: first content/argument SSE delta, events written.
        t_finished: last byte written, or the abort of a ``reset`` (None if the client left).
        client_disconnected / t_disconnected: the client closed or reset the connection
            before the response was complete, and when the server noticed.  A server-side
            ``reset`` is not a client disconnect.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    t_received: float
    connection_id: int
    http_version: str = "HTTP/1.1"
    reply: Reply | None = None
    status: int | None = None
    t_first_chunk: float | None = None
    chunks_sent: int = 0
    t_finished: float | None = None
    client_disconnected: bool = False
    t_disconnected: float | None = None
    prompt_tokens: int | None = None
    """Prompt tokens the answer reports (set once the generation is planned)."""
    cached_tokens: int | None = None
    """Prompt-cache hits it reports (``usage_profile="mistral"``; None otherwise)."""
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    # ------------------------------------------------------------------ conveniences

    @property
    def endpoint(self) -> wire.Style | None:
        """``"chat"``, ``"completion"``, ``"fim"`` for completion routes, else None."""
        return _COMPLETION_ROUTES.get(self.path) if self.method == "POST" else None

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        msgs = self.body.get("messages") if isinstance(self.body, dict) else None
        return msgs if isinstance(msgs, list) else []

    @property
    def prompt(self) -> Any:
        return self.body.get("prompt") if isinstance(self.body, dict) else None

    @property
    def suffix(self) -> Any:
        return self.body.get("suffix") if isinstance(self.body, dict) else None

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header exactly as received (None if absent)."""
        return self.headers.get("authorization")

    @property
    def assistant_prefix(self) -> str | None:
        """Content of a final ``{"role": "assistant", "prefix": true}`` message, if any."""
        return wire.assistant_prefix(self.body)

    @property
    def continue_final_message(self) -> bool:
        """vLLM's flag for continuing the last assistant message without echoing it."""
        return isinstance(self.body, dict) and self.body.get("continue_final_message") is True

    @property
    def done(self) -> bool:
        """The exchange is over: response completed, connection aborted, or client gone."""
        return self._done.is_set()

    def wait_done(self, timeout: float = WAIT_GUARD_S) -> RecordedRequest:
        """Block until the exchange is over; raises ``TimeoutError``."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.method} {self.path} still running after {timeout}s")
        return self

    async def wait_done_async(self, timeout: float = WAIT_GUARD_S) -> RecordedRequest:
        """Async :meth:`wait_done` (polls, so it works from any event loop)."""
        deadline = time.monotonic() + timeout
        while not self._done.is_set():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.method} {self.path} still running after {timeout}s")
            await asyncio.sleep(_POLL_INTERVAL)
        return self

    # ------------------------------------------------------------------ server side

    def _mark_disconnected(self, at: float) -> None:
        if self.t_finished is None and not self.client_disconnected:
            self.t_disconnected = at
            self.client_disconnected = True

    def _finish(self) -> None:
        if self.t_finished is None:
            self.t_finished = time.monotonic()
        self._done.set()


class _Exchange:
    """Per-response outcome flags shared between the reply coroutine and the server."""

    __slots__ = ("close_after",)

    def __init__(self) -> None:
        self.close_after = False


class FakeBackend:
    """Fake OpenAI-compatible server on ``127.0.0.1`` with scripted replies.

    Args:
        models: ids listed by ``GET /v1/models``; the first is echoed back as ``model``
            when a request does not name one.
        echo_prefix: behave like Mistral and repeat an assistant ``prefix: true`` message
            at the start of the answer (vLLM's ``continue_final_message`` never echoes).
        default: reply used when the queue is empty (see module docs).
        port: TCP port, 0 for an ephemeral one.
        usage_profile: how usage is reported, like real providers: ``openai`` (in every
            non-streamed answer; in a stream's last chunk only when
            ``stream_options.include_usage`` is asked), ``mistral`` (the same, plus
            ``prompt_tokens_details.cached_tokens``: a request repeating the prompt prefix of
            the previous request with the same ``prompt_cache_key`` reports that prefix as
            cached, in multiples of 64 tokens) or ``none`` (no usage at all, like some local
            servers). An attribute: tests may change it between requests.
    """

    def __init__(
        self,
        models: Sequence[str] = ("devstral-small-latest",),
        *,
        echo_prefix: bool = True,
        default: ReplySource | None = None,
        port: int = 0,
        usage_profile: str = "openai",
        profile: str = "openai",
        model_meta: dict[str, dict[str, Any]] | None = None,
        reject_unknown_models: bool = False,
    ) -> None:
        if profile not in profiles.PROFILES:
            raise ValueError(f"unknown profile {profile!r}; one of {profiles.PROFILES}")
        self.profile = profile
        """Which provider's `/v1/models` shape and errors to imitate (see profiles.py)."""
        self.model_meta = dict(model_meta or {})
        self.reject_unknown_models = reject_unknown_models
        """Answer a completion naming a model not in `models` with the provider's error."""
        self.models = list(models)
        self.usage_profile = usage_profile
        self.prompt_cache = PromptCache()
        """Mistral-like prefix cache (see prompt_cache.py); tests may read or replace it."""
        self.echo_prefix = echo_prefix
        self.default: ReplySource | None = default
        self._requested_port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[ReplySource] = deque()
        self._requests: list[RecordedRequest] = []
        self._conn_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[Connection, asyncio.Task[None]] = {}
        self._port: int | None = None
        self._released = threading.Event()
        self._released.set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBackend:
        """Start the server thread and wait until the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("FakeBackend already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # report to start(), then exit the thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="FakeBackend", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listener and every connection (open streams see a reset), join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=5.0)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5.0)
        self._loop = None
        self._thread = None
        self._server = None
        self._port = None

    def __enter__(self) -> FakeBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeBackend:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBackend is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the value for ``OpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ scripting

    def enqueue(self, *replies: ReplySource) -> None:
        """Append replies to the FIFO shared by the three completion endpoints."""
        with self._lock:
            self._queue.extend(replies)

    def extend(self, replies: Iterable[ReplySource]) -> None:
        self.enqueue(*replies)

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued replies and recorded requests (``default`` is kept)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every recorded request, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """Recorded requests to the three completion endpoints only."""
        return [r for r in self.requests if r.endpoint is not None]

    def wait_for_requests(self, n: int, timeout: float = WAIT_GUARD_S) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were recorded; raises ``TimeoutError``.

        ``timeout`` only stops a test whose server never sends the request; it is no guess at
        how fast the server is (see ``WAIT_GUARD_S``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} requests, got {len(self._requests)} in {timeout}s"
                )
            return list(self._requests)

    def hold(self) -> None:
        """Hold every model reply (once its request is recorded) until :meth:`release`.

        A test that must order what the server sees around a model call (an edit typed while
        the model works) releases the reply after that event instead of betting on a ``ttft``
        being longer than the server takes on a loaded machine. A held reply then plays on its
        own schedule, from ``t_received``: any delay already past is not waited again."""
        self._released.clear()

    def release(self) -> None:
        """Let held replies (and later ones) go."""
        self._released.set()

    async def wait_for_requests_async(self, n: int,
                                      timeout: float = WAIT_GUARD_S) -> list[RecordedRequest]:
        """Async :meth:`wait_for_requests` (polls, so it never blocks the caller's loop)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._requests) >= n:
                    return list(self._requests)
                count = len(self._requests)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} requests, got {count} in {timeout}s")
            await asyncio.sleep(_POLL_INTERVAL)

    # ------------------------------------------------------------------ server internals

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, host="127.0.0.1", port=self._requested_port
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn, task in list(self._conns.items()):
            conn.abort()
            task.cancel()
        tasks = list(self._conns.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for t in leftovers:
            t.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=1.0)

    def _record(self, rec: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(rec)
            self._cond.notify_all()

    def _next_reply(self, rec: RecordedRequest) -> Reply | None:
        with self._lock:
            source = self._queue.popleft() if self._queue else self.default
        if source is None:
            return None
        return source if isinstance(source, Reply) else source(rec)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = Connection(reader, writer, next(self._conn_ids))
        task = asyncio.current_task()
        assert task is not None
        self._conns[conn] = task
        try:
            while not conn.aborted:
                try:
                    head = await conn.read_head()
                    if head is None:
                        break
                    raw_body = await conn.read_body(head)
                except BadRequest as exc:
                    with contextlib.suppress(ClientGone):
                        await self._send_json(conn, 400, wire.error_body(400, str(exc)), close=True)
                    break
                rec = self._make_record(conn, head, raw_body)
                self._record(rec)
                keep_open = await self._run_exchange(conn, head, rec)
                if not keep_open or not head.keep_alive:
                    break
        except ClientGone:
            pass
        except asyncio.CancelledError:
            # Only stop() cancels connections.  Swallowed because Python 3.11's
            # StreamReaderProtocol calls task.exception() on the finished handler task,
            # which raises (and logs a traceback) if the task ended cancelled.
            pass
        except Exception:
            log.exception("fake backend connection %d crashed", conn.id)
        finally:
            self._conns.pop(conn, None)
            await conn.close()

    @staticmethod
    def _make_record(conn: Connection, head: RequestHead, raw_body: bytes) -> RecordedRequest:
        split = urlsplit(head.target)
        path = unquote(split.path)
        if len(path) > 1:
            path = path.rstrip("/")
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except (ValueError, UnicodeDecodeError):
                body = None
        return RecordedRequest(
            method=head.method,
            path=path,
            query=split.query,
            headers=dict(head.headers),
            body=body,
            raw_body=raw_body,
            t_received=time.monotonic(),
            connection_id=conn.id,
            http_version=head.version,
        )

    async def _run_exchange(
        self, conn: Connection, head: RequestHead, rec: RecordedRequest
    ) -> bool:
        """Answer ``rec`` while watching for the client hanging up; True = keep the connection."""
        exchange = _Exchange()
        responder = asyncio.create_task(self._respond(conn, rec, exchange))
        watcher = asyncio.create_task(conn.watch_for_disconnect())
        try:
            done, _ = await asyncio.wait({responder, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if responder in done:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                exc = responder.exception()
                if isinstance(exc, ClientGone):
                    rec._mark_disconnected(exc.at)
                    return False
                if exc is not None:
                    log.error("fake backend reply failed", exc_info=exc)
                    conn.abort()
                    return False
                rec._finish()
                return not exchange.close_after and not conn.aborted
            # The client went away before the response was complete.
            rec._mark_disconnected(watcher.result())
            responder.cancel()
            with contextlib.suppress(asyncio.CancelledError, ClientGone):
                await responder
            return False
        finally:
            for task in (responder, watcher):
                if not task.done():
                    task.cancel()
            rec._done.set()

    # ------------------------------------------------------------------ replies

    async def _respond(self, conn: Connection, rec: RecordedRequest, ex: _Exchange) -> None:
        if rec.method == "GET" and rec.path == "/v1/models":
            payload = profiles.models_payload(self.profile, self.models, self.model_meta)
            await self._send_json(conn, 200, payload, rec=rec)
            return
        if rec.method == "GET" and rec.path.startswith("/v1/models/"):
            model_id = rec.path[len("/v1/models/") :]
            if model_id in self.models:
                await self._send_json(conn, 200, self._model_json(model_id), rec=rec)
            else:
                body = wire.error_body(
                    404, f"The model '{model_id}' does not exist", code="model_not_found"
                )
                await self._send_json(conn, 404, body, rec=rec)
            return
        style = rec.endpoint
        if style is None:
            body = wire.error_body(404, f"Unknown route: {rec.method} {rec.path}", code="not_found")
            await self._send_json(conn, 404, body, rec=rec)
            return
        if not isinstance(rec.body, dict):
            body = wire.error_body(400, "Request body must be a JSON object")
            await self._send_json(conn, 400, body, rec=rec)
            return
        if self.reject_unknown_models and not profiles.serves(
                self.profile, self.models, rec.body.get("model")):
            status, err = profiles.model_not_found(self.profile, str(rec.body.get("model")))
            await self._send_json(conn, status, err, rec=rec)
            return
        reply = self._next_reply(rec)
        rec.reply = reply
        if reply is None:
            msg = "FakeBackend: no scripted reply (queue empty and no default)"
            await self._send_json(conn, 500, wire.error_body(500, msg), rec=rec)
            return
        while not self._released.is_set():  # see hold(); a disconnect cancels this wait
            await asyncio.sleep(_POLL_INTERVAL)
        await self._play(conn, rec, reply, style, ex)

    def _model_json(self, model_id: str) -> dict[str, Any]:
        entry = profiles.model_entry(self.profile, model_id)
        entry.update(self.model_meta.get(model_id, {}))
        return entry

    async def _play(
        self, conn: Connection, rec: RecordedRequest, reply: Reply, style: wire.Style, ex: _Exchange
    ) -> None:
        kind = reply.kind
        body: dict[str, Any] = rec.body
        if kind == "error":
            await _sleep_until(rec.t_received + reply.delay)
            payload = (
                reply.body
                if reply.body is not None
                else _dumps(
                    wire.error_body(reply.status, reply.message, reply.error_type, reply.error_code)
                )
            )
            headers = list(reply.headers)
            if reply.retry_after is not None:
                headers.append(("retry-after", _retry_after_text(reply.retry_after)))
            await self._send_bytes(
                conn, reply.status, payload, "application/json", headers, rec=rec
            )
            return
        if kind == "raw":
            assert reply.body is not None
            await self._send_bytes(
                conn, reply.status, reply.body, reply.content_type, list(reply.headers), rec=rec
            )
            return
        if kind == "malformed_json":
            assert reply.body is not None
            await self._send_bytes(conn, 200, reply.body, "application/json", [], rec=rec)
            return
        if kind == "hang" and (reply.after_chunks is None or not rec.stream):
            await asyncio.Event().wait()  # until the client disconnects or the server stops

        model = body.get("model") if isinstance(body.get("model"), str) else self.models[0]
        meta = wire.Meta.new(style, model or "fake-model")
        gen = self._with_cache(wire.plan_generation(reply, body, style, self.echo_prefix), body,
                               style)
        rec.prompt_tokens, rec.cached_tokens = gen.prompt_tokens, gen.cached_tokens
        usage = reply.usage and self.usage_profile != "none"
        empty = kind == "empty_choices"
        stream = rec.stream or kind == "malformed_sse"

        if not stream:
            obj = wire.non_stream_body(style, gen, meta, usage=usage, empty_choices=empty)
            await _sleep_until(
                rec.t_received + reply.first_token_delay(gen.prompt_tokens)
                + self._generation_time(reply, gen)
            )
            payload = _dumps(obj)
            if kind == "reset":
                await self._send_partial_then_abort(conn, rec, payload, reply.after_chunks or 0)
                return
            await self._send_bytes(conn, 200, payload, "application/json", [], rec=rec)
            return

        stream_options = body.get("stream_options")
        include_usage = (
            isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        )
        events = wire.stream_events(
            style,
            gen,
            meta,
            chunk_chars=reply.chunk_chars,
            include_usage=include_usage,
            usage=usage,
            empty_choices=empty,
        )
        await self._stream(conn, rec, reply, events, ex, reply.first_token_delay(gen.prompt_tokens))

    def _with_cache(self, gen: wire.Generation, body: dict[str, Any],
                    style: wire.Style) -> wire.Generation:
        """Mistral-like prompt caching (``usage_profile="mistral"``): the longest prefix a
        recent prompt under the same ``prompt_cache_key`` shared is cached, 64 tokens at a
        time; no key, no hit (`prompt_cache.PromptCache`)."""
        if self.usage_profile != "mistral":
            return gen
        key = body.get("prompt_cache_key")
        cached = self.prompt_cache.hit(key if isinstance(key, str) else None,
                                       wire.prompt_text(style, body))
        return dataclasses.replace(gen, cached_tokens=min(cached, gen.prompt_tokens))

    @staticmethod
    def _generation_time(reply: Reply, gen: wire.Generation) -> float:
        if reply.chunk_interval is None and not reply.tokens_per_s:
            return 0.0
        pieces = [
            gen.content[i : i + reply.chunk_chars]
            for i in range(0, len(gen.content), reply.chunk_chars)
        ]
        pieces += [tc.name + tc.arguments for tc in gen.tool_calls]
        return sum(reply.chunk_delay(p) for p in pieces[:-1]) if pieces else 0.0

    async def _stream(
        self,
        conn: Connection,
        rec: RecordedRequest,
        reply: Reply,
        events: list[wire.StreamEvent],
        ex: _Exchange,
        ttft: float | None = None,
    ) -> None:
        """Send SSE events with pacing, injecting the reply's fault after ``after_chunks``."""
        headers = [("cache-control", "no-cache"), ("transfer-encoding", "chunked")]
        await self._send_head(conn, 200, "text/event-stream; charset=utf-8", headers, rec=rec)
        kind = reply.kind
        fault_at = (
            reply.after_chunks
            if kind in ("hang", "reset", "malformed_sse", "stream_error")
            else None
        )
        if fault_at is not None:
            fault_at = min(fault_at, len(events))  # short streams still hit the fault
        due = rec.t_received + (reply.ttft if ttft is None else ttft)
        for index, event in enumerate(itertools.chain(events, [None])):
            if fault_at is not None and index == fault_at:
                if kind == "hang":
                    await asyncio.Event().wait()
                if kind == "reset":
                    conn.abort()
                    ex.close_after = True
                    return
                if kind == "malformed_sse":
                    assert reply.body is not None
                    await conn.send_chunk(reply.body)
                    ex.close_after = True  # the client may stop reading mid-body
                if kind == "stream_error":
                    err = wire.error_body(500, reply.message, reply.error_type)
                    await conn.send_chunk(b"data: " + _dumps(err) + b"\n\n")
            if event is None:
                break
            if event.phase == "body":
                # Absolute schedule: the first delta at t_received + ttft, then one delta
                # per chunk_delay, so slow writes do not accumulate drift.
                await _sleep_until(due)
                due += reply.chunk_delay(event.piece)
            await conn.send_chunk(event.encode())
            rec.chunks_sent += 1
            if rec.t_first_chunk is None and event.phase == "body":
                rec.t_first_chunk = time.monotonic()
        await conn.send_chunk(b"data: [DONE]\n\n")
        await conn.end_chunks()

    async def _send_partial_then_abort(
        self, conn: Connection, rec: RecordedRequest, payload: bytes, after_chunks: int
    ) -> None:
        if after_chunks > 0:
            head = self._head_bytes(
                200, "application/json", [("content-length", str(len(payload)))]
            )
            await conn.send(head + payload[: max(1, len(payload) // 2)])
            rec.status = 200
        conn.abort()

    # ------------------------------------------------------------------ low-level senders

    @staticmethod
    def _head_bytes(status: int, content_type: str, headers: list[tuple[str, str]]) -> bytes:
        lines = [
            ("content-type", content_type),
            ("x-request-id", "req_fake_" + format(time.monotonic_ns() & 0xFFFFFFFFFF, "x")),
            ("server", "fake-backend"),
            *headers,
        ]
        return (
            status_line(status)
            + b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in lines)
            + b"\r\n"
        )

    async def _send_head(
        self,
        conn: Connection,
        status: int,
        content_type: str,
        headers: list[tuple[str, str]],
        *,
        rec: RecordedRequest | None = None,
    ) -> None:
        if rec is not None:
            rec.status = status
        await conn.send(self._head_bytes(status, content_type, headers))

    async def _send_bytes(
        self,
        conn: Connection,
        status: int,
        payload: bytes,
        content_type: str,
        headers: list[tuple[str, str]],
        *,
        rec: RecordedRequest | None = None,
        close: bool = False,
    ) -> None:
        extra = [*headers, ("content-length", str(len(payload)))]
        if close:
            extra.append(("connection", "close"))
        if rec is not None:
            rec.status = status
        await conn.send(self._head_bytes(status, content_type, extra) + payload)

    async def _send_json(
        self,
        conn: Connection,
        status: int,
        obj: Any,
        *,
        rec: RecordedRequest | None = None,
        close: bool = False,
    ) -> None:
        await self._send_bytes(
            conn, status, _dumps(obj), "application/json", [], rec=rec, close=close
        )


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _retry_after_text(value: float | str | RetryAfterDate) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, RetryAfterDate):
        return formatdate(time.time() + value.seconds, usegmt=True)
    return str(int(value)) if float(value).is_integer() else repr(float(value))


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
