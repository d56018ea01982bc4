"""The completion corpus: realistic replies → the exact buffer after accepting the suggestion.

Each reply goes through the same cleanup and inline-item builder as the server
(`clean_completion`, then `inline_items`), the item is applied as VS Code applies it (its range
replaced by its insertText), and the whole resulting buffer must equal the hand-written one.
Python results must compile with `ast`; JavaScript, TypeScript, Go and Rust results must parse
with tree-sitter without ERROR or MISSING nodes. bench/RESULTS.md records the pass rate
(`python3 -m pytest tests/unit/test_completion_corpus.py`).
"""

from __future__ import annotations

import ast
import runpy
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from lsp_server.completion.pipeline import Suggestion
from lsp_server.completion.postprocess import clean_completion, decide_multiline
from lsp_server.context.grammars import parser_for
from lsp_server.documents import Document, PositionEncoding
from lsp_server.features.completion_items import inline_items
from lsp_server.text import normalize_newlines

CORPUS = Path(__file__).resolve().parents[1] / "data" / "completion_corpus" / "cases.py"
_data = runpy.run_path(str(CORPUS))
CASES: list[Any] = _data["CASES"]
CURSOR: str = _data["CURSOR"]
_GRAMMAR = {"javascript": "javascript", "typescript": "typescript", "go": "go", "rust": "rust"}


def accept(case: Any) -> str:
    """The buffer after the user accepts the server's first inline item (or the buffer as it
    was when there is none)."""
    offset = case.buffer.index(CURSOR)
    text = case.buffer.replace(CURSOR, "", 1)
    doc = Document("file:///corpus/" + case.id, text, version=1, language_id=case.lang)
    # The context engine hands the cleanup "\n" text; the pipeline decides multi-line the same way.
    prefix = normalize_newlines(text[:offset])
    suffix = normalize_newlines(text[offset:])
    line_before = prefix.rsplit("\n", 1)[-1]
    line_after = suffix.split("\n", 1)[0]
    cleaned = clean_completion(case.reply, prefix=prefix, suffix=suffix, language_id=case.lang,
                               multiline=decide_multiline(line_before, line_after))
    if not cleaned:
        return text
    line, char = doc.position_at(offset, PositionEncoding.UTF16)
    pos = types.Position(line=line, character=char)
    item = inline_items(doc, offset, pos, Suggestion(cleaned, "model"),
                        types.Position(line=line, character=0))[0]
    assert item.range is not None and isinstance(item.insert_text, str)
    start = doc.offset_at(item.range.start.line, item.range.start.character,
                          PositionEncoding.UTF16)
    end = doc.offset_at(item.range.end.line, item.range.end.character, PositionEncoding.UTF16)
    return text[:start] + item.insert_text + text[end:]


def parse_problems(lang: str, text: str) -> list[str]:
    if lang == "python":
        try:
            ast.parse(text)
        except SyntaxError as exc:
            return [f"SyntaxError: {exc}"]
        return []
    tree = parser_for(_GRAMMAR[lang]).parse(text.encode())
    bad: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            bad.append(f"{node.type} at {node.start_point}")
        stack.extend(node.children)
    return bad


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case(case: Any) -> None:
    got = accept(case)
    want = case.buffer.replace(CURSOR, "", 1) if case.expected is None else case.expected
    assert got == want
    if case.expected is not None:
        assert parse_problems(case.lang, got) == []


def test_corpus_is_large_and_covers_every_language() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.lang for c in CASES} == {"python", "javascript", "typescript", "go", "rust"}
    for case in CASES:
        assert case.buffer.count(CURSOR) == 1, case.id
    assert sum(c.expected is None for c in CASES) >= 8  # prose-only replies give nothing
    assert sum("\r\n" in c.buffer for c in CASES) >= 5


def test_parse_check_catches_broken_code() -> None:
    assert parse_problems("python", "def f(x):\n    if x > 0:\n    print(x)\n")
    assert parse_problems("javascript", "function f() {\n  return 1;\n")
    assert parse_problems("typescript", "function f(): number {\n  return (1;\n}\n")
