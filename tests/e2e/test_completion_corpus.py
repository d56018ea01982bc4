"""A slice of the completion corpus end to end: the real server over stdio, the fake backend
sending each reply as an SSE stream, the inline item applied as VS Code applies it."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import apply_edit, encoding_of, fake_env, inline, lsp_session, open_doc

CORPUS = Path(__file__).resolve().parents[1] / "data" / "completion_corpus" / "cases.py"
_data = runpy.run_path(str(CORPUS))
CURSOR: str = _data["CURSOR"]
SLICE = [
    "py_body_opens_block_keeps_sibling_return", "py_prose_already_complete",
    "py_fence_col0_if_block", "py_crlf_reply_multiline", "py_repeated_suffix_line",
    "js_body_closer_already_in_file", "js_intro_fence_explanation",
    "ts_fence_col0_statements", "ts_crlf_method_body",
    "go_if_then_return_b", "go_prose_only",
    "rust_match_arms", "rust_crlf_body",
]
EXT = {"python": "py", "javascript": "js", "typescript": "ts", "go": "go", "rust": "rs"}


def _position(text: str, offset: int) -> tuple[int, int]:
    """(line, UTF-16 character) of an offset; the slice is ASCII."""
    head = text[:offset]
    return head.count("\n"), offset - (head.rfind("\n") + 1)


async def test_corpus_slice_over_stdio(fake: FakeBackend) -> None:
    cases: dict[str, Any] = {c.id: c for c in _data["CASES"]}
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, result):
        for n, case_id in enumerate(SLICE):
            case = cases[case_id]
            offset = case.buffer.index(CURSOR)
            text = case.buffer.replace(CURSOR, "", 1)
            uri = f"file:///tmp/devstral-corpus/c{n}.{EXT[case.lang]}"
            fake.enqueue(Reply.text(case.reply, chunk_chars=5))
            open_doc(lsp, uri, text, language_id=case.lang)
            line, char = _position(text, offset)
            got = await inline(lsp, uri, line, char)
            assert got is not None
            if case.expected is None:
                assert not got.items, case_id
                continue
            assert got.items, case_id
            item = got.items[0]
            assert item.range is not None and isinstance(item.insert_text, str)
            applied = apply_edit(text, item.range, item.insert_text, encoding_of(result))
            assert applied == case.expected, case_id
    assert len(fake.completion_requests) == len(SLICE)
