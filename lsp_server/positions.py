"""The position codec: LSP ``(line, character)`` <-> code-point offsets, in one contract.

Two users share it: the open-document store (``documents.py``, a mutable, block-indexed buffer)
and :class:`LineIndex` (an immutable snapshot the edit builders compute `TextEdit` ranges in,
``textdiff.py``, ``features/next_edit.py``, ``nes/region.py``). Before, each had its own copy
and they disagreed on the corner cases below; now both call the column functions here.

Contract (LSP 3.17)
-------------------
* **Encoding.** ``character`` counts UTF-16 code units unless the client and server agreed on
  UTF-8 bytes or UTF-32 code points at ``initialize`` (:func:`negotiate`: UTF-8 whenever the
  client offers it, it is the cheapest for Python strings of mostly ASCII; else the first
  encoding the client lists that we know; else UTF-16, which every client must support).
  Offsets are Python ``str`` indices (code points). ASCII lines (``str.isascii`` is O(1) in
  CPython) take a fast path where all three encodings agree.
* **Line breaks** are exactly ``\\n``, ``\\r\\n`` and ``\\r`` (``text.split_lines``);
  ``\\x0c``, ``\\x1c``, ``\\u2028`` ... are ordinary characters.
* **Positions are clamped, never rejected** (they come from the client; a language server must
  not crash on bad input): a character past the end of a line means the end of that line
  (before its line break); a line past the end of the text means the end of the text; negative
  numbers mean 0.
* **Inside a code point rounds down**: a character between the two halves of a UTF-16
  surrogate pair, or inside a multi-byte UTF-8 sequence, maps to the start of that code point,
  so an edit never splits a character and both ends of a range behave alike. A lone surrogate
  counts as one UTF-16 unit (and three UTF-8 bytes, ``surrogatepass``).
* **Offsets to positions**: an offset between the ``\\r`` and ``\\n`` of a pair maps to the end
  of its line (LSP positions cannot address it). Out-of-range offsets are the server's own
  mistake, not client input: :class:`LineIndex` rejects them (``ValueError``: an edit computed on
  another text must fail loudly, not land at a wrong place), while ``Document`` clamps them (a
  store kept in step with a stream of client edits must never raise).

A leaf module (standard library and ``text.py`` only): ``bootstrap.py`` imports it to answer
``initialize`` before lsprotocol is loaded.
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Iterable
from itertools import accumulate
from typing import TYPE_CHECKING

from .text import split_lines

if TYPE_CHECKING:
    from lsprotocol import types as lsp

__all__ = [
    "LineIndex",
    "PositionEncoding",
    "index_to_units",
    "negotiate",
    "normalize_encoding",
    "units_to_index",
]


class PositionEncoding(enum.StrEnum):
    """The three position encodings of LSP 3.17 (``general.positionEncodings``)."""

    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"


def normalize_encoding(encoding: object = None) -> PositionEncoding:
    """An encoding given as a ``PositionEncoding``, lsprotocol's ``PositionEncodingKind`` or its
    string value (any case); ``None`` is LSP's default, UTF-16. ``ValueError`` for anything else:
    computing positions in an encoding the client did not agree to would corrupt its buffer."""
    if encoding is None:
        return PositionEncoding.UTF16
    if isinstance(encoding, PositionEncoding):
        return encoding
    value = str(getattr(encoding, "value", encoding)).lower()
    try:
        return PositionEncoding(value)
    except ValueError:
        raise ValueError(f"unsupported position encoding {encoding!r}") from None


def negotiate(offered: Iterable[object] | None) -> PositionEncoding:
    """The encoding chosen at ``initialize`` from the client's ``general.positionEncodings``:
    UTF-8 whenever offered, else the first one we know, else UTF-16 (also when nothing is
    offered). The one rule both the early ``initialize`` reply (``bootstrap.py``) and the
    pygls-driven one (``server.DevstralProtocol``) follow."""
    # Exact names only, as pygls matches them: "UTF-8" is not an encoding LSP defines.
    values = {e.value for e in PositionEncoding}
    known = [PositionEncoding(value) for item in offered or ()
             if isinstance(value := getattr(item, "value", item), str) and value in values]
    if PositionEncoding.UTF8 in known:
        return PositionEncoding.UTF8
    return known[0] if known else PositionEncoding.UTF16


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def units_to_index(content: str, character: int, encoding: PositionEncoding) -> int:
    """Map a column in ``encoding`` units to a code-point index into ``content``.

    ``content`` is a line without its ending.  Clamps to ``[0, len(content)]``; a column inside a
    code point rounds down to its start.  Costs O(character) for non-ASCII lines, done in C.
    """
    if character <= 0:
        return 0
    if encoding is PositionEncoding.UTF32 or content.isascii():
        return min(character, len(content))
    # Every code point is at least one unit, so the answer lies within the first `character`
    # code points: only that prefix needs looking at.
    prefix = content[:character]
    if encoding is PositionEncoding.UTF16:
        # Only astral characters take two units; walk just those.
        astral_before = 0
        for match in _ASTRAL.finditer(prefix):
            unit_start = match.start() + astral_before
            if character <= unit_start:
                break
            if character == unit_start + 1:  # between the halves of a surrogate pair
                return match.start()
            astral_before += 1
        return min(character - astral_before, len(prefix))
    data = prefix.encode("utf-8", "surrogatepass")
    if character >= len(data):
        return len(prefix)
    cut = character
    while cut > 0 and data[cut] & 0xC0 == 0x80:  # inside a multi-byte sequence
        cut -= 1
    return len(data[:cut].decode("utf-8", "surrogatepass"))


def index_to_units(content: str, index: int, encoding: PositionEncoding) -> int:
    """Map a code-point index into ``content`` to a column in ``encoding`` units."""
    if encoding is PositionEncoding.UTF32 or content.isascii():
        return index
    prefix = content[:index]
    if encoding is PositionEncoding.UTF16:
        return len(prefix.encode("utf-16-le", "surrogatepass")) // 2
    return len(prefix.encode("utf-8", "surrogatepass"))


def ending_len(line: str) -> int:
    """Length of the line break at the end of ``line`` (0, 1 or 2)."""
    if line.endswith("\n"):
        return 2 if line.endswith("\r\n") else 1
    return 1 if line.endswith("\r") else 0


class LineIndex:
    """Position <-> offset for one immutable text: line starts and a bisection, O(log n) per
    lookup plus the column conversion of one line. What edits are computed against (a
    snapshot of the text the model saw), not the live buffer (``documents.Document``)."""

    __slots__ = ("encoding", "starts", "text")

    def __init__(self, text: str, encoding: object = PositionEncoding.UTF16) -> None:
        self.text = text
        self.encoding = normalize_encoding(encoding)
        self.starts = list(accumulate(map(len, split_lines(text)[:-1]), initial=0))
        """Offset of the start of each LSP line (a final line break starts an empty line)."""

    def _content(self, line: int) -> tuple[int, str]:
        """(start offset, text without its line break) of a valid line number."""
        start = self.starts[line]
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        raw = self.text[start:end]
        return start, raw[: len(raw) - ending_len(raw)]

    def offset_at(self, line: int, character: int) -> int:
        """Code-point offset of a position, clamped (see the module docstring)."""
        if line >= len(self.starts):
            return len(self.text)
        start, content = self._content(max(line, 0))
        return start + units_to_index(content, character, self.encoding)

    def position_at(self, offset: int) -> tuple[int, int]:
        """(line, character) of an offset; ``ValueError`` outside ``0..len(text)``."""
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"offset {offset} outside 0..{len(self.text)}")
        line = bisect.bisect_right(self.starts, offset) - 1
        start, content = self._content(line)
        column = min(offset - start, len(content))
        return line, index_to_units(content, column, self.encoding)

    def offset(self, position: lsp.Position) -> int:
        """:meth:`offset_at` of an lsprotocol ``Position``."""
        return self.offset_at(position.line, position.character)

    def position(self, offset: int) -> lsp.Position:
        """:meth:`position_at` as an lsprotocol ``Position``."""
        # Imported here: this module is on the path of the early `initialize` reply
        # (`bootstrap.py`), which answers before lsprotocol is loaded.
        from lsprotocol.types import Position

        line, character = self.position_at(offset)
        return Position(line=line, character=character)
