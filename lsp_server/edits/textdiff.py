"""Minimal `TextEdit`s between two versions of a document.

A workspace edit that replaces whole files destroys the editor's cursor positions, marks, folds and
undo granularity, and makes the review preview unreadable; so edits are computed as a line-level
diff (difflib) whose hunks are then trimmed to the characters that actually differ.

Positions follow LSP: lines are separated by `\\n`, `\\r\\n` or `\\r` only (not the other breaks
`str.splitlines` knows), and `character` counts code units of the negotiated position encoding
(UTF-16 by default, UTF-8 and UTF-32 supported). An edit never starts or ends between the `\\r` and
`\\n` of a CRLF, which LSP positions cannot express. Line endings are never rewritten here: the
caller passes the new text with the line endings it wants (the overlay keeps each file's own).
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types as lsp

from ..text import common_prefix_len, common_suffix_len, content_lines

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def _norm_encoding(encoding: str | lsp.PositionEncodingKind | None) -> str:
    """Accept `PositionEncodingKind` members or their string values; default UTF-16 (LSP's)."""
    if encoding is None:
        return UTF16
    value = encoding.value if isinstance(encoding, lsp.PositionEncodingKind) else str(encoding)
    value = value.lower()
    if value not in (UTF8, UTF16, UTF32):
        raise ValueError(f"unsupported position encoding {encoding!r}")
    return value


def _units(s: str, encoding: str) -> int:
    if encoding == UTF32:
        return len(s)
    if encoding == UTF16:
        return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)
    return len(s.encode("utf-8", "surrogatepass"))


class LineIndex:
    """Offset (code points) <-> LSP position conversions for one text, O(log n) per lookup."""

    def __init__(self, text: str, encoding: str | lsp.PositionEncodingKind | None = UTF16) -> None:
        self.text = text
        self.encoding = _norm_encoding(encoding)
        self.starts = [0]
        for m in _LINE_BREAK.finditer(text):
            self.starts.append(m.end())

    def _line_end(self, line: int) -> int:
        """Offset of the end of `line`'s content (before its line break)."""
        if line + 1 < len(self.starts):
            end = self.starts[line + 1]
            if self.text[end - 2 : end] == "\r\n":
                return end - 2
            return end - 1
        return len(self.text)

    def position(self, offset: int) -> lsp.Position:
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"offset {offset} outside 0..{len(self.text)}")
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return lsp.Position(line=line, character=_units(self.text[start:offset], self.encoding))

    def offset(self, position: lsp.Position) -> int:
        """Code-point offset of `position`; past-the-end lines/characters clamp like LSP says."""
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        end = self._line_end(position.line)
        if self.encoding == UTF32:
            return min(start + position.character, end)
        units = 0
        i = start
        while i < end and units < position.character:
            units += _units(self.text[i], self.encoding)
            i += 1
        return i


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


def text_edits(
    old: str, new: str, encoding: str | lsp.PositionEncodingKind | None = UTF16
) -> list[lsp.TextEdit]:
    """Minimal LSP `TextEdit`s (positions in `encoding`) that turn `old` into `new`."""
    index = LineIndex(old, encoding)
    return [
        lsp.TextEdit(
            range=lsp.Range(start=index.position(sp.start), end=index.position(sp.end)),
            new_text=sp.text,
        )
        for sp in diff_spans(old, new)
    ]


def apply_text_edits(
    text: str,
    edits: Sequence[lsp.TextEdit | lsp.AnnotatedTextEdit],
    encoding: str | lsp.PositionEncodingKind | None = UTF16,
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
