"""Wire shapes of OpenAI / Mistral / vLLM completion responses.

Kept separate from the HTTP plumbing so the JSON shapes can be read (and fixed) in one
place.  Everything here is pure: a request body and a :class:`Reply` go in, dicts come out.

Three *styles* share one generation model:

* ``chat``: ``POST /v1/chat/completions`` → ``chat.completion`` / ``chat.completion.chunk``
* ``completion``: ``POST /v1/completions`` (legacy, used for FIM by vLLM/llama.cpp) →
  ``text_completion`` objects with ``choices[0].text``
* ``fim``: ``POST /v1/fim/completions`` (Mistral) → chat-shaped objects with
  ``message.content`` / ``delta.content``; Mistral puts ``usage`` on the last chunk.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from .replies import Reply, ToolCall

__all__ = [
    "Generation",
    "Meta",
    "StreamEvent",
    "Style",
    "assistant_prefix",
    "error_body",
    "non_stream_body",
    "plan_generation",
    "stream_events",
]

Style = Literal["chat", "completion", "fim"]
Phase = Literal["head", "body", "tail"]

CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One SSE ``data:`` event; ``phase`` drives pacing.

    ``head`` events go out immediately, ``body`` events (content and argument deltas) are
    paced by ttft / token rate, ``tail`` events (finish, usage) follow the last body event.
    ``piece`` is the text the event carries, for pacing.
    """

    phase: Phase
    payload: dict[str, Any]
    piece: str = ""

    def encode(self) -> bytes:
        return b"data: " + json.dumps(self.payload, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True, slots=True)
class Meta:
    """Per-response identity: id, creation time and the model name echoed back."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, style: Style, model: str) -> Meta:
        prefix = "cmpl-" if style == "completion" else "chatcmpl-"
        return cls(id=prefix + uuid.uuid4().hex[:24], created=int(time.time()), model=model)


@dataclass(frozen=True, slots=True)
class Generation:
    """The model output after stop/max_tokens/prefix handling, plus token counts."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None = None
    """Mistral-like prompt cache hits (``prompt_tokens_details.cached_tokens``); None: the
    field is absent, as on servers without prompt caching."""

    def usage(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.cached_tokens is not None:
            out["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return out


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters per token), good enough for usage numbers."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _text_of(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def assistant_prefix(body: Any) -> str | None:
    """Mistral's assistant prefix: the last message's content when it has ``prefix: true``."""
    if not isinstance(body, dict):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "assistant" and last.get("prefix") is True:
        return _text_of(last.get("content"))
    return None


def _stop_list(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str) and s]
    return []


def prompt_text(style: Style, body: dict[str, Any]) -> str:
    """The text a request asks the model to read (what prompt caching can reuse)."""
    return _prompt_text(style, body)


def _prompt_text(style: Style, body: dict[str, Any]) -> str:
    if style == "chat":
        return "".join(
            _text_of(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict)
        )
    prompt = body.get("prompt")
    text = prompt if isinstance(prompt, str) else json.dumps(prompt) if prompt is not None else ""
    suffix = body.get("suffix")
    after = suffix if isinstance(suffix, str) else ""
    if style == "fim":
        # Mistral's FIM endpoint reads `[SUFFIX]suffix[PREFIX]prompt` (mistral-common's
        # `encode_fim`): the suffix comes first, so its prompt cache can keep it.
        return f"[SUFFIX]{after}[PREFIX]{text}"
    return text + after


def plan_generation(reply: Reply, body: Any, style: Style, echo_prefix: bool) -> Generation:
    """Apply the request's ``stop`` / ``max_tokens`` and the prefix echo to ``reply``.

    Stop strings cut the generated text at the earliest match (``finish_reason="stop"``);
    ``max_tokens`` (or ``max_completion_tokens``) cuts at 4 characters per token
    (``finish_reason="length"``).  Both apply to the generated part only: Mistral's echoed
    assistant prefix (chat, when ``echo_prefix``) and the legacy ``echo`` prompt are
    prepended afterwards, as the real servers do.
    """
    req: dict[str, Any] = body if isinstance(body, dict) else {}
    content = reply.content
    tool_calls = reply.calls
    finish = reply.finish_reason

    cuts = [i for s in _stop_list(req) if (i := content.find(s)) >= 0]
    if cuts:
        content = content[: min(cuts)]
        finish = "stop"
        tool_calls = ()

    max_tokens = req.get("max_tokens", req.get("max_completion_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens >= 0:
        limit = max_tokens * CHARS_PER_TOKEN
        if len(content) > limit:
            content = content[:limit]
            finish = "length"
            tool_calls = ()

    generated_tokens = estimate_tokens(content) + sum(
        estimate_tokens(tc.name + tc.arguments) for tc in tool_calls
    )

    if style == "chat":
        prefix = assistant_prefix(req)
        echo = reply.echo_prefix if reply.echo_prefix is not None else echo_prefix
        if prefix is not None and echo:
            content = prefix + content
    elif style == "completion" and req.get("echo") is True and isinstance(req.get("prompt"), str):
        content = req["prompt"] + content

    return Generation(
        content=content,
        tool_calls=tool_calls,
        finish_reason=finish,
        prompt_tokens=estimate_tokens(_prompt_text(style, req)),
        completion_tokens=generated_tokens,
    )


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tool_call_json(tc: ToolCall) -> dict[str, Any]:
    return {
        "id": tc.id,
        "type": "function",
        "function": {"name": tc.name, "arguments": tc.arguments},
    }


def non_stream_body(
    style: Style, gen: Generation, meta: Meta, *, usage: bool, empty_choices: bool = False
) -> dict[str, Any]:
    """The single JSON object a non-streamed request gets."""
    out: dict[str, Any] = {"id": meta.id, "created": meta.created, "model": meta.model}
    if style == "completion":
        out["object"] = "text_completion"
        choice: dict[str, Any] = {
            "text": gen.content,
            "index": 0,
            "logprobs": None,
            "finish_reason": gen.finish_reason,
        }
    else:
        out["object"] = "chat.completion"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": gen.content if gen.content or not gen.tool_calls else None,
            "refusal": None,
        }
        if gen.tool_calls:
            message["tool_calls"] = [_tool_call_json(tc) for tc in gen.tool_calls]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": gen.finish_reason,
        }
    if style == "chat":
        out["system_fingerprint"] = None
    out["choices"] = [] if empty_choices else [choice]
    if usage:
        out["usage"] = gen.usage()
    return out


def stream_events(
    style: Style,
    gen: Generation,
    meta: Meta,
    *,
    chunk_chars: int,
    include_usage: bool,
    usage: bool,
    empty_choices: bool = False,
) -> list[StreamEvent]:
    """All SSE events of a streamed answer, without the final ``[DONE]``.

    Chat: role chunk, content deltas, per tool call a header delta (index/id/type/name,
    empty arguments) and argument fragments, a finish chunk, and a ``choices: []`` usage
    chunk when ``stream_options.include_usage``.  Legacy completion: text deltas, a finish
    chunk with empty text, optional usage chunk.  Mistral FIM: chat-shaped deltas with the
    usage on the finish chunk.
    """
    base: dict[str, Any] = {
        "id": meta.id,
        "object": "text_completion" if style == "completion" else "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
    }
    if style == "chat":
        base["system_fingerprint"] = None
    with_usage_field = include_usage and style != "fim"

    def chunk(choice_fields: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        payload = dict(base)
        if empty_choices:
            payload["choices"] = []
        elif style == "completion":
            payload["choices"] = [
                {
                    "text": choice_fields.get("text", ""),
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ]
        else:
            payload["choices"] = [
                {"index": 0, "delta": choice_fields, "logprobs": None, "finish_reason": finish}
            ]
        if with_usage_field:
            payload["usage"] = None
        return payload

    events: list[StreamEvent] = []
    if style == "completion":
        for piece in _split(gen.content, chunk_chars):
            events.append(StreamEvent("body", chunk({"text": piece}), piece))
        events.append(StreamEvent("tail", chunk({"text": ""}, gen.finish_reason)))
    else:
        role_content: str | None = "" if gen.content or not gen.tool_calls else None
        events.append(StreamEvent("head", chunk({"role": "assistant", "content": role_content})))
        for piece in _split(gen.content, chunk_chars):
            events.append(StreamEvent("body", chunk({"content": piece}), piece))
        for index, tc in enumerate(gen.tool_calls):
            header = {
                "index": index,
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            events.append(StreamEvent("body", chunk({"tool_calls": [header]}), tc.name))
            for frag in _split(tc.arguments, chunk_chars):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": frag}}]}
                events.append(StreamEvent("body", chunk(delta), frag))
        finish = chunk({"content": ""} if style == "fim" else {}, gen.finish_reason)
        if style == "fim" and usage:
            finish["usage"] = gen.usage()
        events.append(StreamEvent("tail", finish))

    if with_usage_field and usage:
        usage_chunk = dict(base)
        usage_chunk["choices"] = []
        usage_chunk["usage"] = gen.usage()
        events.append(StreamEvent("tail", usage_chunk))
    return events


_DEFAULT_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(
    status: int, message: str, error_type: str | None = None, code: str | int | None = None
) -> dict[str, Any]:
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    etype = error_type or _DEFAULT_ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "api_error"
    )
    if code is None and status == 429:
        code = "rate_limit_exceeded"
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}
