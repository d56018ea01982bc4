"""What the model is offered and how its calls are read: the agent's tool interface.

Names, parameters and descriptions follow OpenHands' `str_replace_editor`, `think` and `finish`,
because Devstral was trained on them (it knows their commands and error texts); the one addition
is a read-only `search` standing in for the `grep` it would run in a shell. Kept apart from the
execution (`tools.py`) so the prompt-facing text can be read and changed in one place, and so the
agent loop can describe a call for `$/progress` without running it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .paths import WORKSPACE

EDITOR = "str_replace_editor"
SEARCH = "search"
THINK = "think"
FINISH = "finish"

COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")

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


def as_int(value: Any, name: str) -> int:
    """An integer argument; models often send it as a string (`"3"`), never as a bool."""
    if isinstance(value, bool):
        raise ValueError(f"Invalid `{name}` parameter: {value}. It should be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(f"Invalid `{name}` parameter: {value}. It should be an integer.")


def as_bool(value: Any) -> bool:
    """A flag argument; models send `"true"`/`"false"` strings as often as JSON booleans."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


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
