"""Budget: exact Tekken counts, never above the budget, cuts at line boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.context.budget import Shares, allocate, cut_prefix, cut_suffix
from lsp_server.context.tokens import TokenCounter, count_tokens
from lsp_server.context.windows import lines_after, lines_before, prefix_window, suffix_window

SOURCE = Path(__import__("typing").__file__ or "").read_text()
count = TokenCounter()


def test_allocate_respects_shares_and_flows_unused() -> None:
    shares = Shares().as_dict()
    a = allocate(1000, {"prefix": 5000, "suffix": 5000, "context": 5000}, shares)
    assert a == {"prefix": 600, "suffix": 150, "context": 250}
    b = allocate(1000, {"prefix": 5000, "suffix": 10, "context": 0}, shares)
    assert b["suffix"] == 10 and b["context"] == 0 and b["prefix"] == 990
    c = allocate(1000, {"prefix": 100, "suffix": 5000, "context": 5000}, shares)
    assert c["prefix"] == 100 and sum(c.values()) == 1000
    assert allocate(0, {"prefix": 10}, shares)["prefix"] == 0


def test_cut_prefix_exact_and_line_aligned() -> None:
    text = SOURCE[:20000]
    for limit in (1, 7, 50, 333, 1000, 2500):
        out, n, truncated = cut_prefix(text, limit, count)
        assert n == count_tokens(out) <= limit
        assert text.endswith(out) and truncated
        if limit >= 50:
            assert text[len(text) - len(out) - 1] == "\n"  # starts at a line start
    out, n, truncated = cut_prefix(text, 10**6, count)
    assert out == text and not truncated and n == count_tokens(text)


def test_cut_suffix_exact_and_line_aligned() -> None:
    text = SOURCE[:20000]
    for limit in (1, 9, 50, 400, 1500):
        out, n, truncated = cut_suffix(text, limit, count)
        assert n == count_tokens(out) <= limit
        assert text.startswith(out) and truncated
        if limit >= 50:
            assert out.endswith("\n")


def test_snapped_suffix_keeps_its_bottom_while_the_room_moves() -> None:
    """`snap_lines`: a multiple of 16 lines is kept, so the room moving by a few tokens from
    one request to the next (the prefix grew) leaves the suffix byte-identical."""
    text = SOURCE[:20000]
    outs = set()
    for limit in range(600, 640):
        out, n, truncated = cut_suffix(text, limit, count, snap_lines=16)
        assert n == count_tokens(out) <= limit and truncated and text.startswith(out)
        assert out.count("\n") % 16 == 0
        outs.add(out)
    plain = {cut_suffix(text, limit, count)[0] for limit in range(600, 640)}
    assert len(outs) < len(plain)  # without the snap the bottom moves with the room
    # nothing to snap when it all fits, or when fewer than 16 lines fit
    assert cut_suffix("a\nb\n", 100, count, snap_lines=16)[0] == "a\nb\n"
    few = cut_suffix(text, 30, count, snap_lines=16)[0]
    assert few == cut_suffix(text, 30, count)[0] and few


def test_very_long_single_line_is_cut_by_tokens() -> None:
    line = "x = [" + ", ".join(str(i) for i in range(3000)) + "]"
    out, n, _ = cut_prefix(line, 100, count)
    assert 90 <= n <= 100 and line.endswith(out)
    out, n, _ = cut_suffix(line, 100, count)
    assert 90 <= n <= 100 and line.startswith(out)


def test_windows() -> None:
    text = "a\nbb\nccc\ndddd\n"
    assert lines_before(text, 8, 2) == "bb\nccc"
    assert lines_before(text, 9, 2) == "ccc\n"
    assert lines_after(text, 0, 2) == "a\nbb\n"
    w = prefix_window(SOURCE, 50000, 1000)
    assert SOURCE[:50000].endswith(w.text) and w.truncated and len(w.text) <= 1000
    assert SOURCE.count("\n", 0, 50000 - len(w.text)) == w.start_line
    s = suffix_window(SOURCE, 50000, 1000)
    assert SOURCE[50000:].startswith(s.text) and s.text.endswith("\n")


def test_block_walks_match_the_line_by_line_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Summing whole 16-line blocks (memoised) gives exactly what a per-line walk gives."""
    from lsp_server.context.budget import line_token_estimate, line_token_estimate_reverse

    plain = count_tokens  # no `lines_total`: the reference, line by line
    memo = TokenCounter()
    text = SOURCE[3000:15000]
    for first_line in (0, 5, 15, 16, 101):
        for limit in (0, 1, 9, 64, 500, 1500, 10**6):
            for fn in (cut_prefix, cut_suffix):
                ref = fn(text, limit, plain, first_line=first_line)  # type: ignore[operator]
                assert fn(text, limit, memo, first_line=first_line) == ref  # type: ignore[operator]
            for est in (line_token_estimate, line_token_estimate_reverse):
                ref_n = est(text, plain, limit, first_line=first_line)  # type: ignore[operator]
                assert est(text, memo, limit, first_line=first_line) == ref_n  # type: ignore[operator]
    # a second walk over the same text is all memo hits: nothing is tokenised again
    import lsp_server.context.tokens as tokens_module

    def no_counting(s: str) -> int:
        raise AssertionError(f"counted again: {s[:40]!r}")

    ref = cut_prefix(text, 1500, memo, first_line=3)
    monkeypatch.setattr(tokens_module, "count_tokens", no_counting)
    assert cut_prefix(text, 1500, memo, first_line=3) == ref
