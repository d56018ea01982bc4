"""USD prices per million tokens (input, cached input, output), per preset and model.

Figures are the providers' own (December 2026; see `shared/design.md`): Mistral Small 4
$0.15/$0.60, Codestral $0.30/$0.90, cached input on Mistral at 10% of the input price;
OpenRouter `mistralai/devstral-2512` $0.40/$2.00; BazaarLink `mistralai/devstral-small` $0.10
per 1K input and $0.30 per 1K output. Local runtimes cost nothing. A model the table does not
know is priced at 0 and the total says `priced: false` in the log, never a guess; the user's
`prices` setting (same shape, keyed by model id or id prefix) overrides any entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .meter import Usage

LOCAL_PROVIDERS = frozenset({"vllm", "ollama", "lmstudio", "llamacpp"})


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    cached_input: float
    output: float

    def cost(self, usage: Usage) -> float:
        fresh = max(0, usage.prompt_tokens - usage.cached_tokens)
        return (fresh * self.input + usage.cached_tokens * self.cached_input
                + usage.completion_tokens * self.output) / 1_000_000


FREE = Price(0.0, 0.0, 0.0)

# (provider, model id prefix) -> price; the longest matching prefix wins.
TABLE: dict[tuple[str, str], Price] = {
    ("mistral", "mistral-small"): Price(0.15, 0.015, 0.60),
    ("mistral", "codestral"): Price(0.30, 0.03, 0.90),
    ("codestral", "codestral"): Price(0.30, 0.03, 0.90),
    ("openrouter", "mistralai/devstral-2512"): Price(0.40, 0.40, 2.00),
    ("bazaarlink", "mistralai/devstral-small"): Price(100.0, 100.0, 300.0),
}


def parse_price(value: Any) -> Price:
    """A `prices` entry: `{"input": x, "cachedInput": y, "output": z}` (USD per million;
    `cachedInput` defaults to `input`). Raises ValueError with a reason."""
    if not isinstance(value, Mapping):
        raise ValueError("must be an object with input, cachedInput and output")
    nums: dict[str, float] = {}
    for key in ("input", "cachedInput", "output"):
        raw = value.get(key)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
            raise ValueError(f"'{key}' must be a number >= 0")
        nums[key] = float(raw)
    unknown = set(value) - {"input", "cachedInput", "output"}
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
    if "input" not in nums or "output" not in nums:
        raise ValueError("needs 'input' and 'output' (USD per million tokens)")
    return Price(nums["input"], nums.get("cachedInput", nums["input"]), nums["output"])


def price_for(provider: str, model: str,
              overrides: Mapping[str, Any] | None = None) -> tuple[Price, bool]:
    """The price of `model` on `provider` and whether it is known (False: priced at 0)."""
    for key, value in sorted((overrides or {}).items(), key=lambda kv: -len(kv[0])):
        if model == key or model.startswith(key):
            try:
                return parse_price(value), True
            except ValueError:
                break  # reported by the settings layer; fall back to the table
    if provider in LOCAL_PROVIDERS:
        return FREE, True
    best: tuple[int, Price] | None = None
    for (prov, prefix), price in TABLE.items():
        if prov == provider and model.startswith(prefix):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), price)
    return (best[1], True) if best else (FREE, False)
