"""The cleanup's second stage: trim a piece of code whose extent is already fixed.

Once `extract`, `echo` and `blocks` have decided which lines are the answer, this removes what
the file already has after the cursor (restated lines, the rest of the cursor line, closers the
file already closes) and what models emit when stuck (loops, runaway lines, punctuation noise).
It never looks at text after the fixed piece, so stopping a stream early cannot change it.
"""

from __future__ import annotations

from itertools import pairwise

from ..lazy_re import LazyPattern
from .cursor_context import CursorContext
from .scan import CLOSERS, boundary, bracket_pairs, crosses, is_word, overlaps, unmatched_closers

_TOKEN_RE = LazyPattern(r"\w+|[^\w\s]")

_PUNCT_OK = frozenset("()[]{}<>;:,.'\"*/-=+!?&|%#")
"""Punctuation that can make up a short, real completion such as `});` or `*/`."""


def finish(text: str, ctx: CursorContext) -> str:
    text = _trim_end(text, keep_spaces=False)
    if not text.strip():
        return ""
    cut = _cut_suffix_lines(text, ctx)
    if cut != text:
        text = _trim_end(cut, keep_spaces=False)
    cut = _cut_suffix_overlap(text, ctx)
    if cut == text:
        cut = _strip_doubled_closers(text, ctx.suffix_line)
    text = _drop_degenerate(cut, ctx)
    text = _trim_end(text, keep_spaces=True)
    return text if text.strip() else ""


def _trim_end(text: str, *, keep_spaces: bool) -> str:
    """Drop trailing blank lines, and trailing spaces too unless a cut left them on purpose."""
    end = len(text)
    while True:
        nl = text.rfind("\n", 0, end)
        if text[nl + 1:end].strip() or nl < 0:
            break
        end = nl
    text = text[:end]
    return text if keep_spaces else text.rstrip(" \t")


def _cut_suffix_lines(text: str, ctx: CursorContext) -> str:
    """Cut where the answer starts restating the lines that follow the cursor."""
    keys = ctx.suffix_keys
    if not keys:
        return text
    lines = text.split("\n")
    start = 0 if not ctx.line_before.strip() else 1
    offset = 0
    offsets = []
    for line in lines:
        offsets.append(offset)
        offset += len(line) + 1
    pairs: list[tuple[int, int]] | None = None
    for i in range(start, len(lines)):
        stripped = lines[i].strip()
        if not stripped:
            continue
        for s0 in ctx.suffix_starts:
            if s0 >= len(keys) or stripped != keys[s0]:
                continue
            matched, chars, to_end = _match_lines(lines, i, keys, s0)
            if to_end or chars >= 10 or (matched >= 2 and chars >= 6):
                cut = offsets[i]
                if pairs is None:
                    pairs = bracket_pairs(text)[0]
                if not crosses(pairs, cut):
                    return text[:cut]
    return text


def _match_lines(lines: list[str], i: int, keys: list[str], k: int) -> tuple[int, int, bool]:
    matched = chars = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped:
            if k >= len(keys) or stripped != keys[k]:
                return matched, chars, False
            matched += 1
            chars += len(stripped)
            k += 1
        i += 1
    return matched, chars, True


def _cut_suffix_overlap(text: str, ctx: CursorContext) -> str:
    """Cut where the answer's last line ends with the start of the rest of the cursor line."""
    rest = ctx.suffix_line
    if not rest.strip():
        return text
    last = text[text.rfind("\n") + 1:]
    patterns = [rest] if rest[:1] not in " \t" else [rest, rest.lstrip(" \t")]
    pairs = bracket_pairs(text)[0]
    for pattern in patterns:
        for k in overlaps(last, pattern):
            piece = pattern[:k]
            if not piece.strip():
                continue
            cut = len(text) - k
            if any(is_word(ch) for ch in piece):
                if k < 2 or not boundary(text, cut):
                    continue
            if crosses(pairs, cut):
                continue
            return text[:cut].rstrip(" \t") if piece[0] in CLOSERS else text[:cut]
    return text


def _strip_doubled_closers(text: str, rest: str) -> str:
    """Drop trailing closers the answer did not open when the file already has them."""
    lead_src = rest.lstrip(" \t")
    n = 0
    while n < len(lead_src) and lead_src[n] in CLOSERS:
        n += 1
    lead = lead_src[:n]
    if not lead:
        return text
    run = len(text)
    while run > 0 and text[run - 1] in ")]};,: \t":
        run -= 1
    if run == len(text):
        return text
    unmatched = unmatched_closers(text, run)
    if not unmatched:
        return text
    found = "".join(text[p] for p in unmatched)
    for q in range(min(len(found), len(lead)), 0, -1):
        if found[len(found) - q:] == lead[:q]:
            return text[:unmatched[len(found) - q]].rstrip(" \t")
    return text


def _drop_degenerate(text: str, ctx: CursorContext) -> str:
    """Remove loops, runaway lines and punctuation noise that models emit when stuck."""
    lines = text.split("\n")
    for idx, line in enumerate(lines):
        if _is_degenerate_line(line):
            lines = lines[:idx]
            break
    loop = _loop_start(lines)
    if loop is not None:
        lines = lines[:loop]
    text = "\n".join(lines)
    stripped = text.strip()
    if stripped and ctx.prose_ok and _is_punct_noise(stripped):
        return ""
    return text


def _is_degenerate_line(line: str) -> bool:
    if len(line) < 100:
        return False
    run = best = 1
    for a, b in pairwise(line):
        run = run + 1 if a == b and not a.isspace() else 1
        best = max(best, run)
    if best >= 60:
        return True
    tokens = _TOKEN_RE.findall(line)
    return len(tokens) >= 30 and len(set(tokens)) * 5 < len(tokens)


def _loop_start(lines: list[str]) -> int | None:
    """First line of a block of lines repeated back to back (4× for one line, 3× for more)."""
    keys = [line.rstrip() for line in lines]
    n = len(keys)
    for s in range(n):
        for period in range(1, 7):
            reps = 4 if period == 1 else 3
            if s + period * reps > n:
                break
            unit = keys[s:s + period]
            if not any(u.strip() for u in unit):
                continue
            if all(
                keys[s + r * period + t] == unit[t] for r in range(1, reps) for t in range(period)
            ):
                return s
    return None


def _is_punct_noise(stripped: str) -> bool:
    if any(ch.isalnum() for ch in stripped):
        return False
    if len(stripped) > 12 or any(ch not in _PUNCT_OK and not ch.isspace() for ch in stripped):
        return True
    run = 1
    for a, b in pairwise(stripped):
        run = run + 1 if a == b else 1
        if run >= 4:
            return True
    return False
