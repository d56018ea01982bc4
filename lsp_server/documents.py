"""Open-document store with a line index.

Why not pygls' ``TextDocument``: its ``lines`` property re-splits the whole text on every
access (O(file) per keystroke), it splits on ``\\x0c``, ``\\x1c``, ``\\u2028`` … which LSP does
not treat as line breaks (so positions drift on such files), and ``get_text_document`` silently
reads the disk for a URI the client never opened.  This module keeps the buffers itself.

Representation
--------------
A document is a list of *blocks*; each block holds about ``_BLOCK`` lines (split above 2x,
merged below 1/4), every line kept *with* its line ending (only the last line of the document
has none; it may be empty).  Each block caches its length in code points and, lazily, the start
offset of each of its lines.  Two Fenwick trees over the blocks hold their char and line counts.
So:

* locating a line or an offset is a Fenwick descent plus a bisection: O(log n);
* a typing edit touches one block and updates the Fenwick trees: O(edit + block + log n);
  only a block split/merge rebuilds the trees (O(blocks), every ~128 inserted lines);
* the joined text is built only when someone asks for it (and cached until the next edit);
* ``text_range``/``window`` join only the lines they cover.

Positions and offsets follow the one contract of ``positions.py`` (the codec this store shares
with the edit builders' ``LineIndex``): UTF-8/16/32 as negotiated, LSP line breaks only,
positions clamped and never rejected, a column inside a code point rounded down, an offset
inside a ``\\r\\n`` pair at the end of its line; offsets are clamped too.  Edits may create or
split ``\\r\\n`` pairs (deleting the text between a ``\\r`` and a ``\\n``, inserting ``\\n``
right after a ``\\r``, or, through :meth:`Document.replace`, inserting between the two); the
line index is re-split around the edit so it always matches the text.

Not thread-safe: mutate documents on the server's event-loop thread only.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate

from .positions import PositionEncoding, ending_len, index_to_units, units_to_index
from .text import split_lines

__all__ = [
    "Change",
    "Document",
    "DocumentStore",
    "PositionEncoding",
    "Range",
    "split_lines",
]


Range = tuple[int, int, int, int]
"""(start_line, start_character, end_line, end_character), in the document's encoding."""

Change = tuple[str, Range | None]
"""One ``contentChanges`` entry: new text and the range it replaces (``None`` = whole text)."""

_BLOCK = 128
"""Target lines per block.  Blocks are split above 2x and merged below 1/4 of this.  The
per-edit work inside a block is O(block) but in C (a few µs at 128 lines); the block index is a
Fenwick tree, so many small blocks cost little."""


def _ending_kind(line: str) -> int:
    """Index into the ending counters: 0 ``\\n``, 1 ``\\r\\n``, 2 ``\\r``, -1 none."""
    if line.endswith("\n"):
        return 1 if line.endswith("\r\n") else 0
    return 2 if line.endswith("\r") else -1


class _Fenwick:
    """Prefix sums over per-block values with O(log n) update, prefix and search.

    Keeps the cost of an edit independent of the number of blocks: a plain prefix list would
    have to be rebuilt (O(blocks)) after every keystroke.
    """

    __slots__ = ("_top", "tree")

    def __init__(self, values: list[int]) -> None:
        n = len(values)
        tree = [0, *values]
        for i in range(1, n + 1):
            j = i + (i & -i)
            if j <= n:
                tree[j] += tree[i]
        self.tree = tree
        self._top = 1 << n.bit_length() if n else 0

    def add(self, index: int, delta: int) -> None:
        tree = self.tree
        n = len(tree) - 1
        i = index + 1
        while i <= n:
            tree[i] += delta
            i += i & -i

    def prefix(self, index: int) -> int:
        """Sum of the first ``index`` values."""
        tree = self.tree
        total = 0
        while index > 0:
            total += tree[index]
            index -= index & -index
        return total

    def search(self, target: int) -> tuple[int, int]:
        """Largest ``k`` with ``prefix(k) <= target``, and ``target - prefix(k)``.

        Values must be non-negative.  One descent gives both, sparing a separate ``prefix``.
        """
        tree = self.tree
        n = len(tree) - 1
        pos = 0
        step = self._top
        while step:
            nxt = pos + step
            if nxt <= n and tree[nxt] <= target:
                pos = nxt
                target -= tree[nxt]
            step >>= 1
        return pos, target


class _Block:
    """A run of consecutive lines with its cached length and (lazy) line-start offsets."""

    __slots__ = ("chars", "lines", "starts")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.chars = sum(map(len, lines))
        self.starts: array[int] | None = None

    def line_start(self, index: int) -> int:
        """Offset of line ``index`` relative to the block start.

        Uses the cached starts when present; otherwise sums the line lengths before it (about
        1 µs for a block, and cheaper than rebuilding the starts right after an edit).
        """
        if self.starts is not None:
            return self.starts[index]
        return sum(map(len, self.lines[:index]))

    def line_starts(self) -> array[int]:
        """Offsets of each line relative to the block start, plus the block length at the end.

        A compact ``array`` rather than a list of ints: 8 bytes per line instead of ~36.
        """
        if self.starts is None:
            self.starts = array("q", list(accumulate(map(len, self.lines), initial=0)))
        return self.starts


class Document:
    """One open text buffer: its text, line index, version and language.

    See the module docstring for the position semantics.  All methods clamp bad positions and
    offsets instead of raising.
    """

    __slots__ = (
        "_blocks",
        "_char_index",
        "_endings",
        "_length",
        "_line_count",
        "_line_index",
        "_text",
        "language_id",
        "uri",
        "version",
    )

    def __init__(self, uri: str, text: str, *, version: int = 0, language_id: str = "") -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self._blocks: list[_Block] = []
        self._char_index: _Fenwick | None = None
        self._line_index: _Fenwick | None = None
        self._length = 0
        self._line_count = 1
        self._endings = [0, 0, 0]
        self._text: str | None = None
        self._reset(text)

    def __repr__(self) -> str:
        return (
            f"Document(uri={self.uri!r}, version={self.version}, "
            f"lines={self._line_count}, chars={self._length})"
        )

    # -- whole-text state -------------------------------------------------------------------

    def _reset(self, text: str) -> None:
        """Rebuild every index from ``text`` (open and full-replacement changes)."""
        lines = split_lines(text)
        self._blocks = [_Block(lines[i : i + _BLOCK]) for i in range(0, len(lines), _BLOCK)]
        self._line_count = len(lines)
        self._length = len(text)
        crlf = text.count("\r\n")
        self._endings = [text.count("\n") - crlf, crlf, text.count("\r") - crlf]
        self._char_index = self._line_index = None
        self._text = text

    def _indexes(self) -> tuple[_Fenwick, _Fenwick]:
        """Per-block char and line counts as Fenwick trees.

        Rebuilt (O(blocks)) only after a block split, merge or removal; ordinary edits update
        them in O(log blocks).
        """
        if self._char_index is None or self._line_index is None:
            blocks = self._blocks
            self._char_index = _Fenwick([b.chars for b in blocks])
            self._line_index = _Fenwick([len(b.lines) for b in blocks])
        return self._char_index, self._line_index

    @property
    def text(self) -> str:
        """The full text.  Joined on first access after an edit, then cached."""
        if self._text is None:
            self._text = "".join(["".join(block.lines) for block in self._blocks])
        return self._text

    @property
    def length(self) -> int:
        """Length of the text in code points, without building it."""
        return self._length

    @property
    def line_count(self) -> int:
        """Number of lines; a text ending with a line break has an empty last line (LSP)."""
        return self._line_count

    def line_ending(self) -> str:
        """The dominant line break, so edits can keep a file's convention (``"\\n"`` if none).

        Ties prefer ``\\n``, then ``\\r\\n``.  O(1): counts are kept up to date by every edit.
        """
        lf, crlf, cr = self._endings
        if crlf > lf and crlf >= cr:
            return "\r\n"
        if cr > lf and cr > crlf:
            return "\r"
        return "\n"

    # -- locating ---------------------------------------------------------------------------

    def _block_of_line(self, line: int) -> tuple[int, int]:
        """(block index, index within block) of a valid line number."""
        bi, li = self._indexes()[1].search(line)
        last = len(self._blocks) - 1
        if bi > last:  # unreachable for valid lines (blocks are never empty); be safe
            return last, len(self._blocks[last].lines) - 1
        return bi, li

    def _locate_line(self, line: int) -> tuple[int, int, int]:
        """(block index, index within block, start offset) of a valid line number."""
        bi, li = self._block_of_line(line)
        return bi, li, self._indexes()[0].prefix(bi) + self._blocks[bi].line_start(li)

    def _locate_offset(self, offset: int) -> tuple[int, int, int]:
        """(block index, index within block, line start offset) of the line holding ``offset``.

        That is the line with ``start <= offset < next start``, or the last line when ``offset``
        is the document length.  ``offset`` must already be clamped.
        """
        bi, rest = self._indexes()[0].search(offset)
        if bi >= len(self._blocks):  # offset == length: it belongs to the last line
            bi = len(self._blocks) - 1
            rest = self._blocks[bi].chars
        block = self._blocks[bi]
        starts = block.line_starts()
        li = min(bisect_right(starts, rest) - 1, len(block.lines) - 1)
        return bi, li, offset - rest + starts[li]

    def _line_number(self, bi: int, li: int) -> int:
        return self._indexes()[1].prefix(bi) + li

    def _resolve(
        self, line: int, character: int, encoding: PositionEncoding
    ) -> tuple[int, int, int, int]:
        """(block, index in block, line start, offset) of a clamped LSP position."""
        if line < 0:
            line = 0
        if line >= self._line_count:
            bi = len(self._blocks) - 1
            li = len(self._blocks[bi].lines) - 1
            _, _, start = self._locate_line(self._line_count - 1)
            return bi, li, start, self._length
        bi, li, start = self._locate_line(line)
        if character <= 0:
            return bi, li, start, start
        raw = self._blocks[bi].lines[li]
        content_len = len(raw) - ending_len(raw)
        if encoding is PositionEncoding.UTF32 or raw.isascii():
            return bi, li, start, start + min(character, content_len)
        return bi, li, start, start + units_to_index(raw[:content_len], character, encoding)

    def _clamp_offset(self, offset: int) -> int:
        return min(max(offset, 0), self._length)

    # -- reading ----------------------------------------------------------------------------

    def line(self, index: int) -> str:
        """Line ``index`` without its line ending; ``""`` for an index outside the document."""
        if index < 0 or index >= self._line_count:
            return ""
        bi, li = self._block_of_line(index)
        raw = self._blocks[bi].lines[li]
        cut = ending_len(raw)
        return raw[: len(raw) - cut] if cut else raw

    def offset_at(self, line: int, character: int, encoding: PositionEncoding) -> int:
        """Offset (code-point index into :attr:`text`) of an LSP position, clamped."""
        return self._resolve(line, character, encoding)[3]

    def position_at(self, offset: int, encoding: PositionEncoding) -> tuple[int, int]:
        """LSP position of an offset, clamped; inside a ``\\r\\n`` pair means end of line."""
        offset = self._clamp_offset(offset)
        bi, li, start = self._locate_offset(offset)
        raw = self._blocks[bi].lines[li]
        line = self._line_number(bi, li)
        column = min(offset - start, len(raw) - ending_len(raw))
        if encoding is PositionEncoding.UTF32 or raw.isascii():
            return line, column
        return line, index_to_units(raw, column, encoding)

    def text_range(self, start: int, end: int) -> str:
        """``text[start:end]`` (offsets clamped) joining only the lines it covers."""
        start = self._clamp_offset(start)
        end = self._clamp_offset(end)
        if end <= start:
            return ""
        if self._text is not None:
            return self._text[start:end]
        bi, li, first_start = self._locate_offset(start)
        bj, lj, _ = self._locate_offset(end)
        blocks = self._blocks
        if bi == bj:
            pieces = blocks[bi].lines[li : lj + 1]
        else:
            pieces = blocks[bi].lines[li:]
            for k in range(bi + 1, bj):
                pieces.extend(blocks[k].lines)
            pieces.extend(blocks[bj].lines[: lj + 1])
        return "".join(pieces)[start - first_start : end - first_start]

    def window(self, offset: int, before_chars: int, after_chars: int) -> tuple[str, str]:
        """(prefix, suffix): up to ``before_chars`` before and ``after_chars`` after ``offset``.

        For building prompts around the cursor on huge files without joining the whole text.
        """
        offset = self._clamp_offset(offset)
        before = self.text_range(offset - max(before_chars, 0), offset)
        after = self.text_range(offset, offset + max(after_chars, 0))
        return before, after

    # -- editing ----------------------------------------------------------------------------

    def apply_change(
        self,
        text: str,
        range: Range | None,
        encoding: PositionEncoding,
        version: int | None = None,
    ) -> None:
        """Apply one ``contentChanges`` entry; ``range=None`` replaces the whole text.

        Positions are clamped like :meth:`offset_at`; a reversed range is treated as if its
        ends were swapped.
        """
        if range is None:
            self._reset(text)
        else:
            start_line, start_char, end_line, end_char = range
            a = self._resolve(start_line, start_char, encoding)
            b = self._resolve(end_line, end_char, encoding)
            if b[3] < a[3]:
                a, b = b, a
            self._splice(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], text)
        if version is not None:
            self.version = version

    def replace(self, start: int, end: int, text: str) -> None:
        """Replace ``text[start:end]`` (offsets, clamped, swapped if reversed) with ``text``.

        Unlike LSP positions, offsets can point between the ``\\r`` and ``\\n`` of a pair.
        """
        start = self._clamp_offset(start)
        end = self._clamp_offset(end)
        if end < start:
            start, end = end, start
        bi, li, a_start = self._locate_offset(start)
        bj, lj, b_start = self._locate_offset(end)
        self._splice(bi, li, a_start, start, bj, lj, b_start, end, text)

    def _splice(
        self,
        bi: int,
        li: int,
        a_start: int,
        start: int,
        bj: int,
        lj: int,
        b_start: int,
        end: int,
        text: str,
    ) -> None:
        """Replace ``[start, end)`` with ``text``; the lines holding both ends are given.

        Re-splits only the lines the edit touches, widened by one line when the edit joins a
        ``\\r`` to a ``\\n`` across a line boundary, so ``\\r\\n`` pairs made or broken by the
        edit are indexed exactly as a fresh split of the new text would index them.
        """
        if start == end and not text:
            return
        first = self._line_number(bi, li)
        last = self._line_number(bj, lj)
        a_line = self._blocks[bi].lines[li]
        b_line = self._blocks[bj].lines[lj]
        combined = a_line[: start - a_start] + text + b_line[end - b_start :]
        if first > 0 and combined.startswith("\n"):
            pbi, pli, _ = self._locate_line(first - 1)
            previous = self._blocks[pbi].lines[pli]
            if previous.endswith("\r"):
                first -= 1
                combined = previous + combined
        if combined.endswith("\r") and last + 1 < self._line_count:
            nbi, nli, _ = self._locate_line(last + 1)
            following = self._blocks[nbi].lines[nli]
            if following.startswith("\n"):
                last += 1
                combined += following
        new_lines = split_lines(combined)
        if last < self._line_count - 1:
            # `combined` ends with the break of a line that is not the last one: the empty
            # remainder after it is not a line of the document.
            new_lines.pop()
        self._length += len(text) - (end - start)
        self._replace_lines(first, last + 1, new_lines)

    def _replace_lines(self, first: int, stop: int, new_lines: list[str]) -> None:
        """Replace lines ``[first, stop)`` with ``new_lines`` (non-empty), keeping blocks sized."""
        blocks = self._blocks
        bi, li, _ = self._locate_line(first)
        bj, lj, _ = self._locate_line(stop - 1)
        block = blocks[bi]
        if bi == bj:
            removed = block.lines[li : lj + 1]
            block.lines[li : lj + 1] = new_lines
        else:
            removed = block.lines[li:]
            for k in range(bi + 1, bj):
                removed.extend(blocks[k].lines)
            removed.extend(blocks[bj].lines[: lj + 1])
            block.lines[li:] = new_lines
            del blocks[bj].lines[: lj + 1]
        counts = self._endings
        for old in removed:
            kind = _ending_kind(old)
            if kind >= 0:
                counts[kind] -= 1
        for new in new_lines:
            kind = _ending_kind(new)
            if kind >= 0:
                counts[kind] += 1
        line_delta = len(new_lines) - len(removed)
        self._line_count += line_delta
        self._text = None
        size = len(block.lines)
        if bi == bj and size <= 2 * _BLOCK and (size >= _BLOCK // 4 or len(blocks) == 1):
            # The common case (typing): one block changes size; O(edit + log blocks).
            char_delta = sum(map(len, new_lines)) - sum(map(len, removed))
            block.chars += char_delta
            block.starts = None
            if self._char_index is not None and self._line_index is not None:
                self._char_index.add(bi, char_delta)
                self._line_index.add(bi, line_delta)
            return
        if bi != bj:
            del blocks[bi + 1 : bj]
            self._rebalance(bi + 1)
        self._rebalance(bi)
        self._char_index = self._line_index = None

    def _rebalance(self, k: int) -> None:
        """Refresh block ``k`` after an edit; drop it if empty, merge if tiny, split if big."""
        blocks = self._blocks
        if k >= len(blocks):
            return
        block = blocks[k]
        if not block.lines:
            if len(blocks) > 1:
                del blocks[k]
            return
        if len(block.lines) < _BLOCK // 4 and len(blocks) > 1:
            if k > 0:
                k -= 1
            blocks[k].lines.extend(blocks[k + 1].lines)
            del blocks[k + 1]
        lines = blocks[k].lines
        if len(lines) > 2 * _BLOCK:
            blocks[k : k + 1] = [
                _Block(lines[i : i + _BLOCK]) for i in range(0, len(lines), _BLOCK)
            ]
        else:
            blocks[k] = _Block(lines)


class DocumentStore:
    """The documents the client has opened, by URI.  Never reads the disk.

    Iterating yields :class:`Document` objects; :meth:`uris` lists the URIs.
    """

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}

    def open(self, uri: str, text: str, version: int = 0, language_id: str = "") -> Document:
        """Start tracking ``uri`` (``didOpen``); reopening replaces the previous buffer."""
        document = Document(uri, text, version=version, language_id=language_id)
        self._documents[uri] = document
        return document

    def get(self, uri: str) -> Document | None:
        """The open document, or ``None``: unopened files are the caller's business."""
        return self._documents.get(uri)

    def change(
        self,
        uri: str,
        changes: Sequence[Change],
        version: int | None,
        encoding: PositionEncoding,
    ) -> Document:
        """Apply ``didChange`` content changes in order; raises ``KeyError`` for unknown URIs.

        Each change's range refers to the text left by the previous ones (LSP 3.17).
        """
        document = self._documents[uri]
        for text, change_range in changes:
            document.apply_change(text, change_range, encoding)
        if version is not None:
            document.version = version
        return document

    def close(self, uri: str) -> None:
        """Forget ``uri`` (``didClose``); closing an unknown URI is a no-op."""
        self._documents.pop(uri, None)

    def uris(self) -> list[str]:
        return list(self._documents)

    def __contains__(self, uri: object) -> bool:
        return uri in self._documents

    def __iter__(self) -> Iterator[Document]:
        return iter(list(self._documents.values()))

    def __len__(self) -> int:
        return len(self._documents)
