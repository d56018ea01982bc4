"""Drop the start of an answer that restates what the file already has above the cursor.

Chat models often begin by repeating the lines just above the hole, or the part of the cursor
line already typed ("return fo" answered with "return foo(x)"). Inserted as is, that text would
appear twice. Only a restatement that runs up to the cursor is dropped, and `find_echo` says
whether more streamed lines could still lengthen it.
"""

from __future__ import annotations

from .cursor_context import CursorContext
from .scan import QUOTES, has_word, is_word, overlaps


def find_echo(
    lines: list[str], complete: int, ctx: CursorContext, *, final: bool
) -> tuple[int, bool]:
    """Count leading answer lines that restate the lines just above the cursor.

    The echo must run up to the cursor line and be followed by a restatement of the text
    already typed on it (or by nothing when the cursor line is blank). Returns the number of
    lines to drop and whether more lines could still make the echo longer.
    """
    if complete == 0:
        return 0, final
    head = lines[0].strip()
    if not head:
        return 0, True
    typed = ctx.line_before.strip()
    prev = ctx.prev
    n = len(prev)
    best = 0
    alive = False
    for j in ctx.prev_index.get(head, ()):
        span = n - j
        matched = 0
        limit = min(span, complete)
        while matched < limit and lines[matched].strip() == prev[j + matched].strip():
            matched += 1
        if matched < span:
            if matched == complete and not final:
                alive = True  # every complete line so far restates the prefix
            continue
        if span < len(lines) and (span < complete or final):
            follows = not typed or _strip_line_echo(lines[span], typed) is not None
        elif span == len(lines) and final:
            follows = not typed
        else:
            alive = True  # the line that decides has not arrived yet
            continue
        if follows and span > best and has_word(prev[j:]):
            best = span
    return best, final or not alive


def dedupe_line_start(first: str, ctx: CursorContext) -> str:
    """Drop a restatement of the typed part of the line and a doubled space."""
    before = ctx.line_before
    typed = before.strip()
    if not typed:
        return first
    rest = _strip_line_echo(first, typed)
    if rest is None:
        rest = _strip_tail_overlap(first, before)
    if before[-1:] in (" ", "\t") and rest[:1] in (" ", "\t"):
        rest = rest.lstrip(" \t")
    return rest


def _strip_line_echo(line: str, typed: str) -> str | None:
    """If `line` starts with `typed` (ignoring whitespace), return what follows it."""
    j = 0
    m = len(line)
    for ch in typed:
        if ch in " \t":
            continue
        while j < m and line[j] in " \t":
            j += 1
        if j >= m or line[j] != ch:
            return None
        j += 1
    return line[j:]


def _strip_tail_overlap(first: str, before: str) -> str:
    """Drop the last token(s) of the typed line when the answer starts by repeating them."""
    for k in overlaps(before, first):
        pos = len(before) - k
        piece = first[:k]
        if not piece.strip() or piece[:1] in " \t":
            continue
        if 0 < pos and is_word(before[pos - 1]) and is_word(before[pos]):
            continue  # would split a word
        if k == 1:
            # A lone operator repeated before a space ("a +" / "+ b"); never a bracket.
            if is_word(piece) or piece in "()[]{}" or piece in QUOTES or first[1:2] != " ":
                continue
        return first[k:]
    return first
