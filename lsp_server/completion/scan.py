"""Linear scans over code text that the completion cleanup shares.

Suffix/prefix overlaps (a prefix function), bracket pairing with strings skipped, and word
boundaries. They run on every streamed chunk of an answer, so each is one linear pass with no
backtracking; they know nothing about the cursor or the model.
"""

from __future__ import annotations

OPENERS = {"(": ")", "[": "]", "{": "}"}

CLOSERS = {")": "(", "]": "[", "}": "{"}

QUOTES = "\"'`"


def is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def has_word(lines: list[str]) -> bool:
    return any(is_word(ch) for line in lines for ch in line)


def boundary(text: str, pos: int) -> bool:
    return pos <= 0 or pos >= len(text) or not (is_word(text[pos - 1]) and is_word(text[pos]))


def overlaps(text: str, pattern: str) -> list[int]:
    """Every k > 0 with text.endswith(pattern[:k]), longest first (prefix function, linear)."""
    pattern = pattern[: len(text)]
    if not pattern:
        return []
    pi = [0] * len(pattern)
    for i in range(1, len(pattern)):
        k = pi[i - 1]
        while k and pattern[i] != pattern[k]:
            k = pi[k - 1]
        if pattern[i] == pattern[k]:
            k += 1
        pi[i] = k
    k = 0
    for ch in text[len(text) - len(pattern):] if len(text) > len(pattern) else text:
        while k and (k == len(pattern) or ch != pattern[k]):
            k = pi[k - 1]
        if k < len(pattern) and ch == pattern[k]:
            k += 1
    found = []
    while k:
        found.append(k)
        k = pi[k - 1]
    return found


def bracket_pairs(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Matched (open, close) positions and unmatched closer positions, strings skipped."""
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    unmatched: list[int] = []
    quote = ""
    escaped = False
    for idx, ch in enumerate(text):
        if quote:
            if ch == "\n":
                quote = ""
            elif escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in QUOTES:
            quote = ch
        elif ch in OPENERS:
            stack.append(idx)
        elif ch in CLOSERS:
            if stack and text[stack[-1]] == CLOSERS[ch]:
                pairs.append((stack.pop(), idx))
            else:
                unmatched.append(idx)
    return pairs, unmatched


def crosses(pairs: list[tuple[int, int]], cut: int) -> bool:
    """Cutting at `cut` would drop a closer for a bracket the kept part opened."""
    return any(o < cut <= c for o, c in pairs)


def unmatched_closers(text: str, start: int) -> list[int]:
    _, unmatched = bracket_pairs(text)
    return [p for p in unmatched if p >= start]
