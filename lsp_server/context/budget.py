"""Exact token budgeting: shares for prefix, suffix and other context, cut at line boundaries.

Counts come from the Tekken tokenizer (`tokens.py`), so a budget of N means the pieces returned
hold at most N tokens in total, not "about N". Per-line counts are memoised (a prompt is rebuilt
on every keystroke from mostly unchanged lines) and every cut is re-verified on the joined text,
because tokens may merge across line breaks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..text import content_lines

Counter = Callable[[str], int]
BLOCK_LINES = 16
"""Lines are summed per block of this many document lines (aligned like the prefix snap), so a
block unchanged since the last keystroke costs one memo look-up instead of 16."""


@dataclass(frozen=True)
class Shares:
    """Fractions of the budget each part may claim first; unused shares flow to the others."""

    prefix: float = 0.60
    suffix: float = 0.15
    context: float = 0.25

    def as_dict(self) -> dict[str, float]:
        return {"prefix": self.prefix, "suffix": self.suffix, "context": self.context}


def allocate(
    budget: int, demands: Mapping[str, int], shares: Mapping[str, float]
) -> dict[str, int]:
    """Water-filling: each part gets min(demand, share); leftovers go to parts still hungry,
    in proportion to their shares. The result never sums above `budget`."""
    budget = max(0, budget)
    alloc = {k: min(max(0, demands.get(k, 0)), math.floor(budget * shares[k])) for k in shares}
    left = budget - sum(alloc.values())
    while left > 0:
        hungry = [k for k in shares if demands.get(k, 0) > alloc[k]]
        if not hungry:
            break
        weight = sum(shares[k] for k in hungry) or float(len(hungry))
        given = 0
        for k in hungry:
            want = demands.get(k, 0) - alloc[k]
            part = max(1, math.floor(left * (shares[k] or 1.0) / weight))
            extra = min(want, part, left - given)
            alloc[k] += extra
            given += extra
            if given >= left:
                break
        if given == 0:
            break
        left -= given
    return alloc


def _block_total(count: Counter, lines: Sequence[str]) -> int:
    """Sum of the per-line counts of `lines` (memoised per block by a `TokenCounter`)."""
    total_of = getattr(count, "lines_total", None)
    if total_of is not None:
        return int(total_of(lines))
    return sum(count(line) for line in lines)


def _fit(
    lines: Sequence[str], limit: int, count: Counter, blocks: Iterator[tuple[int, int]],
    backward: bool,
) -> tuple[int, int, int]:
    """The one walk behind `_fit_forward` and `_fit_backward`: `blocks` are the `[lo, hi)`
    ranges of `lines` in walk order. A block of several lines is taken whole when its
    (memoised) total fits; otherwise its lines are counted one by one in walk order, so the
    result is exactly that of a line-by-line walk."""
    total = 0
    for lo, hi in blocks:
        if hi - lo > 1:
            block = _block_total(count, lines[lo:hi])
            if total + block <= limit:
                total += block
                continue
        for k in range(hi - 1, lo - 1, -1) if backward else range(lo, hi):
            n = count(lines[k])
            if total + n > limit:
                return (k + 1 if backward else k), total, n
            total += n
    return (0 if backward else len(lines)), total, 0


def _fit_forward(
    lines: Sequence[str], limit: int, count: Counter, first_line: int = 0
) -> tuple[int, int, int]:
    """Walk `lines` from the top while the per-line counts fit in `limit`.

    Returns (end, total, n): `lines[:end]` fit with `total` tokens summed per line; `n` is the
    count of `lines[end]`, the first line that does not fit (0 when all fit). Whole blocks of
    `BLOCK_LINES` document lines (`first_line` is the document line of `lines[0]`) are taken
    at once when they fit, which gives exactly the result of the line-by-line walk.
    """

    def blocks() -> Iterator[tuple[int, int]]:
        i, n_lines = 0, len(lines)
        while i < n_lines:
            j = min(n_lines, i + BLOCK_LINES - (first_line + i) % BLOCK_LINES)
            yield i, j
            i = j

    return _fit(lines, limit, count, blocks(), backward=False)


def _fit_backward(
    lines: Sequence[str], limit: int, count: Counter, first_line: int = 0
) -> tuple[int, int, int]:
    """Like `_fit_forward` from the last line up: (first, total, n) with `lines[first:]`
    fitting and `n` the count of `lines[first - 1]` (0 when all fit)."""

    def blocks() -> Iterator[tuple[int, int]]:
        i = len(lines)
        while i > 0:
            s = max(0, i - 1 - (first_line + i - 1) % BLOCK_LINES)
            yield s, i
            i = s

    return _fit(lines, limit, count, blocks(), backward=True)


def _tail_tokens(text: str, max_tokens: int, count: Counter) -> str:
    """The longest tail of a single line that fits (used only for absurdly long lines)."""
    from .tokens import get_encoding

    enc = get_encoding()
    ids = enc.encode_ordinary(text)
    keep = ids[len(ids) - max_tokens :] if max_tokens > 0 else []
    while keep:
        out = enc.decode_bytes(keep).decode("utf-8", errors="ignore")
        if count(out) <= max_tokens:
            return out
        keep = keep[1:]
    return ""


def _head_tokens(text: str, max_tokens: int, count: Counter) -> str:
    from .tokens import get_encoding

    enc = get_encoding()
    keep = enc.encode_ordinary(text)[: max(0, max_tokens)]
    while keep:
        out = enc.decode_bytes(keep).decode("utf-8", errors="ignore")
        if count(out) <= max_tokens:
            return out
        keep = keep[:-1]
    return ""


def cut_prefix(
    text: str, max_tokens: int, count: Counter, *, first_line: int = 0, snap_lines: int = 1
) -> tuple[str, int, bool]:
    """Keep the last lines of `text` within `max_tokens`, cutting whole lines from the top.

    With `snap_lines` > 1 a cut starts only at a document line (`first_line` + index) that is a
    multiple of `snap_lines`, so the top of the prompt stays put while the user types and
    consecutive requests share a long cacheable prefix. Returns (text, exact tokens, truncated).
    """
    if not text or max_tokens <= 0:
        return "", 0, bool(text)
    lines = content_lines(text)
    first = _fit_backward(lines, max_tokens, count, first_line)[0]
    if first == len(lines):  # the cursor line alone is too long
        out = _tail_tokens(lines[-1], max_tokens, count)
        return out, count(out), True
    if first_line + first > 0 and snap_lines > 1:
        snapped = first + (-(first_line + first)) % snap_lines
        if snapped < len(lines) - 1:
            first = snapped
    out = "".join(lines[first:])
    exact = count(out)
    while exact > max_tokens and first < len(lines) - 1:
        first += 1
        out = "".join(lines[first:])
        exact = count(out)
    if exact > max_tokens:
        out = _tail_tokens(out, max_tokens, count)
        exact = count(out)
    return out, exact, first > 0 or len(out) < len(text)


def cut_suffix(
    text: str, max_tokens: int, count: Counter, *, first_line: int = 0, snap_lines: int = 1
) -> tuple[str, int, bool]:
    """Keep the first lines of `text` within `max_tokens`, cutting whole lines from the bottom.

    `first_line` (the document line of the text's first line) only aligns the memoised blocks.
    With `snap_lines` > 1 a cut keeps a multiple of `snap_lines` lines (counted from the cursor,
    so a line typed above leaves the kept text as it was): the bottom of the suffix then stays
    put while the room it gets moves by a few tokens from one request to the next, which is
    what a prompt cache needs when the model reads the suffix first (Mistral's FIM endpoint,
    the `suffixFirst` layout).
    """
    if not text or max_tokens <= 0:
        return "", 0, bool(text)
    lines = content_lines(text)
    end = _fit_forward(lines, max_tokens, count, first_line)[0]
    if end == 0:
        out = _head_tokens(lines[0], max_tokens, count)
        return out, count(out), True
    if snap_lines > 1 and snap_lines <= end < len(lines):
        end -= end % snap_lines
    out = "".join(lines[:end])
    exact = count(out)
    while exact > max_tokens and end > 1:
        end -= 1
        out = "".join(lines[:end])
        exact = count(out)
    if exact > max_tokens:
        out = _head_tokens(out, max_tokens, count)
        exact = count(out)
    return out, exact, len(out) < len(text)


def line_token_estimate(text: str, count: Counter, limit: int, *, first_line: int = 0) -> int:
    """Sum of per-line counts, stopping once above `limit` (a cheap demand for `allocate`)."""
    _end, total, n = _fit_forward(content_lines(text), limit, count, first_line)
    return total + n


def line_token_estimate_reverse(
    text: str, count: Counter, limit: int, *, first_line: int = 0
) -> int:
    """Like `line_token_estimate` but from the last line up (the prefix's near end)."""
    _first, total, n = _fit_backward(content_lines(text), limit, count, first_line)
    return total + n
