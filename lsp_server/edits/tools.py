"""The tools offered to Devstral and their execution against the `Overlay`.

Names, parameters and result/error texts follow OpenHands' `str_replace_editor`, `think` and
`finish`, because Devstral was trained on them: it knows how to recover from "did not appear
verbatim" or "Multiple occurrences" and expects `cat -n` style views. The one addition is a
read-only `search` tool standing in for the `grep` it would run in a shell (nothing is ever
executed here). Every failure is returned as text starting with `ERROR:` — never raised — so the
loop can hand it back to the model as a tool message.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .overlay import Overlay
from .paths import WORKSPACE, PathRefused

if TYPE_CHECKING:
    from ..privacy.vault import SecretVault

log = logging.getLogger(__name__)

EDITOR = "str_replace_editor"
SEARCH = "search"
THINK = "think"
FINISH = "finish"

COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")
SNIPPET_CONTEXT_WINDOW = 4
MAX_RESPONSE_CHARS = 16_000
MAX_DIR_ENTRIES = 300
MAX_SEARCH_MATCHES = 100
MAX_SEARCH_LINE_CHARS = 200
SEARCH_TIME_BUDGET_S = 5.0
MAX_PATTERN_CHARS = 1_000
MAX_TURN_OUTPUT_CHARS = 60_000
"""Total tool-result characters per model turn (~15k tokens): several `view`s of large files
or folders in one reply must not blow up the prompt or the server's memory."""

CLIPPED_NOTICE = (
    "<response clipped><NOTE>To save on context only part of this file has been shown to you. "
    "Use the `search` tool to find the line numbers of what you are looking for, then `view` "
    "with `view_range`.</NOTE>"
)

_EDITOR_DESCRIPTION = """Custom editing tool for viewing, creating and editing files in plain-text format
* State is persistent across command calls and discussions with the user
* If `path` is a file, `view` displays the result of applying `cat -n`. If `path` is a directory, `view` lists non-hidden files and directories up to 2 levels deep
* The `create` command cannot be used if the specified `path` already exists as a file
* If a `command` generates a long output, it will be truncated and marked with `<response clipped>`
* The `undo_edit` command will revert the last edit made to the file at `path`
* Edits are proposed to the user for review; nothing is written to disk and nothing can be executed
Notes for using the `str_replace` command:
* The `old_str` parameter should match EXACTLY one or more consecutive lines from the original file. Be mindful of whitespaces!
* If the `old_str` parameter is not unique in the file, the replacement will not be performed. Make sure to include enough context in `old_str` to make it unique
* The `new_str` parameter should contain the edited lines that should replace the `old_str`
"""  # noqa: E501

_SEARCH_DESCRIPTION = """Search the workspace files for a string or regular expression, like `grep -rn`.
* Read-only; ignored and secret files are skipped
* Results are `path:line: text`, at most 100 matches
* Use it to find where something is defined or used before viewing or editing files
"""  # noqa: E501

_THINK_DESCRIPTION = """Use the tool to think about something. It will not obtain new information or make any changes, but just log the thought. Use it when complex reasoning or brainstorming is needed, e.g. to plan a change across several files."""  # noqa: E501

_FINISH_DESCRIPTION = """Signals the completion of the current task.

Use this tool when:
- You have made all the edits the user asked for
- You cannot proceed further due to limitations or missing information

The message should include a short summary of the changes made, or why the task could not be completed.
"""  # noqa: E501


def tool_schemas(*, allow_create: bool = True) -> list[dict[str, Any]]:
    """The OpenAI `tools` list (function tools) in OpenHands' shape."""
    create_note = (
        ""
        if allow_create
        else "* This editor cannot create new files: `create` is unavailable; put new code in "
        "existing files\n"
    )
    return [
        {
            "type": "function",
            "function": {
                "name": EDITOR,
                "description": _EDITOR_DESCRIPTION + create_note,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "command": {
                            "description": "The commands to run. Allowed options are: `view`, "
                            "`create`, `str_replace`, `insert`, `undo_edit`.",
                            "enum": list(COMMANDS),
                            "type": "string",
                        },
                        "path": {
                            "description": "Absolute path to file or directory, e.g. "
                            "`/workspace/file.py` or `/workspace`.",
                            "type": "string",
                        },
                        "file_text": {
                            "description": "Required parameter of `create` command, with the "
                            "content of the file to be created.",
                            "type": "string",
                        },
                        "old_str": {
                            "description": "Required parameter of `str_replace` command "
                            "containing the string in `path` to replace.",
                            "type": "string",
                        },
                        "new_str": {
                            "description": "Optional parameter of `str_replace` command "
                            "containing the new string (if not given, no string will be added). "
                            "Required parameter of `insert` command containing the string to "
                            "insert.",
                            "type": "string",
                        },
                        "insert_line": {
                            "description": "Required parameter of `insert` command. The "
                            "`new_str` will be inserted AFTER the line `insert_line` of `path`.",
                            "type": "integer",
                        },
                        "view_range": {
                            "description": "Optional parameter of `view` command when `path` "
                            "points to a file. If none is given, the full file is shown. If "
                            "provided, the file will be shown in the indicated line number "
                            "range, e.g. [11, 12] will show lines 11 and 12. Indexing at 1 to "
                            "start. Setting `[start_line, -1]` shows all lines from `start_line` "
                            "to the end of the file.",
                            "items": {"type": "integer"},
                            "type": "array",
                        },
                    },
                    "required": ["command", "path"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": SEARCH,
                "description": _SEARCH_DESCRIPTION,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "pattern": {
                            "type": "string",
                            "description": "The text to look for (a Python regular expression "
                            "when `regex` is true).",
                        },
                        "path": {
                            "type": "string",
                            "description": "File or directory to search in. Defaults to "
                            "`/workspace`.",
                        },
                        "regex": {
                            "type": "boolean",
                            "description": "Treat `pattern` as a regular expression. Default "
                            "false (literal text).",
                        },
                        "ignore_case": {
                            "type": "boolean",
                            "description": "Case-insensitive matching. Default false.",
                        },
                        "include": {
                            "type": "string",
                            "description": "Only search files whose name matches this glob, "
                            "e.g. `*.py`.",
                        },
                    },
                    "required": ["pattern"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": THINK,
                "description": _THINK_DESCRIPTION,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "thought": {"type": "string", "description": "The thought to log."}
                    },
                    "required": ["thought"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": FINISH,
                "description": _FINISH_DESCRIPTION,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "message": {
                            "type": "string",
                            "description": "Final message to send to the user: a short summary "
                            "of the changes.",
                        },
                        "task_completed": {
                            "type": "string",
                            "enum": ["true", "false", "partial"],
                            "description": "Whether you have completed the task.",
                        },
                    },
                    "required": ["message", "task_completed"],
                },
            },
        },
    ]


@dataclass
class ToolOutcome:
    """What one tool call produced: the tool message text and what the loop must know."""

    content: str
    error: bool = False
    finished: bool = False
    task_completed: bool = False
    message: str = ""
    """The `finish` message (summary for the user)."""


def _error(msg: str) -> ToolOutcome:
    return ToolOutcome(content=f"ERROR:\n{msg}", error=True)


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """Tool-call arguments as a dict; `ValueError` with a model-readable reason otherwise.

    Models sometimes send `""` for no arguments or wrap the JSON in a code fence; both are
    accepted. Anything else that is not a JSON object is an error for the model to fix.
    """
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.removeprefix("json").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        shown = raw if len(raw) <= 200 else raw[:200] + "…"
        raise ValueError(
            f"The tool call arguments are not valid JSON ({exc.msg} at position {exc.pos}): "
            f"{shown}. Please retry the call with a complete JSON object."
        ) from None
    if not isinstance(value, dict):
        raise ValueError("The tool call arguments must be a JSON object.")
    return value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"Invalid `{name}` parameter: {value}. It should be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(f"Invalid `{name}` parameter: {value}. It should be an integer.")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _numbered(text: str, start_line: int = 1) -> str:
    """`cat -n` style numbering (6-wide, tab) as OpenHands renders it, clipped if huge."""
    if len(text) > MAX_RESPONSE_CHARS:
        text = text[:MAX_RESPONSE_CHARS] + CLIPPED_NOTICE
    lines = text.split("\n")
    return "\n".join(f"{i + start_line:6}\t{line}" for i, line in enumerate(lines))


def _lines(text: str) -> list[str]:
    """File lines without their `\\n` (a trailing newline does not make an extra line)."""
    if not text:
        return []
    parts = text.split("\n")
    if text.endswith("\n"):
        parts.pop()
    return parts


def _make_output(snippet: str, description: str, start_line: int = 1) -> str:
    return (
        f"Here's the result of running `cat -n` on {description}:\n"
        + _numbered(snippet, start_line)
        + "\n"
    )


def short_path(model_path: str) -> str:
    """`/workspace/pkg/a.py` → `pkg/a.py` for progress messages."""
    if model_path == WORKSPACE:
        return "the workspace"
    return model_path.removeprefix(WORKSPACE + "/")


def describe_call(name: str, args: dict[str, Any]) -> str:
    """A short human-readable progress step for `$/progress` reports."""
    path = short_path(str(args.get("path") or WORKSPACE))
    if name == EDITOR:
        command = args.get("command")
        return {
            "view": f"viewing {path}",
            "create": f"creating {path}",
            "str_replace": f"editing {path}",
            "insert": f"editing {path}",
            "undo_edit": f"undoing an edit in {path}",
        }.get(str(command), f"{command} {path}")
    if name == SEARCH:
        pattern = str(args.get("pattern", ""))
        if len(pattern) > 40:
            pattern = pattern[:40] + "…"
        return f"searching '{pattern}'"
    if name == THINK:
        return "thinking"
    if name == FINISH:
        return "finishing"
    return f"calling {name}"


class ToolBox:
    """Executes tool calls against one overlay. Synchronous and pure-memory (disk reads only)."""

    def __init__(self, overlay: Overlay, vault: SecretVault | None = None,
                 deadline: float | None = None) -> None:
        self.overlay = overlay
        self.vault = vault
        self.deadline = deadline
        """`time.monotonic()` value of the agent's wall-clock limit: slow tools stop there."""

    def execute(self, name: str, raw_arguments: str | dict[str, Any] | None) -> ToolOutcome:
        """Run one tool call; never raises for model mistakes (they become `ERROR:` texts).

        With a vault, what the model reads has its secrets replaced by placeholders, and the
        placeholders it writes back are turned into the originals before touching the overlay.
        """
        try:
            args = parse_arguments(raw_arguments)
        except ValueError as exc:
            return _error(str(exc))
        if self.vault is None:
            return self._execute(name, args)
        outcome = self._execute(name, self.vault.reveal_args(args))
        outcome.content = self.vault.hide(outcome.content)
        return outcome

    def _execute(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        try:
            if name == EDITOR:
                return self._editor(args)
            if name == SEARCH:
                return self._search(args)
            if name == THINK:
                return ToolOutcome(content="Your thought has been logged.")
            if name == FINISH:
                return self._finish(args)
            return _error(
                f"Unknown tool `{name}`. The available tools are: {EDITOR}, {SEARCH}, {THINK}, "
                f"{FINISH}."
            )
        except (PathRefused, ValueError) as exc:
            return _error(str(exc))
        except OSError as exc:
            log.warning("tool %s failed: %s", name, exc)
            return _error(f"Ran into {exc.strerror or exc} while accessing the file.")

    # ---- finish ------------------------------------------------------------------------------

    def _finish(self, args: dict[str, Any]) -> ToolOutcome:
        message = str(args.get("message") or "").strip()
        raw = args.get("task_completed", "true")
        completed = raw is True or (isinstance(raw, str) and raw.strip().lower() == "true")
        return ToolOutcome(
            content="Finished.", finished=True, task_completed=completed, message=message
        )

    # ---- str_replace_editor ------------------------------------------------------------------

    def _editor(self, args: dict[str, Any]) -> ToolOutcome:
        command = args.get("command")
        if command not in COMMANDS:
            return _error(
                f"Unrecognized command {command}. The allowed commands for the {EDITOR} tool "
                f"are: {', '.join(COMMANDS)}"
            )
        raw_path = args.get("path")
        if not isinstance(raw_path, str) or not raw_path.strip():
            return _error(f"Parameter `path` is required for command: {command}.")
        ov = self.overlay
        if ov.paths.is_virtual_root(raw_path):
            if command != "view":
                return _error(
                    f"The path {WORKSPACE} is a directory and only the `view` command can be used "
                    "on directories."
                )
            return self._view_virtual_root(args.get("view_range"))
        real = ov.resolve(raw_path)
        shown = ov.display(real)
        if command == "view":
            return self._view(real, shown, args.get("view_range"))
        if command == "create":
            if not ov.allow_create:
                return _error(
                    f"Cannot create {shown}: this editor does not let the language server create "
                    "files. Put the code in an existing file instead."
                )
            file_text = args.get("file_text")
            if file_text is None:
                return _error("Parameter `file_text` is required for command: create.")
            ov.create(real, str(file_text))
            return ToolOutcome(content=f"File created successfully at: {shown}")
        if ov.is_dir(real) and not ov.is_file(real):
            return _error(
                f"The path {shown} is a directory and only the `view` command can be used on "
                "directories."
            )
        if command == "str_replace":
            return self._str_replace(real, shown, args)
        if command == "insert":
            return self._insert(real, shown, args)
        return self._undo(real, shown)

    def _view_virtual_root(self, view_range: Any) -> ToolOutcome:
        """`/workspace` with several folders: each folder and its direct entries."""
        if view_range:
            return _error(
                f"Invalid `view_range` parameter: {view_range}. The `view_range` parameter is "
                "not allowed when `path` points to a directory."
            )
        lines = [f"{WORKSPACE}/"]
        for root in self.overlay.paths.roots:
            lines.append(f"{root.model_path}/")
            entries, _ = self.overlay.list_dir(root.path, depth=1)
            for p, is_dir in entries[:MAX_DIR_ENTRIES]:
                lines.append(self.overlay.display(p) + ("/" if is_dir else ""))
        return ToolOutcome(
            content=f"Here's the files and directories up to 2 levels deep in {WORKSPACE}, "
            "excluding hidden items:\n" + "\n".join(lines)
        )

    def _view(self, real: Path, shown: str, view_range: Any) -> ToolOutcome:
        ov = self.overlay
        if ov.is_dir(real) and not ov.is_file(real):
            if view_range:
                return _error(
                    f"Invalid `view_range` parameter: {view_range}. The `view_range` parameter "
                    "is not allowed when `path` points to a directory."
                )
            entries, hidden = ov.list_dir(real)
            lines = [f"{shown}/" if shown != "/" else shown]
            for p, is_dir in entries[:MAX_DIR_ENTRIES]:
                lines.append(ov.display(p) + ("/" if is_dir else ""))
            if len(entries) > MAX_DIR_ENTRIES:
                lines.append(
                    f"… {len(entries) - MAX_DIR_ENTRIES} more entries not shown; view a "
                    "subdirectory to see them."
                )
            msg = (
                f"Here's the files and directories up to 2 levels deep in {shown}, excluding "
                "hidden items:\n" + "\n".join(lines)
            )
            if hidden:
                msg += f"\n\n{hidden} hidden files/directories in this directory are excluded."
            if ov.documents_only:
                msg += "\n\n" + ov.documents_only_note()
            return ToolOutcome(content=msg)
        text = ov.read(real)
        if view_range is None or view_range == []:
            return ToolOutcome(content=_make_output(text.removesuffix("\n"), shown))
        if isinstance(view_range, str):
            try:
                view_range = json.loads(view_range)
            except json.JSONDecodeError:
                pass
        if (
            not isinstance(view_range, list)
            or len(view_range) != 2
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in view_range)
        ):
            return _error(
                f"Invalid `view_range` parameter: {view_range}. It should be a list of two "
                "integers."
            )
        lines = _lines(text)
        num_lines = len(lines)
        start, end = view_range
        if start < 1 or start > max(num_lines, 1):
            return _error(
                f"Invalid `view_range` parameter: {view_range}. Its first element `{start}` "
                f"should be within the range of lines of the file: {[1, num_lines]}."
            )
        note = ""
        if end == -1:
            end = num_lines
        elif end > num_lines:
            note = (
                f"\nNOTE: We only show up to {num_lines} since there's only {num_lines} lines "
                "in this file\n"
            )
            end = num_lines
        if end < start:
            return _error(
                f"Invalid `view_range` parameter: {view_range}. Its second element `{end}` "
                f"should be greater than or equal to the first element `{start}`."
            )
        snippet = "\n".join(lines[start - 1 : end])
        return ToolOutcome(content=_make_output(snippet, shown, start) + note)

    def _str_replace(self, real: Path, shown: str, args: dict[str, Any]) -> ToolOutcome:
        old_str = args.get("old_str")
        if old_str is None:
            return _error("Parameter `old_str` is required for command: str_replace.")
        old_str = str(old_str)
        new_str = "" if args.get("new_str") is None else str(args.get("new_str"))
        if old_str == "":
            return _error(
                "Invalid `old_str` parameter: ''. It must not be empty; use `insert` or "
                "`create` to add text."
            )
        if new_str == old_str:
            return _error(
                f"Invalid `new_str` parameter: {new_str}. No replacement was performed. "
                "`new_str` and `old_str` must be different."
            )
        text = self.overlay.read(real)
        starts = [m.start() for m in re.finditer(re.escape(old_str), text)]
        if not starts:
            return _error(
                f"No replacement was performed, old_str `{old_str}` did not appear verbatim in "
                f"{shown}."
            )
        if len(starts) > 1:
            line_numbers = sorted({text.count("\n", 0, s) + 1 for s in starts})
            return _error(
                f"No replacement was performed. Multiple occurrences of old_str `{old_str}` in "
                f"lines {line_numbers}. Please ensure it is unique."
            )
        idx = starts[0]
        new_text = text[:idx] + new_str + text[idx + len(old_str) :]
        self.overlay.write(real, new_text)
        replacement_line = text.count("\n", 0, idx) + 1
        start_line = max(0, replacement_line - SNIPPET_CONTEXT_WINDOW)
        end_line = replacement_line + SNIPPET_CONTEXT_WINDOW + new_str.count("\n")
        snippet = "\n".join(_lines(new_text)[start_line:end_line])
        return ToolOutcome(
            content=f"The file {shown} has been edited. "
            + _make_output(snippet, f"a snippet of {shown}", start_line + 1)
            + "Review the changes and make sure they are as expected. Edit the file again if "
            "necessary."
        )

    def _insert(self, real: Path, shown: str, args: dict[str, Any]) -> ToolOutcome:
        if args.get("insert_line") is None:
            return _error("Parameter `insert_line` is required for command: insert.")
        if args.get("new_str") is None:
            return _error("Parameter `new_str` is required for command: insert.")
        insert_line = _as_int(args["insert_line"], "insert_line")
        new_str = str(args["new_str"])
        text = self.overlay.read(real)
        lines = _lines(text)
        num_lines = len(lines)
        if insert_line < 0 or insert_line > num_lines:
            return _error(
                f"Invalid `insert_line` parameter: {insert_line}. It should be within the range "
                f"of allowed values: {[0, num_lines]}"
            )
        new_lines = new_str.split("\n")
        if new_str.endswith("\n"):
            new_lines.pop()
        # Rejoining on "\n" keeps any "\r" inside lines, and a file without a final newline
        # keeps not having one.
        trailing = "\n" if (text.endswith("\n") or not text) else ""
        new_text = "\n".join([*lines[:insert_line], *new_lines, *lines[insert_line:]]) + trailing
        self.overlay.write(real, new_text)
        start_line = max(0, insert_line - SNIPPET_CONTEXT_WINDOW)
        end_line = min(
            num_lines + len(new_lines), insert_line + SNIPPET_CONTEXT_WINDOW + len(new_lines)
        )
        snippet = "\n".join(_lines(new_text)[start_line:end_line])
        return ToolOutcome(
            content=f"The file {shown} has been edited. "
            + _make_output(snippet, "a snippet of the edited file", start_line + 1)
            + "Review the changes and make sure they are as expected (correct indentation, no "
            "duplicate lines, etc). Edit the file again if necessary."
        )

    def _undo(self, real: Path, shown: str) -> ToolOutcome:
        restored = self.overlay.undo(real)
        if restored is None:
            return ToolOutcome(
                content=f"Last edit to {shown} undone successfully. The file no longer exists."
            )
        return ToolOutcome(
            content=f"Last edit to {shown} undone successfully. "
            + _make_output(restored.removesuffix("\n"), shown)
        )

    # ---- search ------------------------------------------------------------------------------

    def _search_deadline(self) -> float:
        budget = time.monotonic() + SEARCH_TIME_BUDGET_S
        return budget if self.deadline is None else min(budget, self.deadline)

    def _search(self, args: dict[str, Any]) -> ToolOutcome:
        """`grep -rn` over the overlay, bounded in time whatever the pattern or the tree.

        Patterns run on the `regex` engine with a timeout (Python's `re` has none, and holds
        the GIL: `(a+)+$` on a line of 40 `a`s would freeze the whole server for minutes),
        against one deadline for the whole search: `SEARCH_TIME_BUDGET_S` or the agent's
        wall-clock limit, whichever comes first. The walk is bounded too (`iter_files`).
        """
        import regex

        pattern = args.get("pattern")
        if not isinstance(pattern, str) or pattern == "":
            return _error("Parameter `pattern` is required for the search tool.")
        if len(pattern) > MAX_PATTERN_CHARS:
            return _error(f"The pattern is too long ({len(pattern)} characters; the limit is "
                          f"{MAX_PATTERN_CHARS}).")
        flags = regex.IGNORECASE if _as_bool(args.get("ignore_case", False)) else 0
        try:
            rx = regex.compile(
                pattern if _as_bool(args.get("regex", False)) else regex.escape(pattern), flags
            )
        except (regex.error, OverflowError, RecursionError) as exc:
            return _error(f"Invalid regular expression `{pattern}`: {exc}.")
        raw_path = str(args.get("path") or WORKSPACE)
        targets: list[Path]
        if self.overlay.paths.is_virtual_root(raw_path):
            targets = [r.path for r in self.overlay.paths.roots]
            shown = WORKSPACE
        else:
            real = self.overlay.resolve(raw_path)
            shown = self.overlay.display(real)
            if not self.overlay.is_file(real) and not self.overlay.is_dir(real):
                return _error(f"The path {shown} does not exist. Please provide a valid path.")
            targets = [real]
        include = args.get("include")
        include = str(include) if include else None
        deadline = self._search_deadline()

        def found(text: str) -> bool:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            # concurrent=True releases the GIL while matching: the event loop keeps running.
            return rx.search(text, timeout=left, concurrent=True) is not None

        matches: list[str] = []
        more = False
        timed_out = False
        try:
            for p in (p for t in targets for p in self.overlay.iter_files(t)):
                if include and not (
                    fnmatch.fnmatch(p.name, include)
                    or fnmatch.fnmatch(self.overlay.display(p), include)
                ):
                    continue
                if time.monotonic() > deadline:
                    raise TimeoutError
                text = self.overlay.peek(p)
                if not text or not found(text):
                    continue
                display = self.overlay.display(p)
                for lineno, line in enumerate(text.split("\n"), 1):
                    if found(line[:2000]):
                        if len(matches) >= MAX_SEARCH_MATCHES:
                            more = True
                            break
                        if len(line) > MAX_SEARCH_LINE_CHARS:
                            line = line[:MAX_SEARCH_LINE_CHARS] + "…"
                        matches.append(f"{display}:{lineno}:{line}")
                if more:
                    break
        except TimeoutError:
            timed_out = True
        if not matches:
            suffix = " (the search stopped early: time limit)" if timed_out else ""
            return ToolOutcome(content=f"No matches found for `{pattern}` in {shown}{suffix}.")
        head = f"Found {len(matches)}{'+' if more else ''} matches for `{pattern}` in {shown}:\n"
        tail = ""
        if more:
            tail = (
                f"\n[Only the first {MAX_SEARCH_MATCHES} matches are shown; narrow the search with "
                "`path` or `include`.]"
            )
        elif timed_out:
            tail = "\n[The search stopped early (time limit); narrow it with `path` or `include`.]"
        return ToolOutcome(content=head + "\n".join(matches) + tail)


class TurnOutput:
    """Caps the total tool output of one model turn (many `view`s in one reply add up).

    Each result is passed through `take`; once the turn's budget is spent, further results
    are replaced by an error telling the model to ask for less at a time.
    """

    def __init__(self, limit: int = MAX_TURN_OUTPUT_CHARS) -> None:
        self.limit = limit
        self.used = 0

    def take(self, outcome: ToolOutcome) -> ToolOutcome:
        size = len(outcome.content)
        if self.used + size <= self.limit or outcome.finished:
            self.used += size
            return outcome
        left = max(0, self.limit - self.used)
        self.used = self.limit
        if left >= 2000:
            outcome.content = outcome.content[:left] + CLIPPED_NOTICE
            return outcome
        return _error(
            f"Not run: the tool results of this turn already reached {self.limit} characters. "
            "Make fewer or narrower calls per turn (use `view_range`, `search` with `path`)."
        )
