"""Minimal text edits: applying them reproduces the new text, in every position encoding."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from lsp_server.positions import LineIndex
from lsp_server.text import content_lines as split_lines
from lsp_server.textdiff import (
    apply_text_edits,
    diff_spans,
    text_edits,
)

ENCODINGS = ["utf-16", "utf-8", "utf-32"]


def r(sl: int, sc: int, el: int, ec: int) -> lsp.Range:
    return lsp.Range(
        start=lsp.Position(line=sl, character=sc), end=lsp.Position(line=el, character=ec)
    )


def test_identical_texts_give_no_edits() -> None:
    assert text_edits("a\nb\n", "a\nb\n") == []


def test_single_character_change_is_one_character_edit() -> None:
    edits = text_edits("def foo():\n    return 1\n", "def foo():\n    return 2\n")
    assert edits == [lsp.TextEdit(range=r(1, 11, 1, 12), new_text="2")]


def test_line_insertion_and_deletion() -> None:
    assert text_edits("a\nc\n", "a\nb\nc\n") == [lsp.TextEdit(range=r(1, 0, 1, 0), new_text="b\n")]
    assert text_edits("a\nb\nc\n", "a\nc\n") == [lsp.TextEdit(range=r(1, 0, 2, 0), new_text="")]


def test_separate_hunks_stay_separate() -> None:
    old = "".join(f"line {i}\n" for i in range(50))
    new = old.replace("line 3\n", "line three\n").replace("line 40\n", "line forty\n")
    edits = text_edits(old, new)
    assert len(edits) == 2
    assert edits[0].range.start.line == 3 and edits[1].range.start.line == 40
    assert sum(len(e.new_text) for e in edits) <= len("three") + len("forty")


def test_positions_in_each_encoding() -> None:
    old = "é😀x = 1\n"
    new = "é😀x = 2\n"
    # "é" is 1 UTF-16 unit / 2 UTF-8 bytes, "😀" is 2 UTF-16 units / 4 UTF-8 bytes.
    assert text_edits(old, new, "utf-16")[0].range == r(0, 7, 0, 8)
    assert text_edits(old, new, "utf-8")[0].range == r(0, 10, 0, 11)
    assert text_edits(old, new, "utf-32")[0].range == r(0, 6, 0, 7)
    assert text_edits(old, new, lsp.PositionEncodingKind.Utf8)[0].range == r(0, 10, 0, 11)


def test_unknown_encoding_is_rejected() -> None:
    with pytest.raises(ValueError):
        text_edits("a", "b", "latin-1")


def test_crlf_is_never_split() -> None:
    old = "a\r\nb\r\n"
    for new in ("a\r\nX\r\nb\r\n", "a\nb\r\n", "a\r\n", "a\r\nb\r\nc", "ab\r\n"):
        for enc in ENCODINGS:
            edits = text_edits(old, new, enc)
            assert apply_text_edits(old, edits, enc) == new
            index = LineIndex(old, enc)
            for e in edits:
                for pos in (e.range.start, e.range.end):
                    off = index.offset(pos)
                    assert not (old[off - 1 : off] == "\r" and old[off : off + 1] == "\n")


def test_line_endings_are_kept_as_given() -> None:
    old = "x = 1\r\ny = 2\r\n"
    new = "x = 1\r\nz = 3\r\ny = 2\r\n"
    edits = text_edits(old, new)
    assert edits == [lsp.TextEdit(range=r(1, 0, 1, 0), new_text="z = 3\r\n")]


def test_lsp_line_breaks_only() -> None:
    # \x0c, \x1c, \u2028 are not line breaks for LSP (unlike str.splitlines).
    assert split_lines("a\x0cb\u2028c\nd\re\r\nf") == ["a\x0cb\u2028c\n", "d\r", "e\r\n", "f"]
    old = "a\u2028b\nc\n"
    edits = text_edits(old, "a\u2028b\nC\n")
    assert edits[0].range == r(1, 0, 1, 1)


def test_line_index_clamps_like_lsp() -> None:
    index = LineIndex("ab\r\ncd", "utf-16")
    assert index.offset(lsp.Position(line=0, character=99)) == 2  # before the \r\n
    assert index.offset(lsp.Position(line=9, character=0)) == 6
    assert index.position(4) == lsp.Position(line=1, character=0)
    with pytest.raises(ValueError):
        index.position(7)


def test_apply_rejects_overlaps() -> None:
    edits = [
        lsp.TextEdit(range=r(0, 0, 0, 2), new_text="x"),
        lsp.TextEdit(range=r(0, 1, 0, 3), new_text="y"),
    ]
    with pytest.raises(ValueError):
        apply_text_edits("abcd", edits)


def test_large_file_is_fast_enough() -> None:
    old = "".join(f"value_{i} = {i}\n" for i in range(20_000))
    new = old.replace("value_10000 = 10000\n", "value_10000 = -1\n")
    edits = text_edits(old, new)
    assert len(edits) == 1 and edits[0].range.start.line == 10_000


# ---- properties ----

_alphabet = st.sampled_from([*list("ab \t\n\r"), "\r\n", "é", "😀", "中", "\u2028", "x\n"])
_texts = st.lists(_alphabet, max_size=40).map("".join)


def _mutate(draw: st.DrawFn, text: str) -> str:
    ops = draw(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 5), _texts), max_size=4))
    for pos, length, insert in ops:
        pos = min(pos, len(text))
        text = text[:pos] + insert + text[pos + length :]
    return text


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[str, str]:
    old = draw(_texts)
    new = _mutate(draw, old) if draw(st.booleans()) else draw(_texts)
    return old, new


@settings(max_examples=400, deadline=None)
@given(_pairs(), st.sampled_from(ENCODINGS))
def test_applying_edits_reproduces_new_text(pair: tuple[str, str], encoding: str) -> None:
    old, new = pair
    edits = text_edits(old, new, encoding)
    assert apply_text_edits(old, edits, encoding) == new
    # Edits are sorted and non-overlapping.
    spans = diff_spans(old, new)
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start
    # Minimality: never more replaced/inserted than the two texts' differing middle.
    changed_old = sum(s.end - s.start for s in spans)
    changed_new = sum(len(s.text) for s in spans)
    assert changed_old <= len(old) and changed_new <= len(new)
    if old == new:
        assert edits == []


@settings(max_examples=200, deadline=None)
@given(_texts, _texts, _texts, st.sampled_from(ENCODINGS))
def test_single_local_change_touches_only_the_change(
    prefix: str, middle: str, suffix: str, encoding: str
) -> None:
    old = prefix + suffix
    new = prefix + middle + suffix
    spans = diff_spans(old, new)
    assert apply_text_edits(old, text_edits(old, new, encoding), encoding) == new
    if "\r" in prefix[-1:] + middle + suffix[:1]:
        # A `\r` at the seam may force widening over a CRLF (LSP cannot address its middle).
        assert sum(s.end - s.start for s in spans) <= 2
        return
    # An insertion never deletes anything, and inserts exactly the inserted characters.
    assert all(s.start == s.end for s in spans)
    assert sum(len(s.text) for s in spans) == len(middle)
    assert apply_text_edits(old, text_edits(old, new, encoding), encoding) == new
