"""The agent's tools executed against the `Overlay`: `str_replace_editor`, `search`, `think`,
`finish`.

The commands behave like OpenHands' (`view` as `cat -n`, `str_replace` demanding a unique exact
match, `insert` after a line, `undo_edit`) because Devstral was trained on them and recovers
from their error texts. Nothing is executed and nothing is written to disk: edits change the
overlay, which becomes one reviewable `WorkspaceEdit` at the end. What the model is offered lives
in `tool_specs.py`, how results are rendered and capped in `tool_output.py`, the bounded search
in `search.py`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .overlay import Overlay
from .paths import WORKSPACE, PathRefused
from .search import search
from .tool_output import ToolOutcome, cat_n, error, file_lines
from .tool_specs import COMMANDS, EDITOR, FINISH, SEARCH, THINK, as_int, parse_arguments

if TYPE_CHECKING:
    from ..privacy.vault import SecretVault

log = logging.getLogger(__name__)

SNIPPET_CONTEXT_WINDOW = 4
MAX_DIR_ENTRIES = 300


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
            return error(str(exc))
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
                return search(self.overlay, args, self.deadline)
            if name == THINK:
                return ToolOutcome(content="Your thought has been logged.")
            if name == FINISH:
                return self._finish(args)
            return error(
                f"Unknown tool `{name}`. The available tools are: {EDITOR}, {SEARCH}, {THINK}, "
                f"{FINISH}."
            )
        except (PathRefused, ValueError) as exc:
            return error(str(exc))
        except OSError as exc:
            log.warning("tool %s failed: %s", name, exc)
            return error(f"Ran into {exc.strerror or exc} while accessing the file.")

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
            return error(
                f"Unrecognized command {command}. The allowed commands for the {EDITOR} tool "
                f"are: {', '.join(COMMANDS)}"
            )
        raw_path = args.get("path")
        if not isinstance(raw_path, str) or not raw_path.strip():
            return error(f"Parameter `path` is required for command: {command}.")
        ov = self.overlay
        if ov.paths.is_virtual_root(raw_path):
            if command != "view":
                return error(
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
                return error(
                    f"Cannot create {shown}: this editor does not let the language server create "
                    "files. Put the code in an existing file instead."
                )
            file_text = args.get("file_text")
            if file_text is None:
                return error("Parameter `file_text` is required for command: create.")
            ov.create(real, str(file_text))
            return ToolOutcome(content=f"File created successfully at: {shown}")
        if ov.is_dir(real) and not ov.is_file(real):
            return error(
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
            return error(
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
                return error(
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
            return ToolOutcome(content=cat_n(text.removesuffix("\n"), shown))
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
            return error(
                f"Invalid `view_range` parameter: {view_range}. It should be a list of two "
                "integers."
            )
        lines = file_lines(text)
        num_lines = len(lines)
        start, end = view_range
        if start < 1 or start > max(num_lines, 1):
            return error(
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
            return error(
                f"Invalid `view_range` parameter: {view_range}. Its second element `{end}` "
                f"should be greater than or equal to the first element `{start}`."
            )
        snippet = "\n".join(lines[start - 1 : end])
        return ToolOutcome(content=cat_n(snippet, shown, start) + note)

    def _str_replace(self, real: Path, shown: str, args: dict[str, Any]) -> ToolOutcome:
        old_str = args.get("old_str")
        if old_str is None:
            return error("Parameter `old_str` is required for command: str_replace.")
        old_str = str(old_str)
        new_str = "" if args.get("new_str") is None else str(args.get("new_str"))
        if old_str == "":
            return error(
                "Invalid `old_str` parameter: ''. It must not be empty; use `insert` or "
                "`create` to add text."
            )
        if new_str == old_str:
            return error(
                f"Invalid `new_str` parameter: {new_str}. No replacement was performed. "
                "`new_str` and `old_str` must be different."
            )
        text = self.overlay.read(real)
        starts = [m.start() for m in re.finditer(re.escape(old_str), text)]
        if not starts:
            return error(
                f"No replacement was performed, old_str `{old_str}` did not appear verbatim in "
                f"{shown}."
            )
        if len(starts) > 1:
            line_numbers = sorted({text.count("\n", 0, s) + 1 for s in starts})
            return error(
                f"No replacement was performed. Multiple occurrences of old_str `{old_str}` in "
                f"lines {line_numbers}. Please ensure it is unique."
            )
        idx = starts[0]
        new_text = text[:idx] + new_str + text[idx + len(old_str) :]
        self.overlay.write(real, new_text)
        replacement_line = text.count("\n", 0, idx) + 1
        start_line = max(0, replacement_line - SNIPPET_CONTEXT_WINDOW)
        end_line = replacement_line + SNIPPET_CONTEXT_WINDOW + new_str.count("\n")
        snippet = "\n".join(file_lines(new_text)[start_line:end_line])
        return ToolOutcome(
            content=f"The file {shown} has been edited. "
            + cat_n(snippet, f"a snippet of {shown}", start_line + 1)
            + "Review the changes and make sure they are as expected. Edit the file again if "
            "necessary."
        )

    def _insert(self, real: Path, shown: str, args: dict[str, Any]) -> ToolOutcome:
        if args.get("insert_line") is None:
            return error("Parameter `insert_line` is required for command: insert.")
        if args.get("new_str") is None:
            return error("Parameter `new_str` is required for command: insert.")
        insert_line = as_int(args["insert_line"], "insert_line")
        new_str = str(args["new_str"])
        text = self.overlay.read(real)
        lines = file_lines(text)
        num_lines = len(lines)
        if insert_line < 0 or insert_line > num_lines:
            return error(
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
        snippet = "\n".join(file_lines(new_text)[start_line:end_line])
        return ToolOutcome(
            content=f"The file {shown} has been edited. "
            + cat_n(snippet, "a snippet of the edited file", start_line + 1)
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
            + cat_n(restored.removesuffix("\n"), shown)
        )
