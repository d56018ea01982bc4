"""Minimal `TextEdit`s between two versions of a document.

A workspace edit that replaces whole files destroys the editor's cursor positions, marks, folds and
undo granularity, and makes the review preview unreadable; so edits are computed as a line-level
diff (difflib) whose hunks are then trimmed to the characters that actually differ.

Positions follow the one codec, `positions.py` (LSP line breaks only; `character` in the
negotiated encoding, UTF-16 by default). An edit never starts or ends between the `\\r` and `\\n`
of a CRLF, which LSP positions cannot express. Line endings are never rewritten here: the
caller passes the new text with the line endings it wants (the overlay keeps each file's own).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types as lsp

from .positions import LineIndex, PositionEncoding
from .text import common_prefix_len, common_suffix_len, content_lines

Encoding = str | lsp.PositionEncodingKind | PositionEncoding | None
"""A position encoding as callers hold it (`positions.normalize_encoding` reads them all)."""


@dataclass(frozen=True)
class Span:
    """Replace `old[start:end]` by `text` (code-point offsets into the old text)."""

    start: int
    end: int
    text: str


def diff_spans(old: str, new: str) -> list[Span]:
    """Non-overlapping, ascending spans turning `old` into `new`.

    Lines are compared first (cheap, and it keeps unrelated hunks apart), common leading and
    trailing lines are stripped before difflib so the quadratic matcher only sees the changed
    middle, and each hunk is then trimmed to its differing characters.
    """
    if old == new:
        return []
    a, b = content_lines(old), content_lines(new)
    lo = common_prefix_len(a, b)
    hi = common_suffix_len(a, b, lo)
    mid_a, mid_b = a[lo : len(a) - hi], b[lo : len(b) - hi]
    a_off = [0]
    for line in a:
        a_off.append(a_off[-1] + len(line))
    matcher = difflib.SequenceMatcher(None, mid_a, mid_b, autojunk=False)
    spans: list[Span] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = a_off[lo + i1], a_off[lo + i2]
        old_part, new_part = old[start:end], "".join(mid_b[j1:j2])
        p = common_prefix_len(old_part, new_part)
        q = common_suffix_len(old_part, new_part, p)
        s, e = start + p, end - q
        # Never split a CRLF: widen over the `\r` / `\n` (common to both sides by construction).
        if 0 < s < len(old) and old[s - 1] == "\r" and old[s] == "\n":
            s -= 1
            p -= 1
        if 0 < e < len(old) and old[e - 1] == "\r" and old[e] == "\n":
            e += 1
            q -= 1
        spans.append(Span(s, e, new_part[p : len(new_part) - q]))
    return spans


def span_edits(text: str, spans: Sequence[Span], encoding: Encoding = None) -> list[lsp.TextEdit]:
    """`spans` (offsets into `text`) as LSP `TextEdit`s with positions in `encoding`."""
    index = LineIndex(text, encoding)
    return [
        lsp.TextEdit(
            range=lsp.Range(start=index.position(sp.start), end=index.position(sp.end)),
            new_text=sp.text,
        )
        for sp in spans
    ]


def text_edits(old: str, new: str, encoding: Encoding = None) -> list[lsp.TextEdit]:
    """Minimal LSP `TextEdit`s (positions in `encoding`, UTF-16 by default) turning `old` into
    `new`."""
    return span_edits(old, diff_spans(old, new), encoding)


def apply_text_edits(
    text: str,
    edits: Sequence[lsp.TextEdit | lsp.AnnotatedTextEdit],
    encoding: Encoding = None,
) -> str:
    """Apply non-overlapping edits whose ranges refer to `text` (as LSP clients do)."""
    index = LineIndex(text, encoding)
    resolved = sorted(
        ((index.offset(e.range.start), index.offset(e.range.end), e.new_text) for e in edits),
        key=lambda t: (t[0], t[1]),
    )
    out: list[str] = []
    pos = 0
    for start, end, new_text in resolved:
        if start < pos:
            raise ValueError("overlapping text edits")
        out.append(text[pos:start])
        out.append(new_text)
        pos = end
    out.append(text[pos:])
    return "".join(out)
