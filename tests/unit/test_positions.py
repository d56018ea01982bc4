"""The position codec's contract (`lsp_server/positions.py`), and its two users agreeing on it:
the live document store and the `LineIndex` snapshots edits are computed against."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from lsp_server.documents import Document
from lsp_server.positions import LineIndex, PositionEncoding, negotiate, normalize_encoding

U8, U16, U32 = PositionEncoding.UTF8, PositionEncoding.UTF16, PositionEncoding.UTF32
ENCODINGS = [U8, U16, U32]


def both(text: str, encoding: PositionEncoding) -> tuple[LineIndex, Document]:
    return LineIndex(text, encoding), Document("file:///t", text)


def test_negotiate_prefers_utf8_then_the_clients_first_known() -> None:
    assert negotiate(None) is U16
    assert negotiate([]) is U16
    assert negotiate(["utf-16", "utf-8"]) is U8
    assert negotiate(["utf-32", "utf-16"]) is U32
    assert negotiate(["latin-1", "utf-16"]) is U16
    assert negotiate(["UTF-8", "ascii"]) is U16  # exact names, as pygls matches them
    assert negotiate([lsp.PositionEncodingKind.Utf32]) is U32
    assert negotiate([8, None, "utf-32"]) is U32  # junk in the JSON is skipped


def test_normalize_encoding() -> None:
    assert normalize_encoding(None) is U16
    assert normalize_encoding("UTF-8") is U8
    assert normalize_encoding(lsp.PositionEncodingKind.Utf32) is U32
    assert normalize_encoding(U8) is U8
    with pytest.raises(ValueError):
        normalize_encoding("latin-1")


def test_surrogate_pair_rounds_down_in_both() -> None:
    text = "a😀b\n"
    for index_, doc in [both(text, U16)]:
        assert index_.offset_at(0, 1) == doc.offset_at(0, 1, U16) == 1
        assert index_.offset_at(0, 2) == doc.offset_at(0, 2, U16) == 1  # inside the pair
        assert index_.offset_at(0, 3) == doc.offset_at(0, 3, U16) == 2
        assert index_.position_at(2) == doc.position_at(2, U16) == (0, 3)
    u8 = LineIndex(text, U8)
    assert [u8.offset_at(0, c) for c in range(7)] == [0, 1, 1, 1, 1, 2, 3]
    assert u8.position_at(3) == (0, 6)
    u32 = LineIndex(text, U32)
    assert u32.offset_at(0, 2) == 2 and u32.position_at(2) == (0, 2)


def test_lone_surrogate_is_one_utf16_unit() -> None:
    index_ = LineIndex("\ud800x", U16)
    assert index_.offset_at(0, 1) == 1 and index_.position_at(2) == (0, 2)


def test_crlf_positions() -> None:
    text = "ab\r\ncd\r\n"
    for enc in ENCODINGS:
        index_, doc = both(text, enc)
        assert index_.offset_at(0, 99) == doc.offset_at(0, 99, enc) == 2  # before the \r\n
        assert index_.position_at(3) == doc.position_at(3, enc) == (0, 2)  # between \r and \n
        assert index_.position_at(4) == doc.position_at(4, enc) == (1, 0)
        assert index_.position_at(8) == doc.position_at(8, enc) == (2, 0)  # the empty last line
        assert index_.starts == [0, 4, 8]


def test_past_the_end_and_negative_positions_clamp() -> None:
    text = "one\ntwo"
    for enc in ENCODINGS:
        index_, doc = both(text, enc)
        assert index_.offset_at(9, 0) == doc.offset_at(9, 0, enc) == len(text)
        assert index_.offset_at(1, 99) == doc.offset_at(1, 99, enc) == len(text)
        assert index_.offset_at(-1, -5) == doc.offset_at(-1, -5, enc) == 0


def test_out_of_range_offsets_are_rejected_by_snapshots_and_clamped_by_documents() -> None:
    index_, doc = both("abc", U16)
    with pytest.raises(ValueError):
        index_.position_at(4)
    with pytest.raises(ValueError):
        index_.position_at(-1)
    assert doc.position_at(4, U16) == (0, 3) and doc.position_at(-1, U16) == (0, 0)


def test_lsp_position_helpers() -> None:
    index_ = LineIndex("x😀\ny", "utf-16")
    assert index_.position(3) == lsp.Position(line=1, character=0)
    assert index_.offset(lsp.Position(line=0, character=3)) == 2


_alphabet = st.sampled_from([*"ab\t\n\r", "\r\n", "é", "😀", "中", "\u2028", "\x0c", "\ud800"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=30).map("".join), st.sampled_from(ENCODINGS),
       st.integers(-2, 8), st.integers(-2, 12))
def test_document_and_line_index_agree(text: str, enc: PositionEncoding, line: int,
                                       character: int) -> None:
    index_, doc = both(text, enc)
    assert index_.offset_at(line, character) == doc.offset_at(line, character, enc)
    for offset in range(len(text) + 1):
        assert index_.position_at(offset) == doc.position_at(offset, enc)
