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


FEATURES = ("completion", "action", "agent", "nextEdit")


@dataclass
class Tally:
    """Running totals (the `U'` of `devstral/usage`)."""

    requests: int = 0
    tokens_in: int = 0
    tokens_cached: int = 0
    tokens_out: int = 0
    usd: float = 0.0
    estimated: bool = False

    def add(self, usage: Usage, usd: float, requests: int = 1) -> None:
        self.requests += requests
        self.tokens_in += usage.prompt_tokens
        self.tokens_cached += usage.cached_tokens
        self.tokens_out += usage.completion_tokens
        self.usd += usd
        self.estimated = self.estimated or usage.estimated

    def merge(self, other: Tally) -> None:
        self.add(Usage(other.tokens_in, other.tokens_out, other.tokens_cached, other.estimated),
                 other.usd, other.requests)

    def to_wire(self) -> dict[str, Any]:
        return {"requests": self.requests, "tokensIn": self.tokens_in,
                "tokensCached": self.tokens_cached, "tokensOut": self.tokens_out,
                "usd": round(self.usd, 8), "estimated": self.estimated}

    @classmethod
    def from_wire(cls, raw: Any) -> Tally:
        """Lenient: a damaged field counts as 0 (a state file is not worth a crash)."""
        if not isinstance(raw, dict):
            return cls()

        def num(key: str) -> float:
            value = raw.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                return 0.0
            return float(value)

        return cls(int(num("requests")), int(num("tokensIn")), int(num("tokensCached")),
                   int(num("tokensOut")), num("usd"), raw.get("estimated") is True)


@dataclass
class Totals:
    """A `Tally` overall and per feature (the `U` of `devstral/usage`)."""

    all: Tally
    by_feature: dict[str, Tally]

    @classmethod
    def empty(cls) -> Totals:
        return cls(Tally(), {f: Tally() for f in FEATURES})

    def add(self, feature: str, usage: Usage, usd: float) -> None:
        self.all.add(usage, usd)
        self.by_feature.setdefault(feature, Tally()).add(usage, usd)

    def merge(self, other: Totals) -> None:
        self.all.merge(other.all)
        for name, tally in other.by_feature.items():
            self.by_feature.setdefault(name, Tally()).merge(tally)

    def copy(self) -> Totals:
        out = Totals.empty()
        out.merge(self)
        return out

    def to_wire(self) -> dict[str, Any]:
        return {**self.all.to_wire(),
                "byFeature": {f: self.by_feature.get(f, Tally()).to_wire() for f in FEATURES}}

    @classmethod
    def from_wire(cls, raw: Any) -> Totals:
        out = cls.empty()
        if not isinstance(raw, dict):
            return out
        out.all = Tally.from_wire(raw)
        feats = raw.get("byFeature")
        if isinstance(feats, dict):
            for name in FEATURES:
                out.by_feature[name] = Tally.from_wire(feats.get(name))
        return out


class Meter:
    """Totals of this session and of today (what other sessions already stored + ours).

    `record` is called by the gateway's observer for every answered call; `pending` holds what
    this session has not yet written to the state file (the store adds it to the day there,
    so several editors running at once all count).
    """

    def __init__(self, *, today: str, stored_today: Totals | None = None) -> None:
        self.session = Totals.empty()
        self.day = today
        self.stored_today = stored_today or Totals.empty()
        self.pending = Totals.empty()

    def roll(self, day: str, stored: Totals) -> None:
        """A new day begins with what the state file holds for it (pending must be empty)."""
        self.day, self.stored_today = day, stored

    def record(self, feature: str, usage: Usage, usd: float) -> None:
        self.session.add(feature, usage, usd)
        self.pending.add(feature, usage, usd)

    def today(self) -> Totals:
        out = self.stored_today.copy()
        out.merge(self.pending)
        return out

    def take_pending(self) -> Totals:
        taken, self.pending = self.pending, Totals.empty()
        return taken

    def stored(self, day: str, totals: Totals) -> None:
        """What the state file says about `day` after our last write (other sessions too)."""
        if day == self.day:
            self.stored_today = totals
