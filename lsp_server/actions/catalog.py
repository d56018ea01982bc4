"""Which Devstral code actions apply at a range: decided from the text alone, never the model.

Each action has a `CodeActionKind` so editors can filter (VS Code's lightbulb shows quick fixes,
its refactor menu `refactor.*`), a title, a command name (for clients that cannot resolve, and
for editor plugins that call it directly) and a *target*: the range the model rewrites. Targets
are either the user's selection exactly as given, or whole lines (`(line, 0)` to `(line + 1, 0)`),
which need no position-encoding conversion.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import command_names
from .scope import Lines, enclosing_definition, find_todo, has_docstring, is_stub

DEFAULT_INSTRUCTION = "Improve clarity without changing behaviour"
"""What "Rewrite selection…" does when the client cannot ask the user for an instruction."""


class ActionId(enum.StrEnum):
    FIX = "fix"
    REWRITE = "rewrite"
    DOCSTRING = "docstring"
    IMPLEMENT = "implement"
    EXPLAIN = "explain"
    TESTS = "tests"
    EDIT_WORKSPACE = "editWorkspace"


KIND: dict[ActionId, str] = {
    ActionId.FIX: "quickfix",
    ActionId.REWRITE: "refactor.rewrite",
    ActionId.DOCSTRING: "refactor.rewrite",
    ActionId.IMPLEMENT: "refactor.rewrite",
    # Not a change to the code: the empty kind keeps it out of the refactor/source menus.
    ActionId.EXPLAIN: "",
    ActionId.TESTS: "refactor",
    ActionId.EDIT_WORKSPACE: "refactor",
}

COMMAND: dict[ActionId, str] = {
    ActionId.FIX: command_names.FIX,
    ActionId.REWRITE: command_names.REWRITE,
    ActionId.DOCSTRING: command_names.ADD_DOCSTRING,
    ActionId.IMPLEMENT: command_names.IMPLEMENT,
    ActionId.EXPLAIN: command_names.EXPLAIN,
    ActionId.TESTS: command_names.GENERATE_TESTS,
    ActionId.EDIT_WORKSPACE: command_names.EDIT_WORKSPACE,
}
ACTION_OF_COMMAND = {v: k for k, v in COMMAND.items()}

EDIT_ACTIONS = frozenset(
    {ActionId.FIX, ActionId.DOCSTRING, ActionId.IMPLEMENT, ActionId.TESTS, ActionId.REWRITE}
)
"""Actions whose result is an edit (resolvable); Explain and Edit across files run as commands."""

RESOLVABLE = frozenset({ActionId.FIX, ActionId.DOCSTRING, ActionId.IMPLEMENT, ActionId.TESTS})
"""Computed in `codeAction/resolve` when the client can resolve `edit`. "Rewrite selection…"
always carries its command so an editor plugin can intercept it and ask for the instruction."""

Pos = tuple[int, int]


@dataclass(frozen=True)
class Offer:
    """One action to list."""

    action: ActionId
    title: str
    start: Pos
    end: Pos
    diagnostics: tuple[str, ...] = ()
    instruction: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return KIND[self.action]


@dataclass(frozen=True)
class Diag:
    """What the catalog needs of a diagnostic: its lines and a message for the prompt."""

    start_line: int
    end_line: int
    message: str
    source: str | None = None
    code: str | None = None

    def describe(self) -> str:
        where = f"line {self.start_line + 1}"
        tag = " ".join(x for x in (self.source, f"[{self.code}]" if self.code else None) if x)
        return f"{where}: {tag + ': ' if tag else ''}{self.message}"


def kind_allowed(kind: str, only: Sequence[str] | None) -> bool:
    """LSP `context.only` filtering: hierarchical prefix match (`refactor` admits
    `refactor.rewrite`); the empty kind only when asked for explicitly or unfiltered."""
    if not only:
        return True
    for want in only:
        if want == kind or (want and kind.startswith(want + ".")):
            return True
    return False


def _lines_span(first: int, last: int, n_lines: int) -> tuple[Pos, Pos]:
    """Whole lines `first..last`, including the last line's break when there is one."""
    if last + 1 < n_lines:
        return (first, 0), (last + 1, 0)
    return (first, 0), (last, 10**9)  # clamped to the line end by the document


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def select_actions(
    lines: Lines,
    start: Pos,
    end: Pos,
    *,
    diagnostics: Sequence[Diag] = (),
    only: Sequence[str] | None = None,
    can_generate_tests: bool = False,
    in_test_file: bool = False,
) -> list[Offer]:
    """The actions to list for a selection `start..end` (equal when there is only a cursor)."""
    n = len(lines)
    has_selection = start != end
    first_line, last_line = start[0], end[0]
    if has_selection and end[1] == 0 and last_line > first_line:
        last_line -= 1  # a selection of whole lines ends at column 0 of the next line
    offers: list[Offer] = []
    block = enclosing_definition(lines, first_line)

    if diagnostics:
        d_first = min([d.start_line for d in diagnostics] + [first_line])
        d_last = max([d.end_line for d in diagnostics] + [last_line])
        if has_selection:
            s, e = start, end
        else:
            s, e = _lines_span(d_first, d_last, n)
        first_msg = _short(diagnostics[0].message)
        title = "Fix with Devstral" + (f": {first_msg}" if first_msg else "")
        offers.append(Offer(ActionId.FIX, title, s, e,
                            diagnostics=tuple(d.describe() for d in diagnostics)))

    if has_selection:
        offers.append(Offer(ActionId.REWRITE, "Devstral: Rewrite selection…", start, end,
                            instruction=DEFAULT_INSTRUCTION))

    if block is not None and not has_docstring(lines, block):
        s, e = _lines_span(block.start, block.end, n)
        offers.append(Offer(ActionId.DOCSTRING, "Devstral: Add docstring", s, e))

    todo = find_todo(lines, first_line, last_line)
    if block is not None and (is_stub(lines, block) or (
            todo is not None and block.start <= todo[0] <= block.end)):
        s, e = _lines_span(block.start, block.end, n)
        offers.append(Offer(ActionId.IMPLEMENT, "Devstral: Implement this function", s, e))
    elif todo is not None:
        s, e = (start, end) if has_selection else _lines_span(todo[0], todo[0], n)
        title = "Devstral: Implement TODO" + (f": {_short(todo[1], 40)}" if todo[1] else "")
        offers.append(Offer(ActionId.IMPLEMENT, title, s, e))

    if has_selection:
        offers.append(Offer(ActionId.EXPLAIN, "Devstral: Explain selection", start, end))
    elif block is not None:
        s, e = _lines_span(block.start, block.end, n)
        offers.append(Offer(ActionId.EXPLAIN, "Devstral: Explain this code", s, e))

    if can_generate_tests and not in_test_file and (block is not None or has_selection):
        if has_selection:
            s, e = start, end
        else:
            assert block is not None
            s, e = _lines_span(block.start, block.end, n)
        offers.append(Offer(ActionId.TESTS, "Devstral: Generate tests", s, e))

    offers.append(Offer(ActionId.EDIT_WORKSPACE, "Devstral: Edit across files…", start, end,
                        instruction=todo[1] if todo and todo[1] else None))
    return [o for o in offers if kind_allowed(o.kind, only)]
