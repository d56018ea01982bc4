"""Tests for the document store: properties against a naive reference, plus explicit cases.

The reference keeps the text as one string and converts positions by walking it code point by
code point, which is obviously right and obviously slow; the store must agree with it after
every edit, in every encoding, including when edits make or break ``\\r\\n`` pairs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server import documents
from lsp_server.documents import Document, DocumentStore, PositionEncoding, split_lines

ENCODINGS = list(PositionEncoding)
U8, U16, U32 = PositionEncoding.UTF8, PositionEncoding.UTF16, PositionEncoding.UTF32

# ---------------------------------------------------------------------------------------------
# Reference implementation


def ref_lines(text: str) -> list[tuple[str, str]]:
    """(content, ending) for each LSP line, by a character-by-character scan."""
    out: list[tuple[str, str]] = []
    start = i = 0
    while i < len(text):
        if text[i] == "\r" and text[i + 1 : i + 2] == "\n":
            out.append((text[start:i], "\r\n"))
            i += 2
            start = i
        elif text[i] in "\r\n":
            out.append((text[start:i], text[i]))
            i += 1
            start = i
        else:
            i += 1
    out.append((text[start:], ""))
    return out


def width(ch: str, encoding: PositionEncoding) -> int:
    if encoding is U32:
        return 1
    if encoding is U16:
        return 2 if ord(ch) > 0xFFFF else 1
    return len(ch.encode("utf-8", "surrogatepass"))


def ref_offset(text: str, line: int, character: int, encoding: PositionEncoding) -> int:
    lines = ref_lines(text)
    line, character = max(line, 0), max(character, 0)
    if line >= len(lines):
        return len(text)
    offset = sum(len(c) + len(e) for c, e in lines[:line])
    units = 0
    content = lines[line][0]
    for i, ch in enumerate(content):
        w = width(ch, encoding)
        if units + w > character:  # inside (or past) this code point: round down
            return offset + i
        units += w
    return offset + len(content)


def ref_position(text: str, offset: int, encoding: PositionEncoding) -> tuple[int, int]:
    offset = min(max(offset, 0), len(text))
    lines = ref_lines(text)
    start = 0
    for n, (content, ending) in enumerate(lines):
        end = start + len(content) + len(ending)
        if offset < end or n == len(lines) - 1:
            column = min(offset - start, len(content))
            return n, sum(width(ch, encoding) for ch in content[:column])
        start = end
    raise AssertionError("unreachable")


def ref_units(content: str, encoding: PositionEncoding) -> int:
    return sum(width(ch, encoding) for ch in content)


# ---------------------------------------------------------------------------------------------
# Helpers


@contextmanager
def block_size(size: int) -> Iterator[None]:
    """Shrink blocks so small documents exercise block splits, merges and cross-block edits."""
    saved = documents._BLOCK
    documents._BLOCK = size
    try:
        yield
    finally:
        documents._BLOCK = saved


def check_invariants(doc: Document) -> None:
    """Internal structure matches a fresh split of the text."""
    text = "".join("".join(b.lines) for b in doc._blocks)
    assert all(b.lines for b in doc._blocks)
    assert all(b.chars == sum(map(len, b.lines)) for b in doc._blocks)
    flat = [line for b in doc._blocks for line in b.lines]
    assert flat == split_lines(text)
    assert doc.line_count == len(flat)
    assert doc.length == len(text)
    chars, lines = doc._indexes()
    for k in range(len(doc._blocks) + 1):
        assert chars.prefix(k) == sum(b.chars for b in doc._blocks[:k])
        assert lines.prefix(k) == sum(len(b.lines) for b in doc._blocks[:k])
    crlf = text.count("\r\n")
    assert doc._endings == [text.count("\n") - crlf, crlf, text.count("\r") - crlf]


def check_against_reference(doc: Document, text: str) -> None:
    assert doc.text == text
    assert doc.length == len(text)
    lines = ref_lines(text)
    assert doc.line_count == len(lines)
    for n, (content, _) in enumerate(lines):
        assert doc.line(n) == content
    check_invariants(doc)
    for encoding in ENCODINGS:
        for n, (content, _) in enumerate(lines[:6]):
            for character in range(-1, ref_units(content, encoding) + 3):
                assert doc.offset_at(n, character, encoding) == ref_offset(
                    text, n, character, encoding
                ), (n, character, encoding)
        for offset in range(-1, min(len(text), 40) + 2):
            position = doc.position_at(offset, encoding)
            assert position == ref_position(text, offset, encoding), (offset, encoding)
            # Round trip: a position produced by the store maps back to the offset, except
            # inside a \r\n pair, which maps to the end of the line (before the \r).
            back = doc.offset_at(*position, encoding)
            clamped = min(max(offset, 0), len(text))
            if 0 < clamped < len(text) and text[clamped - 1 : clamped + 1] == "\r\n":
                assert back == clamped - 1
            else:
                assert back == clamped


# ---------------------------------------------------------------------------------------------
# Property tests

PIECES = [
    "a", "b", "x", " ", "\t", "\n", "\r", "\r\n", "\n\r",
    "é", "e\u0301", "中文", "😀", "\U0001f468\u200d\U0001f469", "𝔘", "\u0301",
    "\x00", "\x0c", "\x1c", "\u2028", "\u2029", "\x85", "\x0b",
]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=24).map("".join)
encodings = st.sampled_from(ENCODINGS)

small = st.integers(-1, 8)
column = st.integers(-1, 12)
anywhere = st.integers(-2, 60)
Edit = tuple[str, int, int, int, int, str]
"""(kind, a, b, c, d, text): "pos" replaces range (a, b, c, d); "off" replaces offsets [a, b);
"full" replaces everything."""
edits: st.SearchStrategy[Edit] = st.one_of(
    st.tuples(st.just("pos"), small, column, small, column, texts),
    st.tuples(st.just("off"), anywhere, anywhere, st.just(0), st.just(0), texts),
    st.tuples(st.just("full"), st.just(0), st.just(0), st.just(0), st.just(0), texts),
)


@pytest.mark.parametrize("size", [1, 2, 4, 512])
@settings(max_examples=150, deadline=None)
@given(initial=texts, script=st.lists(st.tuples(edits, encodings), max_size=12))
def test_random_edits_match_reference(
    size: int, initial: str, script: list[tuple[Edit, PositionEncoding]]
) -> None:
    with block_size(size):
        doc = Document("file:///t.py", initial)
        text = initial
        check_against_reference(doc, text)
        for (kind, a, b, c, d, new), encoding in script:
            if kind == "pos":
                start = ref_offset(text, a, b, encoding)
                end = ref_offset(text, c, d, encoding)
                start, end = min(start, end), max(start, end)
                doc.apply_change(new, (a, b, c, d), encoding)
                text = text[:start] + new + text[end:]
            elif kind == "off":
                start, end = (min(max(v, 0), len(text)) for v in (a, b))
                start, end = min(start, end), max(start, end)
                doc.replace(a, b, new)
                text = text[:start] + new + text[end:]
            else:
                doc.apply_change(new, None, encoding)
                text = new
            check_against_reference(doc, text)


@pytest.mark.parametrize("size", [2, 512])
@settings(max_examples=100, deadline=None)
@given(
    initial=texts,
    offset=st.integers(-3, 80),
    before=st.integers(-2, 80),
    after=st.integers(-2, 80),
    edit=st.tuples(anywhere, anywhere, texts),
)
def test_window_and_text_range_match_slicing(
    size: int, initial: str, offset: int, before: int, after: int, edit: tuple[int, int, str]
) -> None:
    with block_size(size):
        doc = Document("u", initial * 3)
        s, e, new = edit
        doc.replace(s, e, new)
        text = doc.text
        doc.replace(len(text), len(text), "z")  # drops the cached text: the slow path is tested
        text += "z"
        assert doc._text is None
        o = min(max(offset, 0), len(text))
        expected = (text[max(o - max(before, 0), 0) : o], text[o : o + max(after, 0)])
        assert doc.window(offset, before, after) == expected
        assert (
            doc.text_range(offset - before, offset + after)
            == text[max(offset - before, 0) : max(offset + after, 0)]
        )


# ---------------------------------------------------------------------------------------------
# Explicit cases


def test_empty_document() -> None:
    doc = Document("u", "")
    assert doc.text == "" and doc.line_count == 1 and doc.line(0) == ""
    for encoding in ENCODINGS:
        assert doc.offset_at(0, 0, encoding) == 0
        assert doc.offset_at(5, 5, encoding) == 0
        assert doc.position_at(3, encoding) == (0, 0)
    assert doc.window(0, 10, 10) == ("", "")
    assert doc.line_ending() == "\n"
    doc.apply_change("hi", (0, 0, 0, 0), U16)
    assert doc.text == "hi"


def test_out_of_range_positions_clamp() -> None:
    doc = Document("u", "ab\r\ncd\nef")
    assert doc.offset_at(-5, -5, U16) == 0
    assert doc.offset_at(0, 99, U16) == 2  # end of line 0, before \r\n
    assert doc.offset_at(1, 99, U8) == 6
    assert doc.offset_at(2, 99, U32) == 9
    assert doc.offset_at(3, 0, U16) == 9  # past the last line: end of document
    assert doc.offset_at(99, 99, U16) == 9
    assert doc.position_at(-3, U16) == (0, 0)
    assert doc.position_at(1000, U16) == (2, 2)
    assert doc.line(-1) == "" and doc.line(3) == ""
    doc.apply_change("X", (99, 0, 99, 0), U16)  # insert past the end appends
    assert doc.text == "ab\r\ncd\nefX"
    doc.apply_change("Y", (1, 5, 0, 1), U16)  # reversed range
    assert doc.text == "aY\nefX"


def test_edit_at_very_end_and_trailing_newline() -> None:
    doc = Document("u", "line\n")
    assert doc.line_count == 2 and doc.line(1) == ""
    doc.apply_change("more", (1, 0, 1, 0), U16)
    assert doc.text == "line\nmore" and doc.line_count == 2
    doc.apply_change("\n", (1, 4, 1, 4), U16)
    assert doc.text == "line\nmore\n" and doc.line_count == 3
    doc.apply_change("", (0, 4, 2, 0), U16)
    assert doc.text == "line" and doc.line_count == 1


def test_full_replacement_and_versions() -> None:
    doc = Document("u", "old\ntext", version=3, language_id="python")
    doc.apply_change("new\r\ncontent\r\n", None, U16, version=4)
    assert doc.text == "new\r\ncontent\r\n" and doc.version == 4
    assert doc.line_count == 3 and doc.line_ending() == "\r\n"
    doc.apply_change("x", (0, 0, 0, 0), U16)
    assert doc.version == 4 and doc.language_id == "python"


def test_surrogate_pair_and_multibyte_rounding() -> None:
    doc = Document("u", "a😀b\né中")
    # UTF-16: 😀 is units 1-2; 2 is between the halves and rounds down to its start.
    assert [doc.offset_at(0, c, U16) for c in range(6)] == [0, 1, 1, 2, 3, 3]
    # UTF-8: 😀 is bytes 1-4.
    assert [doc.offset_at(0, c, U8) for c in range(8)] == [0, 1, 1, 1, 1, 2, 3, 3]
    assert [doc.offset_at(1, c, U8) for c in range(7)] == [4, 4, 5, 5, 5, 6, 6]
    assert [doc.offset_at(0, c, U32) for c in range(5)] == [0, 1, 2, 3, 3]
    assert doc.position_at(2, U16) == (0, 3) and doc.position_at(2, U8) == (0, 5)
    assert doc.position_at(6, U8) == (1, 5) and doc.position_at(6, U32) == (1, 2)


def test_lone_surrogates_count_as_one_unit() -> None:
    doc = Document("u", "\ud83dx\ude00")  # unpaired halves, as JSON can deliver them
    assert doc.offset_at(0, 1, U16) == 1 and doc.position_at(3, U16) == (0, 3)
    assert doc.position_at(3, U8) == (0, 7) and doc.offset_at(0, 4, U8) == 2


def test_control_and_unicode_separators_are_not_line_breaks() -> None:
    text = "a\x00b\x0cc\x1cd\u2028e\u2029f\x85g\x0bh\x1d\x1ei\nj"
    doc = Document("u", text)
    assert doc.line_count == 2
    assert doc.line(0) == text.split("\n")[0]
    assert doc.offset_at(1, 0, U16) == text.index("j")
    assert doc.position_at(text.index("i"), U16) == (0, text.index("i"))
    doc.apply_change("\u2028", (0, 1, 0, 1), U16)
    assert doc.line_count == 2


def test_position_inside_crlf_is_end_of_line() -> None:
    doc = Document("u", "ab\r\ncd")
    assert doc.position_at(2, U16) == (0, 2)
    assert doc.position_at(3, U16) == (0, 2)
    assert doc.position_at(4, U16) == (1, 0)


@pytest.mark.parametrize(
    ("initial", "start", "end", "new", "lines"),
    [
        ("a\r\nb", 2, 2, "X", ["a", "X", "b"]),  # insert between \r and \n: \r, X\n
        ("a\r\nb", 2, 3, "", ["a", "b"]),  # delete the \n after \r: lone \r stays a break
        ("a\r\nb", 1, 2, "", ["a", "b"]),  # delete the \r before \n
        ("a\rX\nb", 2, 3, "", ["a", "b"]),  # deleting X joins \r and \n into one break
        ("a\rb", 2, 2, "\n", ["a", "b"]),  # \n right after a \r-line joins into \r\n
        ("a\rb", 2, 2, "\n\n", ["a", "", "b"]),
        ("a\r\n", 2, 2, "\r", ["a", "", ""]),  # \r inside \r\n: \r, \r\n
        ("a\nb", 1, 1, "\r", ["a", "b"]),  # \r before \n makes \r\n
        ("a\r\r\nb", 2, 4, "\n", ["a", "b"]),  # replacing \r\n by \n after a \r
        ("a\rb\nc", 2, 3, "", ["a", "c"]),  # \r and \n now adjacent: one break
    ],
)
def test_crlf_pairs_made_and_broken_by_edits(
    initial: str, start: int, end: int, new: str, lines: list[str]
) -> None:
    for size in (1, 512):
        with block_size(size):
            doc = Document("u", initial)
            doc.replace(start, end, new)
            expected = initial[:start] + new + initial[end:]
            assert doc.text == expected
            assert [doc.line(i) for i in range(doc.line_count)] == lines
            check_invariants(doc)


def test_crlf_join_through_positions() -> None:
    doc = Document("u", "a\r\nb")
    doc.apply_change("\n", (1, 0, 1, 0), U16)  # lines "a\r\n", "\n", "b"
    assert doc.line_count == 3
    doc2 = Document("u", "a\rb")
    doc2.apply_change("\nc", (1, 0, 1, 0), U16)  # "a\r" + "\nc" -> one \r\n break
    assert doc2.text == "a\r\ncb" and doc2.line_count == 2 and doc2.line(1) == "cb"


def test_line_ending_tracks_edits() -> None:
    doc = Document("u", "a\r\nb\r\nc\n")
    assert doc.line_ending() == "\r\n"
    doc.apply_change("x\ny\nz\n", (3, 0, 3, 0), U16)
    assert doc.line_ending() == "\n"
    assert Document("u", "a\rb\rc").line_ending() == "\r"
    assert Document("u", "no breaks").line_ending() == "\n"


def test_ten_megabyte_document() -> None:
    line = "    value = compute(alpha, beta)  # note\n"  # 41 chars
    text = line * (10_000_000 // len(line) + 1)
    doc = Document("file:///big.py", text)
    n = doc.line_count
    assert n == text.count("\n") + 1
    middle = n // 2
    offset = doc.offset_at(middle, 4, U16)
    assert offset == middle * len(line) + 4
    doc._text = None  # pretend it was edited: window must not need the joined text
    t0 = time.perf_counter()
    for i in range(100):
        doc.apply_change("x", (middle, 4 + i, middle, 4 + i), U16)  # typing "xxx…"
        prefix, suffix = doc.window(doc.offset_at(middle, 5 + i, U16), 2000, 1000)
    per_edit = (time.perf_counter() - t0) / 100
    assert doc._text is None
    assert prefix.endswith("    " + "x" * 100) and suffix.startswith("value")
    assert len(prefix) == 2000 and len(suffix) == 1000
    assert per_edit < 0.005  # generous; typically well under 0.1 ms
    assert doc.text == text[:offset] + "x" * 100 + text[offset:]


def test_edits_spanning_many_blocks() -> None:
    text = "".join(f"line {i}\n" for i in range(5000))
    doc = Document("u", text)
    doc.apply_change("JOINED", (10, 2, 4990, 3), U16)
    expected = (
        text[: ref_offset(text, 10, 2, U16)] + "JOINED" + text[ref_offset(text, 4990, 3, U16) :]
    )
    assert doc.text == expected
    check_invariants(doc)
    paste = "".join(f"p{i}\n" for i in range(3000))
    doc.apply_change(paste, (5, 0, 5, 0), U16)
    expected = (
        expected[: ref_offset(expected, 5, 0, U16)]
        + paste
        + expected[ref_offset(expected, 5, 0, U16) :]
    )
    assert doc.text == expected
    check_invariants(doc)
    assert max(len(b.lines) for b in doc._blocks) <= 2 * documents._BLOCK


def test_store_lifecycle(tmp_path: Path) -> None:
    store = DocumentStore()
    on_disk = tmp_path / "x.py"
    on_disk.write_text("from disk\n")
    assert store.get(on_disk.as_uri()) is None  # never reads the disk
    doc = store.open("file:///a.py", "one\ntwo\n", 1, "python")
    assert store.get("file:///a.py") is doc and len(store) == 1 and "file:///a.py" in store
    store.change(
        "file:///a.py",
        [("ONE", (0, 0, 0, 3)), ("!", (0, 3, 0, 3)), ("2", (1, 0, 1, 3))],
        2,
        U16,
    )
    assert doc.text == "ONE!\n2\n" and doc.version == 2
    store.change("file:///a.py", [("full", None)], 3, U8)
    assert doc.text == "full" and doc.version == 3
    with pytest.raises(KeyError):
        store.change("file:///missing.py", [("x", None)], 1, U16)
    store.open("file:///b.py", "", 0, "")
    assert sorted(store.uris()) == ["file:///a.py", "file:///b.py"]
    assert {d.uri for d in store} == {"file:///a.py", "file:///b.py"}
    store.close("file:///a.py")
    store.close("file:///never-opened.py")
    assert store.get("file:///a.py") is None and len(store) == 1


def test_split_lines() -> None:
    assert split_lines("") == [""]
    assert split_lines("a\nb\r\nc\rd") == ["a\n", "b\r\n", "c\r", "d"]
    assert split_lines("\r\r\n\n") == ["\r", "\r\n", "\n", ""]
    assert split_lines("x\x0cy\u2028z") == ["x\x0cy\u2028z"]
