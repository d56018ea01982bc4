"""Budget: exact Tekken counts, never above the budget, cuts at line boundaries."""

from __future__ import annotations

from pathlib import Path

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
