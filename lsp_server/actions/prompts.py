"""The chat messages for each code action.

One short system prompt, then a user message with the file's path and language, a window of the
file around the selection with the selection marked, the selection itself, the diagnostics (for
fixes) and the task. The output format is the simplest one that parses robustly: exactly one
fenced code block holding the complete replacement for the selection (`parse.parse_code_reply`).
Explanations are free Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .catalog import ActionId

CONTEXT_BEFORE_CHARS = 6000
CONTEXT_AFTER_CHARS = 3000

SYSTEM = (
    "You are Devstral, an expert software engineer working inside the user's code editor. "
    "You change exactly the code you are given, keep the surrounding style, naming and "
    "indentation, and never invent APIs the code does not have."
)

CODE_FORMAT = (
    "Reply with exactly one fenced code block containing the complete new text that replaces "
    "the selected code (all of it, not a diff, not only the changed lines), with its indentation "
    "as it should appear in the file. Do not include the code around the selection. No "
    "explanations outside the code block."
)


@dataclass(frozen=True)
class ActionInput:
    """Everything a prompt needs, already cut from the document."""

    action: ActionId
    path: str
    language: str
    before: str
    """File text before the selection (a window, cut at a line start)."""
    selection: str
    after: str
    """File text after the selection (a window, cut at a line end)."""
    start_line: int
    """0-based first line of the selection."""
    diagnostics: Sequence[str] = ()
    instruction: str | None = None
    test_path: str | None = None
    test_existing: str | None = None
    """Current text of the test file (head and tail if long), None when it does not exist."""


def _fence(language: str) -> str:
    return {"typescriptreact": "tsx", "javascriptreact": "jsx", "shellscript": "bash"}.get(
        language, language)


def _context(inp: ActionInput) -> str:
    lang = _fence(inp.language)
    lines = inp.selection.count("\n") + (0 if inp.selection.endswith("\n") else 1)
    end_line = inp.start_line + max(lines, 1)
    return (
        f"File: {inp.path} (language: {inp.language or 'unknown'})\n\n"
        f"The file around the selection; the selection (lines {inp.start_line + 1}-{end_line}) "
        f"is between <selection> and </selection>:\n"
        f"```{lang}\n{inp.before}<selection>{inp.selection}</selection>{inp.after}\n```\n\n"
        f"The selected code:\n```{lang}\n{inp.selection}"
        f"{'' if inp.selection.endswith(chr(10)) else chr(10)}```"
    )


_TASKS = {
    ActionId.FIX: "Fix the problems reported for the selected code with the smallest correct "
    "change. Keep everything else as it is.",
    ActionId.DOCSTRING: "Add a concise docstring (or the language's doc comment) to the "
    "definition in the selected code, in the style the file already uses. Document what it "
    "does and why, its parameters, return value and raised errors where useful. Do not change "
    "the code itself.",
    ActionId.IMPLEMENT: "Implement the selected code: replace the stub body or the TODO "
    "comment with a complete, working implementation consistent with the name, signature, "
    "docstring and the rest of the file. Keep the signature.",
}


def build_messages(inp: ActionInput) -> list[dict[str, Any]]:
    """The chat messages for one action."""
    if inp.action is ActionId.EXPLAIN:
        return [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": (
                f"{_context(inp)}\n\nExplain the selected code to a developer reading it for "
                "the first time: what it does, how, and anything surprising (edge cases, "
                "bugs, performance). Answer in concise Markdown with short sections; quote code "
                "in fenced blocks."
            )},
        ]
    if inp.action is ActionId.TESTS:
        if inp.test_existing is None:
            where = (f"The test file {inp.test_path} does not exist yet: write its complete "
                     "content, including the imports it needs.")
        else:
            where = (f"The test file {inp.test_path} already exists:\n```"
                     f"{_fence(inp.language)}\n{inp.test_existing}\n```\nWrite only the new "
                     "tests and any imports it is missing; they are appended to the end of "
                     "that file.")
        task = (
            "Write unit tests for the selected code using the test framework the project "
            f"already uses (pytest for Python unless the file shows otherwise). {where} Cover "
            "normal cases and edge cases; tests must be deterministic.\n"
            "Reply with exactly one fenced code block containing only the test code. No "
            "explanations outside the code block."
        )
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{_context(inp)}\n\n{task}"}]
    parts = [_context(inp)]
    if inp.diagnostics:
        parts.append("Problems reported by the editor:\n" +
                     "\n".join(f"- {d}" for d in inp.diagnostics))
    if inp.action is ActionId.REWRITE:
        task = f"Rewrite the selected code according to this instruction: {inp.instruction}"
    else:
        task = _TASKS[inp.action]
    parts.append(f"Task: {task}\n\n{CODE_FORMAT}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]
