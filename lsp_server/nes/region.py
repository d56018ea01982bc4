"""The editable region: the lines the model may rewrite, and the context shown around them.

Like Copilot's and Zed's prompts, the region is a few lines above the cursor and a dozen below
(where the follow-up edits of a rename, a new field or a changed signature usually are),
bounded in tokens so one long line cannot blow the prompt; the lines around it are shown as
read-only context. Everything is line-aligned so the rewritten region can be diffed as lines.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from ..positions import LineIndex


@dataclass(frozen=True)
class Region:
    """`text[start:end]` is the region (whole lines, with their line breaks)."""

    start: int
    end: int
    cursor: int
    """Offset of the cursor in the document (inside or at the edge of the region)."""
    start_line: int
    end_line: int
    """Exclusive."""
    text: str
    before: str
    """Read-only context: the lines just above the region."""
    after: str
    """Read-only context: the lines just below the region."""

    @property
    def cursor_in_region(self) -> int:
        return self.cursor - self.start


def approx_tokens(text: str) -> int:
    """A cheap stand-in for the Tekken counter (about 3.5 characters per token in code)."""
    return (len(text) * 2 + 6) // 7


def select_region(
    text: str,
    cursor: int,
    *,
    above: int = 3,
    below: int = 12,
    context_lines: int = 30,
    max_tokens: int = 600,
    count: Callable[[str], int] = approx_tokens,
) -> Region:
    """The region around `cursor`; lines below are dropped first when it is over `max_tokens`
    (the cursor line itself always stays)."""
    cursor = max(0, min(cursor, len(text)))
    starts = LineIndex(text).starts
    n = len(starts)

    def line_end(i: int) -> int:
        return starts[i + 1] if i + 1 < n else len(text)

    line = bisect.bisect_right(starts, cursor) - 1
    first = max(0, line - above)
    last = min(n - 1, line + below)
    while last > line and count(text[starts[first]:line_end(last)]) > max_tokens:
        last -= 1
    while first < line and count(text[starts[first]:line_end(last)]) > max_tokens:
        first += 1
    # A file ending with a line break has an empty last "line": keep it out of the region.
    if last > line and starts[last] == len(text):
        last -= 1
    start, end = starts[first], line_end(last)
    ctx_first = max(0, first - context_lines)
    ctx_last = min(n - 1, last + context_lines)
    return Region(
        start=start,
        end=end,
        cursor=cursor,
        start_line=first,
        end_line=last + 1,
        text=text[start:end],
        before=text[starts[ctx_first]:start],
        after=text[end:line_end(ctx_last)] if last + 1 < n else "",
    )
