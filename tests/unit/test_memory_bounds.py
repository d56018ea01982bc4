"""Per-request state must not pile up: the soak's ~4 MB per 1,000 completions (issue 8)."""

from __future__ import annotations

import pytest

from lsp_server.context import tokens


def test_token_memo_is_bounded_in_characters() -> None:
    counter = tokens.TokenCounter(max_entries=10_000, max_chars=20_000, long_text=500,
                                  max_long=4, max_long_chars=40_000)
    prefix = "value = compute(values, 1)\n" * 60  # 1,620 chars, like a soak prompt prefix
    for i in range(2_000):
        line = f"    result = values{'a' * (i % 300)}{i}\n"
        assert counter(line) == tokens.count_tokens(line)
        text = prefix + line
        assert counter(text) == tokens.count_tokens(text)
        assert counter.lines_total([line, line]) == 2 * counter(line)
    sizes = counter.memo_sizes()
    assert sizes["lines"][1] <= 20_000
    assert sizes["long"][0] <= 4 and sizes["long"][1] <= 40_000
    assert sizes["blocks"][1] <= 10_000
    # a text over a quarter of its memo is counted, not kept
    huge = "x = 1\n" * 5_000
    assert counter(huge) == tokens.count_tokens(huge)
    assert huge not in counter._long_cache


def test_token_memo_still_hits_after_eviction(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = tokens.TokenCounter(max_entries=8)
    for i in range(20):
        counter(f"line {i}\n")
    assert counter.memo_sizes()["lines"][0] <= 8

    def no_counting(text: str) -> int:
        raise AssertionError(f"counted again: {text!r}")

    monkeypatch.setattr(tokens, "count_tokens", no_counting)
    assert counter("line 19\n") > 0  # the newest entries survive
