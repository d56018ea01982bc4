"""Which actions are offered where (no model involved)."""

from __future__ import annotations

from pathlib import Path

from lsp_server.actions.catalog import ActionId, Diag, kind_allowed, select_actions
from lsp_server.actions.scope import (
    enclosing_definition,
    has_docstring,
    is_stub,
    is_test_file,
    lines_of,
)
from lsp_server.actions.testfile import matching_test_path

SRC = '''import os


@cache
def add(a, b):
    return a


def stub(x):
    """Doc."""
    raise NotImplementedError


class C:
    def m(
        self,
        y,
    ):
        # TODO: handle negative y
        return y


def f():
    pass
'''
LINES = lines_of(SRC)


def ids(offers: list) -> list[ActionId]:
    return [o.action for o in offers]


def test_definition_blocks() -> None:
    b = enclosing_definition(LINES, 5)
    assert b is not None and (b.start, b.header, b.end) == (3, 4, 5)
    assert not has_docstring(LINES, b) and not is_stub(LINES, b)
    s = enclosing_definition(LINES, 9)
    assert s is not None and s.header == 8 and is_stub(LINES, s) and has_docstring(LINES, s)
    m = enclosing_definition(LINES, 18)
    assert m is not None and m.header == 14 and m.body_start == 18 and m.end == 19
    assert enclosing_definition(LINES, 0) is None


def test_cursor_in_function_without_docstring() -> None:
    offers = select_actions(LINES, (5, 4), (5, 4), can_generate_tests=True)
    assert ids(offers) == [ActionId.DOCSTRING, ActionId.EXPLAIN, ActionId.TESTS,
                           ActionId.EDIT_WORKSPACE]
    doc = offers[0]
    assert doc.start == (3, 0) and doc.end == (6, 0)  # decorator to end, whole lines


def test_stub_offers_implement_and_todo() -> None:
    assert ActionId.IMPLEMENT in ids(select_actions(LINES, (9, 0), (9, 0)))
    offers = select_actions(LINES, (18, 0), (18, 0))
    assert ActionId.IMPLEMENT in ids(offers)
    edit_ws = offers[-1]
    assert edit_ws.action is ActionId.EDIT_WORKSPACE
    assert edit_ws.instruction == "handle negative y"
    assert ActionId.IMPLEMENT in ids(select_actions(LINES, (23, 4), (23, 4)))


def test_selection_offers_rewrite_and_diagnostics_fix() -> None:
    diag = Diag(5, 5, "Unused variable", "ruff", "F841")
    offers = select_actions(LINES, (4, 0), (6, 0), diagnostics=[diag])
    assert ids(offers)[:2] == [ActionId.FIX, ActionId.REWRITE]
    fix = offers[0]
    assert fix.diagnostics == ("line 6: ruff [F841]: Unused variable",)
    assert fix.title.startswith("Fix with Devstral")
    assert offers[1].start == (4, 0) and offers[1].end == (6, 0)


def test_cursor_fix_covers_diagnostic_lines() -> None:
    offers = select_actions(LINES, (1, 0), (1, 0), diagnostics=[Diag(0, 0, "unused import")])
    fix = offers[0]
    assert fix.action is ActionId.FIX and fix.start == (0, 0) and fix.end == (2, 0)


def test_only_filter() -> None:
    offers = select_actions(LINES, (4, 0), (6, 0), only=["quickfix"],
                            diagnostics=[Diag(5, 5, "x")])
    assert ids(offers) == [ActionId.FIX]
    offers = select_actions(LINES, (4, 0), (6, 0), only=["refactor"])
    assert ActionId.REWRITE in ids(offers) and ActionId.EXPLAIN not in ids(offers)
    assert kind_allowed("refactor.rewrite", ["refactor"])
    assert not kind_allowed("refactor", ["refactor.rewrite"])


def test_other_languages() -> None:
    ts = lines_of("export async function load(id: string): Promise<void> {\n"
                  "  throw new Error('not implemented');\n}\n")
    b = enclosing_definition(ts, 1)
    assert b is not None and b.end == 2 and is_stub(ts, b)
    go = lines_of("func Add(a, b int) int {\n\treturn a + b\n}\n")
    b = enclosing_definition(go, 1)
    assert b is not None and b.end == 2 and not is_stub(go, b)


def test_test_paths(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    assert matching_test_path(tmp_path / "pkg" / "calc.py", [tmp_path]) == (
        tmp_path / "tests" / "test_calc.py")
    other = tmp_path / "other"
    assert matching_test_path(other / "calc.py", [other]) == other / "test_calc.py"
    assert matching_test_path(tmp_path / "a.go") == tmp_path / "a_test.go"
    assert matching_test_path(tmp_path / "a.ts") == tmp_path / "a.test.ts"
    assert matching_test_path(tmp_path / "lib.rs") == tmp_path / "lib.rs"
    assert matching_test_path(tmp_path / "x.txt") is None
    assert matching_test_path(tmp_path / "test_x.py") is None
    assert is_test_file("/a/tests/test_x.py") and not is_test_file("/a/x.py")
