"""Scripted replies for the fake OpenAI-compatible backend.

A :class:`Reply` is an immutable description of *what the fake model does* with one
request: answer with text, call tools, fail with an HTTP error, hang, reset the TCP
connection mid-stream, or send deliberately broken bytes.  The same ``Reply`` works for
streamed and non-streamed requests and for all three completion endpoints; the server
decides the wire shape from the request, so a test scripts behaviour, not bytes.

Replies are plain frozen dataclasses so they can be built from JSON (``Reply.from_dict``),
which is what the CLI's ``--script`` option uses.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Reply", "ReplyKind", "ToolCall", "make_tool_call_id"]

ReplyKind = Literal[
    "text",
    "tool_calls",
    "error",
    "hang",
    "reset",
    "malformed_sse",
    "malformed_json",
    "empty_choices",
    "stream_error",
    "raw",
]

_ID_ALPHABET = string.ascii_letters + string.digits
_id_rng = random.Random()

#: What ``Reply.malformed_sse`` injects by default: a ``data:`` line whose JSON is cut off,
#: which is what a proxy truncating an event looks like to the client.
DEFAULT_MALFORMED_SSE = b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "oo\n\n'
#: What ``Reply.malformed_json`` sends by default: a truncated ``chat.completion`` object.
DEFAULT_MALFORMED_JSON = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{'


def make_tool_call_id() -> str:
    """Return a Mistral-style tool call id: exactly 9 ASCII letters/digits.

    Mistral rejects follow-up requests whose tool call ids are not 9 alphanumerics, so
    code that round-trips ids must see the same shape here.
    """
    return "".join(_id_rng.choices(_ID_ALPHABET, k=9))


@dataclass(frozen=True)
class RetryAfterDate:
    """A `Retry-After` HTTP date `seconds` after the moment the reply is sent.

    The date is formatted when the server answers, not when the test builds the reply: a date
    computed in the test ages by however long the language server takes to start and ask, which
    on a loaded machine is longer than the wait being tested.
    """

    seconds: float


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the fake model makes.

    ``arguments`` is the exact string put on the wire, so it can be invalid or truncated
    JSON on purpose.
    """

    name: str
    arguments: str
    id: str = field(default_factory=make_tool_call_id)

    def parsed_arguments(self) -> Any:
        """Decode ``arguments`` (raises ``json.JSONDecodeError`` for garbage on purpose)."""
        return json.loads(self.arguments)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake backend answers to one completion request.

    Build instances with the constructors (``Reply.text(...)``, ``Reply.error(...)``, ...)
    rather than the raw dataclass: they pick coherent field values for each kind.
    Fields not meaningful for a kind are ignored by the server.
    """

    kind: ReplyKind
    content: str = ""
    ttft: float = 0.0
    tokens_per_s: float | None = None
    chunk_chars: int = 4
    chunk_interval: float | None = None
    finish_reason: str = "stop"
    usage: bool = True
    echo_prefix: bool | None = None
    calls: tuple[ToolCall, ...] = ()
    status: int = 200
    message: str = ""
    error_type: str | None = None
    error_code: str | int | None = None
    retry_after: float | str | RetryAfterDate | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str = "application/json"
    after_chunks: int | None = None
    delay: float = 0.0
    prefill_s_per_token: float = 0.0

    # ------------------------------------------------------------------ constructors

    @classmethod
    def text(
        cls,
        content: str,
        *,
        ttft: float = 0.0,
        tokens_per_s: float | None = None,
        chunk_chars: int = 4,
        finish_reason: str = "stop",
        usage: bool = True,
        echo_prefix: bool | None = None,
        prefill_s_per_token: float = 0.0,
    ) -> Reply:
        """A normal answer.

        Streamed requests get OpenAI-style ``chat.completion.chunk`` events: a role chunk,
        content deltas of ``chunk_chars`` characters, a finish chunk, an optional usage
        chunk (``stream_options.include_usage``), then ``[DONE]``.  The first content
        delta is sent ``ttft`` seconds after the request arrived; later ones at
        ``tokens_per_s`` (4 characters = 1 token; ``None`` = as fast as possible).
        Non-streamed requests wait the same total time and get one JSON object.
        ``prefill_s_per_token`` adds a prompt-processing cost to ``ttft``: seconds per prompt
        token (the usage count), as a real model's time to first token grows with its input.

        The request's ``stop`` and ``max_tokens`` are honoured (content is cut), and the
        Mistral assistant prefix is echoed when the backend (or ``echo_prefix``) says so.
        """
        _check_chunk_chars(chunk_chars)
        return cls(
            kind="text",
            content=content,
            ttft=ttft,
            tokens_per_s=tokens_per_s,
            chunk_chars=chunk_chars,
            finish_reason=finish_reason,
            usage=usage,
            echo_prefix=echo_prefix,
            prefill_s_per_token=prefill_s_per_token,
        )

    @classmethod
    def tool_calls(
        cls,
        calls: Iterable[tuple[str, Mapping[str, Any] | str]],
        *,
        content: str | None = None,
        ids: Sequence[str] | None = None,
        ttft: float = 0.0,
        tokens_per_s: float | None = None,
        chunk_chars: int = 8,
        usage: bool = True,
    ) -> Reply:
        """An assistant message that calls tools, ``finish_reason="tool_calls"``.

        ``calls`` is a sequence of ``(name, arguments)``; a mapping is JSON-encoded, a
        string is sent verbatim (use it for garbage/truncated JSON).  Ids are 9
        alphanumerics like Mistral's unless ``ids`` gives them; read them back from
        ``reply.calls[i].id``.  When streamed, each call starts with a delta carrying
        ``index``, ``id``, ``type`` and ``function.name`` (empty arguments), followed by
        argument fragments of ``chunk_chars`` characters, exactly as OpenAI streams them.
        """
        _check_chunk_chars(chunk_chars)
        built: list[ToolCall] = []
        id_list = list(ids) if ids is not None else None
        for i, (name, args) in enumerate(calls):
            arguments = args if isinstance(args, str) else json.dumps(dict(args))
            if id_list is not None:
                built.append(ToolCall(name=name, arguments=arguments, id=id_list[i]))
            else:
                built.append(ToolCall(name=name, arguments=arguments))
        return cls(
            kind="tool_calls",
            content=content or "",
            calls=tuple(built),
            ttft=ttft,
            tokens_per_s=tokens_per_s,
            chunk_chars=chunk_chars,
            finish_reason="tool_calls",
            usage=usage,
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "fake backend error",
        *,
        retry_after: float | str | RetryAfterDate | None = None,
        body: Mapping[str, Any] | bytes | str | None = None,
        error_type: str | None = None,
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An HTTP error with OpenAI's ``{"error": {"message", "type", "code"}}`` body.

        ``retry_after`` becomes a ``Retry-After`` header (seconds, an HTTP date string, or a
        `RetryAfterDate` formatted when the reply is sent).
        ``body`` replaces the JSON body entirely (mapping → JSON, bytes/str → verbatim),
        e.g. to mimic a proxy's HTML error page.  ``delay`` postpones the answer.
        """
        raw: bytes | None
        if body is None:
            raw = None
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(dict(body)).encode()
        return cls(
            kind="error",
            status=status,
            message=message,
            retry_after=retry_after,
            body=raw,
            error_type=error_type,
            error_code=code,
            headers=tuple((headers or {}).items()),
            delay=delay,
        )

    @classmethod
    def hang(cls, *, after_chunks: int | None = None, content: str = "stalled output") -> Reply:
        """Never finish answering; the exchange ends only when the client disconnects.

        With ``after_chunks=None`` not even a status line is sent (a dead upstream); with
        ``after_chunks=n`` a streamed request gets headers and ``n`` SSE events first (a
        stalled stream).  The disconnect is recorded with its time.
        """
        return cls(kind="hang", after_chunks=after_chunks, content=content)

    @classmethod
    def reset(
        cls, after_chunks: int = 2, *, content: str = "partial output that never ends"
    ) -> Reply:
        """Send ``after_chunks`` SSE events, then abort the TCP connection with an RST.

        For non-streamed requests the status line, headers and part of the JSON body are
        sent before the abort (``after_chunks=0`` aborts before any byte).
        """
        return cls(kind="reset", after_chunks=after_chunks, content=content)

    @classmethod
    def malformed_sse(
        cls, raw: bytes | str | None = None, *, after_chunks: int = 1, content: str = "ok"
    ) -> Reply:
        """Stream ``after_chunks`` good events, then ``raw`` bytes verbatim, then the rest.

        The default injects a ``data:`` line with truncated JSON.  The stream is always an
        event stream, even if the request did not ask for one.
        """
        payload = DEFAULT_MALFORMED_SSE if raw is None else _to_bytes(raw)
        return cls(kind="malformed_sse", body=payload, after_chunks=after_chunks, content=content)

    @classmethod
    def malformed_json(cls, raw: bytes | str | None = None) -> Reply:
        """HTTP 200 with ``Content-Type: application/json`` but an unparseable body."""
        payload = DEFAULT_MALFORMED_JSON if raw is None else _to_bytes(raw)
        return cls(kind="malformed_json", body=payload)

    @classmethod
    def empty_choices(cls) -> Reply:
        """A well-formed response whose ``choices`` list is empty (seen with some proxies)."""
        return cls(kind="empty_choices")

    @classmethod
    def slow_drip(cls, content: str, interval: float = 0.5, *, chunk_chars: int = 1) -> Reply:
        """Text delivered ``chunk_chars`` characters every ``interval`` seconds.

        The first delta also waits ``interval``, so a client-side timeout shorter than
        ``interval`` fires before any content arrives.
        """
        _check_chunk_chars(chunk_chars)
        return cls(
            kind="text",
            content=content,
            ttft=interval,
            chunk_interval=interval,
            chunk_chars=chunk_chars,
        )

    @classmethod
    def stream_error(
        cls,
        message: str = "upstream failed mid-stream",
        *,
        after_chunks: int = 1,
        content: str = "partial",
        error_type: str = "server_error",
    ) -> Reply:
        """Stream ``after_chunks`` events, then an in-band ``data: {"error": ...}`` event.

        That is how vLLM and several proxies report failures after the 200 was sent; the
        openai client raises ``APIError`` when it sees it.
        """
        return cls(
            kind="stream_error",
            message=message,
            after_chunks=after_chunks,
            content=content,
            error_type=error_type,
        )

    @classmethod
    def raw(
        cls,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Escape hatch: answer with exactly this status, content type and body."""
        return cls(
            kind="raw",
            body=_to_bytes(body),
            status=status,
            content_type=content_type,
            headers=tuple((headers or {}).items()),
        )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Reply:
        """Build a reply from JSON: ``{"kind": "text", "content": "x", "ttft": 0.2}``.

        ``kind`` names a constructor; the other keys are its arguments (``tool_calls``
        takes ``calls`` as a list of ``[name, arguments]`` pairs).
        """
        params = dict(spec)
        kind = params.pop("kind", "text")
        if kind == "tool_calls":
            params["calls"] = [tuple(c) for c in params.get("calls", [])]
        factory = {
            "text": cls.text,
            "tool_calls": cls.tool_calls,
            "error": cls.error,
            "hang": cls.hang,
            "reset": cls.reset,
            "malformed_sse": cls.malformed_sse,
            "malformed_json": cls.malformed_json,
            "empty_choices": cls.empty_choices,
            "slow_drip": cls.slow_drip,
            "stream_error": cls.stream_error,
            "raw": cls.raw,
        }.get(kind)
        if factory is None:
            raise ValueError(f"unknown reply kind {kind!r}")
        return factory(**params)  # type: ignore[operator]

    # ------------------------------------------------------------------ helpers

    def first_token_delay(self, prompt_tokens: int) -> float:
        """Seconds from the request to the first delta: ``ttft`` plus prefill of the prompt."""
        return self.ttft + self.prefill_s_per_token * prompt_tokens

    def chunk_delay(self, piece: str) -> float:
        """Seconds to wait before the streamed delta after ``piece`` (pacing model)."""
        if self.chunk_interval is not None:
            return self.chunk_interval
        if self.tokens_per_s:
            return (len(piece) / 4.0) / self.tokens_per_s
        return 0.0


def _to_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _check_chunk_chars(chunk_chars: int) -> None:
    if chunk_chars < 1:
        raise ValueError("chunk_chars must be >= 1")
