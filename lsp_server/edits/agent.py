"""The Devstral tool loop behind "Edit across files…".

Devstral is asked to carry out the user's instruction with OpenHands' tools against an in-memory
`Overlay` of the workspace; when it calls `finish` (or a limit is hit) the overlay's changes are
returned for the server to turn into one reviewable `WorkspaceEdit`. Nothing is executed and
nothing is written to disk here.

Wire rules this module guarantees, because Mistral's stack rejects the whole request otherwise:

* every assistant tool call is answered by exactly one `tool` message, in order, before the next
  assistant turn;
* tool-call ids are exactly 9 letters/digits; ids from other backends (`call_abc…`, missing,
  duplicated) are replaced consistently in the history we send back;
* tool-call arguments in the history are valid JSON (garbage is replaced by `{}` in the history
  and reported to the model in the tool message, so it can retry).

Every model call goes through the gateway (`model.client.ModelClient.chat`): its deadline,
error translation, key masking, tool-call parser and usage accounting are the ones code actions
and completions use.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.errors import BackendError
from .overlay import FileChange, Overlay
from .paths import PathRefused
from .tool_output import TurnOutput
from .tool_specs import FINISH, describe_call, parse_arguments, tool_schemas
from .tools import ToolBox

if TYPE_CHECKING:
    from ..model.client import ModelClient
    from ..privacy.vault import SecretVault

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"[A-Za-z0-9]{9}")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

NUDGE = (
    "Please continue working on the task using the tools. You can only change files with "
    "`str_replace_editor`. If you have completed the task, or cannot complete it, call the "
    "`finish` tool with a short summary."
)


@dataclass
class AgentLimits:
    """Bounds that end the loop cleanly (configurable by the user)."""

    max_turns: int = 20
    """Model calls at most."""
    max_total_tokens: int = 200_000
    """Sum of prompt+completion tokens over all calls (what a hosted API bills)."""
    wall_clock_s: float = 120.0
    max_file_bytes: int = 1_000_000
    """For the overlay the caller builds: larger files are refused to the model."""
    max_output_tokens: int | None = 8192
    """`max_tokens` per model call; a `create` of a big file needs room."""
    temperature: float = 0.1


@dataclass
class AgentResult:
    """What the loop produced. `changed` is empty when the model changed nothing."""

    changed: dict[Path, tuple[str | None, str]]
    """Real path → (old text or None for a new file, new text), line endings as in the file."""
    file_changes: dict[Path, FileChange]
    """The same with the open-document versions, for `build_workspace_edit`."""
    summary: str
    completed: bool
    turns: int
    stop_reason: str
    """`finished`, `no_tool_calls`, `turn_limit`, `token_budget` or `time_limit`."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The conversation as sent (for logs and debugging)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AgentError(Exception):
    """The model endpoint failed; `str(exc)` is a message fit for the user."""


def system_prompt(overlay: Overlay) -> str:
    """Short Devstral/OpenHands-style system prompt naming the workspace layout."""
    roots = overlay.paths.roots
    if len(roots) == 1:
        where = "The user's project is at /workspace."
    else:
        names = ", ".join(r.model_path for r in roots)
        where = f"The user's project has several folders: {names}."
    create = (
        ""
        if overlay.allow_create
        else " This editor cannot create new files: put new code into existing files."
    )
    return (
        "You are Devstral, a helpful code-editing agent working inside the user's editor. "
        f"{where} You can explore and change files only with the provided tools: "
        "`str_replace_editor` (view, create, str_replace, insert, undo_edit) and `search`. "
        "Nothing can be executed: there is no shell, no tests, no network. Your edits are "
        "collected and shown to the user for review before they are applied; nothing is written "
        f"to disk.{create}\n"
        "Work efficiently: find the relevant code with `search` and `view`, make focused, "
        "minimal edits that keep the code correct and consistent across files, and use absolute "
        "paths under /workspace. Do not change files the task does not need. When you are done, "
        "or if you cannot complete the task, call `finish` with a short summary of what you "
        "changed."
    )


def context_note_for(
    overlay: Overlay,
    path: Path | None,
    start_line: int | None = None,
    end_line: int | None = None,
) -> str:
    """The "where is the user" note for the user message: current file and selected lines.

    Lines are 0-based LSP lines in, 1-based `cat -n` lines out. Returns "" for a path the
    model may not see (outside the roots, ignored), so nothing about it leaks into the prompt.
    """
    if path is None:
        return ""
    try:
        shown = overlay.display(path)
        overlay.check_allowed(path)
    except PathRefused:
        return ""
    note = f"The user is currently in the file {shown}"
    if start_line is not None:
        first = start_line + 1
        last = (end_line if end_line is not None else start_line) + 1
        note += f", with lines {first}-{last} selected" if last > first else f", at line {first}"
    return note + "."


def _user_message(instruction: str, context_note: str) -> str:
    parts = []
    if context_note.strip():
        parts.append(context_note.strip())
    parts.append(f"Task:\n{instruction.strip()}")
    return "\n\n".join(parts)


class _IdMapper:
    """Gives each tool call a Mistral-valid id that is unique within the conversation.

    Valid incoming ids are kept (the backend may want to see its own ids again); anything else
    gets a deterministic replacement derived from the turn, position and original id.
    """

    def __init__(self) -> None:
        self.used: set[str] = set()

    def assign(self, original: str | None, turn: int, index: int) -> str:
        if original and _ID_RE.fullmatch(original) and original not in self.used:
            self.used.add(original)
            return original
        seed = f"{turn}:{index}:{original}"
        salt = 0
        while True:
            digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
            new = "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:9])
            if new not in self.used:
                self.used.add(new)
                return new
            salt += 1


def _history_arguments(raw: str) -> str:
    """Arguments as they go back to the backend: the model's JSON, or `{}` if it was garbage."""
    try:
        return json.dumps(parse_arguments(raw), ensure_ascii=False)
    except ValueError:
        return "{}"


async def run_edit_agent(
    client: ModelClient,
    *,
    model: str,
    instruction: str,
    overlay: Overlay,
    limits: AgentLimits | None = None,
    on_step: Callable[[str], None] | None = None,
    context_note: str = "",
    extra_body: dict[str, Any] | None = None,
    vault: SecretVault | None = None,
) -> AgentResult:
    """Run the tool loop until `finish` or a limit; return the overlay's changes.

    Raises `AgentError` when the endpoint fails (the caller shows it and applies nothing) and
    lets `asyncio.CancelledError` through untouched. Limits end the loop without raising; the
    result's `stop_reason` says which one.
    """
    limits = limits or AgentLimits()
    toolbox = ToolBox(overlay, vault, deadline=time.monotonic() + limits.wall_clock_s)
    if vault is not None:
        context_note = vault.hide(context_note)
    tools = tool_schemas(allow_create=overlay.allow_create)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(overlay)},
        {"role": "user", "content": _user_message(instruction, context_note)},
    ]
    ids = _IdMapper()
    prompt_tokens = completion_tokens = 0
    last_prompt = 0
    turns = 0
    n_calls = 0
    nudged = False
    summary = ""
    completed = False
    stop_reason = "turn_limit"
    started = time.monotonic()

    def step(text: str) -> None:
        if on_step is None:
            return
        try:
            on_step(text)
        except Exception:  # a progress callback must never break the loop
            log.exception("on_step callback failed")

    try:
        async with asyncio.timeout(limits.wall_clock_s):
            while turns < limits.max_turns:
                used = prompt_tokens + completion_tokens
                if turns and used + last_prompt > limits.max_total_tokens:
                    # The next call costs at least the last prompt again.
                    stop_reason = "token_budget"
                    break
                turns += 1
                try:
                    reply = await client.chat(
                        messages=messages,
                        tools=tools,
                        tool_choice="auto",
                        temperature=limits.temperature,
                        max_tokens=limits.max_output_tokens,
                        extra_body=extra_body,
                        model=model,
                        feature="agent",
                        # The wall clock around the loop is the agent's deadline; this one
                        # only backs it up.
                        timeout_s=limits.wall_clock_s + 1.0,
                    )
                except BackendError as exc:
                    raise AgentError(exc.message) from exc
                last_prompt = reply.usage.prompt_tokens
                prompt_tokens += last_prompt
                completion_tokens += reply.usage.completion_tokens
                if reply.empty:
                    raise AgentError("The model returned an empty response.")
                content = reply.content
                calls = reply.tool_calls
                if not calls:
                    if nudged:
                        summary = content.strip()
                        stop_reason = "no_tool_calls"
                        break
                    nudged = True
                    messages.append({"role": "assistant", "content": content})
                    messages.append({"role": "user", "content": NUDGE})
                    continue

                assistant: dict[str, Any] = {
                    "role": "assistant",
                    "content": content,
                    "tool_calls": [],
                }
                answers: list[dict[str, Any]] = []
                finished = False
                turn_output = TurnOutput()
                for index, call in enumerate(calls):
                    call_id = ids.assign(call.id, turns, index)
                    assistant["tool_calls"].append(
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": call.name or "invalid_tool",
                                "arguments": _history_arguments(call.arguments),
                            },
                        }
                    )
                    try:
                        step(describe_call(call.name, parse_arguments(call.arguments)))
                    except ValueError:
                        step(describe_call(call.name, {}))
                    # Off the event loop: a `view` of a huge folder or a `search` reads the
                    # disk. Every tool is bounded (the search by the wall-clock deadline), and
                    # a run that times out or is cancelled is never applied, so a thread left
                    # finishing in the background changes nothing the user receives.
                    outcome = turn_output.take(
                        await asyncio.to_thread(toolbox.execute, call.name, call.arguments)
                    )
                    n_calls += 1
                    log.debug("tool %s -> %s", call.name, outcome.content[:200])
                    answers.append(
                        {
                            "role": "tool",
                            "tool_call_id": call_id,
                            "name": call.name or "invalid_tool",
                            "content": outcome.content,
                        }
                    )
                    if outcome.finished and call.name == FINISH:
                        finished = True
                        summary = outcome.message
                        completed = outcome.task_completed
                messages.append(assistant)
                messages.extend(answers)
                if finished:
                    stop_reason = "finished"
                    break
                if prompt_tokens + completion_tokens >= limits.max_total_tokens:
                    stop_reason = "token_budget"
                    break
    except TimeoutError:
        stop_reason = "time_limit"
        log.info(
            "edit agent stopped by the wall-clock limit after %.1fs", time.monotonic() - started
        )

    file_changes = overlay.changed_files()
    if not summary:
        summary = _default_summary(stop_reason, file_changes, overlay)
    return AgentResult(
        changed={p: (c.old, c.new) for p, c in file_changes.items()},
        file_changes=file_changes,
        summary=summary,
        completed=completed,
        turns=turns,
        stop_reason=stop_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tool_calls=n_calls,
        messages=messages,
    )


_REASONS = {
    "finished": "Devstral finished",
    "no_tool_calls": "Devstral stopped without calling finish",
    "turn_limit": "Stopped at the turn limit",
    "token_budget": "Stopped at the token budget",
    "time_limit": "Stopped at the time limit",
}


def _default_summary(stop_reason: str, changes: dict[Path, FileChange], overlay: Overlay) -> str:
    reason = _REASONS.get(stop_reason, stop_reason)
    if not changes:
        return f"{reason}; no files were changed."
    names = ", ".join(overlay.display(p).removeprefix("/workspace/") for p in changes)
    return f"{reason}; changed {names}."
