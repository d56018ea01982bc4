"""A provider's prompt-prefix cache, as the paid APIs bill it.

Mistral (and OpenAI-shaped APIs) report cache hits as ``usage.prompt_tokens_details.cached_tokens``:
the longest prefix of the new prompt that a recent prompt (routed by the same
``prompt_cache_key``) already started with, counted in whole blocks (64 tokens on Mistral), and
bill those tokens at a fraction of the input price (10% on Mistral). A cache holds many recent
prompts, not only the last one: a request that goes back to an earlier state (a cancelled
call, a suggestion shown twice) hits the longest of them. The fake backend and the Tabby fake
of the side-by-side bench both use this one model, so the two servers' billed tokens are
comparable.
"""

from __future__ import annotations

import threading
from collections import deque

from . import wire


def shared_prefix(a: str, b: str) -> int:
    """Characters `a` and `b` start with in common."""
    n = min(len(a), len(b))
    i = 0
    step = 256
    while i + step <= n and a[i:i + step] == b[i:i + step]:
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PromptCache:
    """Recent prompts per cache key; `hit` answers how many tokens of a prompt are cached."""

    def __init__(self, block_tokens: int = 64, keep: int = 64) -> None:
        self.block_tokens = block_tokens
        self.keep = keep
        self._lock = threading.Lock()
        self._prompts: dict[str, deque[str]] = {}

    def hit(self, key: str | None, text: str) -> int:
        """Cached tokens of `text` (whole blocks, 4 characters per token), then remember it.
        No key, no hit (Mistral routes by the key; the conservative reading)."""
        if key is None:
            return 0
        with self._lock:
            recent = self._prompts.setdefault(key, deque(maxlen=self.keep))
            shared = max((shared_prefix(p, text) for p in recent), default=0)
            recent.append(text)
        tokens = shared // wire.CHARS_PER_TOKEN
        return min(tokens // self.block_tokens * self.block_tokens,
                   wire.estimate_tokens(text))


def billed_equivalent(prompt_tokens: int, cached_tokens: int, cached_ratio: float) -> float:
    """Input tokens as the bill counts them: uncached ones in full, cached ones at
    `cached_ratio` of the price (0.1 on Mistral; see lsp_server/usage/prices.py)."""
    cached = min(cached_tokens, prompt_tokens)
    return prompt_tokens - cached + cached_ratio * cached
