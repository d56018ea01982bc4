"""What one model call used (`Usage`), and how the gateway measures it.

Endpoints report usage differently: Mistral and vLLM put it in the last stream chunk when asked
(`stream_options.include_usage`), Mistral adds `prompt_tokens_details.cached_tokens` for prompt
cache hits, some local servers report nothing. Where nothing is reported the gateway counts
with Tekken (Devstral's tokenizer) and marks the figures `estimated`, so a total built on them
says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Tokens of one model call. `cached_tokens` is the part of `prompt_tokens` served from
    the provider's prompt cache (billed at a lower price)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False


def usage_from_wire(raw: Any) -> Usage | None:
    """The `usage` object of a response or chunk (openai model or dict), or None if absent."""
    if raw is None:
        return None

    def get(obj: Any, name: str) -> Any:
        return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)

    prompt = get(raw, "prompt_tokens")
    completion = get(raw, "completion_tokens")
    if prompt is None and completion is None:
        return None
    details = get(raw, "prompt_tokens_details")
    cached = get(details, "cached_tokens") if details is not None else None
    prompt_i = _int(prompt)
    return Usage(
        prompt_tokens=prompt_i,
        completion_tokens=_int(completion),
        cached_tokens=min(_int(cached), prompt_i),
    )


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def estimate_usage(request_text: str, answer_text: str) -> Usage:
    """Tekken counts of what was sent and received, for endpoints that report nothing."""
    from ..context.tokens import count_tokens

    return Usage(
        prompt_tokens=count_tokens(request_text),
        completion_tokens=count_tokens(answer_text),
        estimated=True,
    )


def request_text(body: dict[str, Any]) -> str:
    """The text of a request body that the model reads (messages, prompt, suffix, tools)."""
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif content is not None:
            parts.append(json.dumps(content, ensure_ascii=False))
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if calls:
            parts.append(json.dumps(calls, ensure_ascii=False, default=str))
    for key in ("prompt", "suffix"):
        if isinstance(body.get(key), str):
            parts.append(body[key])
    if body.get("tools"):
        parts.append(json.dumps(body["tools"], ensure_ascii=False))
    return "\n".join(parts)
