"""Where a multi-line answer leaves the cursor's block, and how its indentation fits the cursor.

A suggestion should finish the block being written, not run on into code that is already
below the cursor or into the next definition. Chat models also write from their own column 0
while the user has already typed the indentation; the answer is moved to the cursor's column
as a whole. Both decisions only look at the first complete lines, so they are stream-safe.
"""

from __future__ import annotations

from ..lazy_re import LazyPattern
from .cursor_context import TAB_WIDTH, CursorContext, indent_width, is_closer_line, opener_closer

_DEFINITION_RE = LazyPattern(
    r"(?:async\s+)?(?:def|class|function|func|fn|impl|struct|enum|interface|trait|module|type)\b"
    r"|(?:export|pub|public|private|protected|static|internal)\b"
    r"|@\w|#\["
)
"""Starts of a new definition: after a blank line at the block's level it is the next item."""


def reindent_from_column_zero(lines: list[str], ctx: CursorContext, *, fenced: bool) -> list[str]:
    """Move a block the model wrote from its own column 0 to the cursor's indentation.

    Chat models omit the indentation already typed on the cursor line, so the first line's
    indentation says nothing; the first *body* line decides. Read as written, a header whose
    body is not deeper than the cursor has no body, and (in a fenced snippet, which models
    write self-contained) a second line left of the cursor leaves the block at once. In both
    cases the block is shifted as a whole; otherwise the lines keep their absolute indentation.
    Only the first two code lines decide, so a streamed answer never changes its mind.
    """
    width = indent_width(ctx.line_before)
    first_indent = indent_width(lines[0])
    if width == 0 or first_indent >= width or not lines[0].strip():
        return lines
    body = next((line for line in lines[1:] if line.strip()), None)
    if body is None:
        return lines
    nxt = indent_width(body)
    opens = opener_closer(lines[0], ctx.language_id) is not None
    if nxt < first_indent:
        return lines
    headless = opens and first_indent < nxt <= width
    left = fenced and nxt < width
    if not (headless or left):
        return lines
    typed = ctx.line_before[: len(ctx.line_before) - len(ctx.line_before.lstrip(" \t"))]
    pad = typed if first_indent == 0 else " " * (width - first_indent)
    return [lines[0], *(pad + line if line.strip() else line for line in lines[1:])]


def strip_typed_indent(first: str, before: str) -> str:
    """The user already typed the indentation: drop as much of the answer's own."""
    width = indent_width(before)
    j = 0
    acc = 0
    while j < len(first) and first[j] in " \t" and acc < width:
        acc += TAB_WIDTH if first[j] == "\t" else 1
        j += 1
    return first[j:]


def block_cut(lines: list[str], ctx: CursorContext) -> tuple[int, int] | None:
    """Where a multi-line answer leaves the cursor's block: (lines to keep, deciding line).

    The block is the one that *holds* the cursor line, not one the answer opens: a body such as
    `if n < 2: return n` followed by `return fib(...)` at the cursor's level is one suggestion
    (cutting at the sibling statement loses code, and in Go leaves a function that does not
    compile). The answer ends at a line indented less than the cursor's block (its closer is
    kept when the file does not close it already) or at the next definition after a blank line.
    """
    cursor_line = ctx.line_before + lines[0]
    first = 0
    own: int | None
    expected: str | None
    opened = opener_closer(cursor_line, ctx.language_id) if not lines[0].strip() else None
    if cursor_line.strip() and opened is not None:
        # The typed line opens a block and the answer starts below it: that block is its scope.
        own, expected = indent_width(cursor_line), opened or None
        block_indent = own + 1
    elif cursor_line.strip():
        block_indent = indent_width(cursor_line)
        own, expected = ctx.enclosing(block_indent)
    else:
        first = next((i for i in range(1, len(lines)) if lines[i].strip()), -1)
        if first < 0:
            return None
        block_indent = indent_width(lines[first])
        own, expected = ctx.enclosing(block_indent)
    seen_content = bool(lines[first].strip())
    prev_blank = False
    for i in range(first + 1, len(lines)):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            prev_blank = True
            continue
        ind = indent_width(line)
        if ind < block_indent:
            if (
                expected
                and is_closer_line(stripped, expected)
                and (own is None or ind >= own)
                and not ctx.suffix_closes(expected, own)
            ):
                return i + 1, i  # close the block the file leaves open
            return i, i
        if prev_blank and seen_content and ind <= block_indent and _DEFINITION_RE.match(stripped):
            return i, i  # one definition at a time
        seen_content = True
        prev_blank = False
    return None
