"""Windows of the current document around the cursor, cut at line boundaries.

These are *candidates*: generous in characters so the token budget (not a character guess)
decides the final size, yet bounded so a 100k-line file costs no more than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    text: str
    start_line: int
    """0-based line of the first character of `text` in the document."""
    truncated: bool
    """True when the window does not reach the start (prefix) or end (suffix) of the file."""


def prefix_window(text: str, offset: int, max_chars: int) -> Window:
    """Text before `offset`, starting at a line start at most ~`max_chars` before it."""
    offset = max(0, min(offset, len(text)))
    start = 0
    truncated = False
    if offset > max_chars:
        cut = text.find("\n", offset - max_chars, offset)
        # keep at least the cursor line even if it alone is longer than max_chars
        start = cut + 1 if cut != -1 else text.rfind("\n", 0, offset) + 1
        truncated = start > 0
    return Window(text[start:offset], text.count("\n", 0, start), truncated)


def suffix_window(text: str, offset: int, max_chars: int) -> Window:
    """Text after `offset`, ending at a line end at most ~`max_chars` after it."""
    offset = max(0, min(offset, len(text)))
    end = len(text)
    truncated = False
    if end - offset > max_chars:
        cut = text.rfind("\n", offset, offset + max_chars)
        end = cut + 1 if cut != -1 else (text.find("\n", offset) + 1 or len(text))
        truncated = end < len(text)
    return Window(text[offset:end], text.count("\n", 0, offset), truncated)


def lines_before(text: str, offset: int, count: int) -> str:
    """The last `count` lines up to the cursor (the cursor line's head included)."""
    offset = max(0, min(offset, len(text)))
    start = text.rfind("\n", 0, offset) + 1
    for _ in range(count - 1):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return text[start:offset]


def lines_after(text: str, offset: int, count: int) -> str:
    """The first `count` lines from the cursor on (the cursor line's tail included)."""
    end = offset
    for _ in range(count):
        nl = text.find("\n", end)
        if nl == -1:
            return text[offset:]
        end = nl + 1
    return text[offset:end]
