"""What the model proposes for one code action, from plain inputs: no LSP, no server.

The protocol side (`features/actions.py`) reads the document, checks the version and the
privacy rules, and builds the versioned `WorkspaceEdit`; this module cuts the prompt input,
asks the model through an `Ask` callable (messages, max_tokens -> `Reply`), parses the answer
and hands back text: the replacement for the range, the new text of a test file, or an
explanation. Every secret in what the model sees goes through a `SecretVault` and is restored in
the answer. Failures the user should read raise `ActionFailed` with that message.

The heavier cores (prompts, reply parsing, the vault) are imported on first use: the server
imports this module when it registers the feature, before it answers `initialize`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import DEFAULT_INSTRUCTION, ActionId

if TYPE_CHECKING:
    from ..model.client import ChatReply
    from ..model.tool_calls import ToolCall
    from ..privacy.vault import SecretVault
    from .prompts import ActionInput

MAX_TEST_CONTEXT_CHARS = 8000
"""An existing test file longer than this is shown to the model as its head and tail."""


class ActionFailed(Exception):
    """Ends an action with one message for the user and no edit."""


@dataclass
class Reply:
    """The model's answer to one action request."""

    content: str
    tool_calls: list[ToolCall]
    finish_reason: str | None


Ask = Callable[[list[dict[str, Any]], int], Awaitable[Reply]]
"""Sends chat messages with a `max_tokens` and returns the reply (the caller owns deadlines,
progress and cancellation)."""


@dataclass(frozen=True)
class Target:
    """The text an action works on, read at one document version."""

    uri: str
    version: int
    text: str
    start: int
    """Offset of the range start in `text` (start <= end)."""
    end: int
    start_line: int
    """0-based line of `start`."""
    language: str
    label: str
    """Workspace-relative path as shown to the model."""
    newline: str
    """The document's line ending."""


def reply_from_chat(reply: ChatReply) -> Reply:
    """The `Reply` of the gateway's parsed chat answer; an answer without choices ends here."""
    if reply.empty:
        raise ActionFailed("Devstral returned an empty response; nothing was changed.")
    return Reply(reply.content, reply.tool_calls, reply.finish_reason)


def action_input(action: ActionId, t: Target, data: Mapping[str, Any], vault: SecretVault,
                 **extra: Any) -> ActionInput:
    """What the model sees; every secret in it goes through `vault` (restored in the reply).

    `data` is the action's payload (`instruction`, `diagnostics`).
    """
    from .prompts import CONTEXT_AFTER_CHARS, CONTEXT_BEFORE_CHARS, ActionInput

    before = t.text[max(0, t.start - CONTEXT_BEFORE_CHARS):t.start]
    if t.start > CONTEXT_BEFORE_CHARS and "\n" in before:
        before = before[before.index("\n") + 1:]
    after = t.text[t.end:t.end + CONTEXT_AFTER_CHARS]
    if len(t.text) - t.end > CONTEXT_AFTER_CHARS and "\n" in after:
        after = after[:after.rindex("\n")]
    diags = data.get("diagnostics")
    return ActionInput(
        action=action,
        path=t.label,
        language=t.language,
        before=vault.hide(before),
        selection=vault.hide(t.text[t.start:t.end]),
        after=vault.hide(after),
        start_line=t.start_line,
        diagnostics=[str(d) for d in diags] if isinstance(diags, list) else [],
        instruction=str(data.get("instruction") or DEFAULT_INSTRUCTION),
        **extra,
    )


async def propose_replacement(action: ActionId, t: Target, data: Mapping[str, Any], ask: Ask,
                              report: Callable[[str], None] | None = None) -> str:
    """The text that replaces `t.text[t.start:t.end]`, fitted to the range and line endings."""
    import logging

    from ..privacy.vault import SecretVault
    from .edit import fit_to_range
    from .parse import ReplyError, parse_code_reply
    from .prompts import build_messages

    vault = SecretVault()
    inp = action_input(action, t, data, vault)
    reply = await ask(build_messages(inp), 4096)
    if report is not None:
        report("applying the answer")
    try:
        new = parse_code_reply(reply.content, original=inp.selection, language=inp.language,
                               tool_calls=reply.tool_calls, finish_reason=reply.finish_reason,
                               allow_empty=action is ActionId.FIX)
    except ReplyError as exc:
        logging.getLogger(__name__).info("unusable reply: %r", reply.content[:500])
        raise ActionFailed(str(exc)) from exc
    new = vault.reveal(new)
    line_start = t.text.rfind("\n", 0, t.start) + 1
    return fit_to_range(t.text[t.start:t.end], new, line_prefix=t.text[line_start:t.start],
                        newline=t.newline)


async def propose_tests(t: Target, data: Mapping[str, Any], ask: Ask, *, test_label: str,
                        existing: str | None) -> str:
    """The tests the model writes for the range (secrets restored), not yet placed in a file.

    `existing` is the test file's current text (None: it does not exist yet).
    """
    from ..privacy.vault import SecretVault
    from .parse import ReplyError, parse_code_reply
    from .prompts import build_messages

    shown = existing
    if existing is not None and len(existing) > MAX_TEST_CONTEXT_CHARS:
        shown = existing[:4000] + "\n…\n" + existing[-3000:]
    vault = SecretVault()
    inp = action_input(ActionId.TESTS, t, data, vault, test_path=test_label,
                       test_existing=vault.hide(shown) if shown is not None else None)
    reply = await ask(build_messages(inp), 4096)
    try:
        code = parse_code_reply(reply.content, original="", language=inp.language,
                                tool_calls=reply.tool_calls, finish_reason=reply.finish_reason)
    except ReplyError as exc:
        raise ActionFailed(str(exc)) from exc
    if not code.strip():
        raise ActionFailed("Devstral returned no tests; nothing was changed.")
    return vault.reveal(code)


def with_tests_appended(existing: str | None, code: str) -> str:
    """The test file's new text: `code` appended, in the file's dominant line ending."""
    from .edit import append_text

    if existing is None:
        return append_text("", code)
    newline = "\r\n" if existing and existing.count("\r\n") > existing.count("\n") / 2 else "\n"
    return append_text(existing, code, newline)


@dataclass(frozen=True)
class Explanation:
    heading: str
    text: str
    name: str
    """File name used to title it (the source's name, or "selection")."""


async def propose_explanation(t: Target, data: Mapping[str, Any], ask: Ask) -> Explanation:
    """The model's Markdown explanation of the range."""
    from ..privacy.vault import SecretVault
    from .parse import ReplyError, parse_markdown_reply
    from .prompts import build_messages

    inp = action_input(ActionId.EXPLAIN, t, data, SecretVault())
    reply = await ask(build_messages(inp), 2048)
    try:
        text = parse_markdown_reply(reply.content)
    except ReplyError as exc:
        raise ActionFailed(str(exc)) from exc
    heading = f"# Explanation: {inp.path}, lines {t.start_line + 1}+\n\n"
    return Explanation(heading, text, Path(inp.path).name or "selection")


def save_explanation(t: Target, explanation: Explanation) -> Path:
    """Write the explanation to a new Markdown file in the user's private folder.

    Raises `OSError` (`privacy.private_files.NotPrivate` when no private folder exists); the caller
    then shows the text as a message. Never a shared temp folder (see `privacy/private_files.py`).
    """
    from ..privacy.private_files import private_dir, write_private

    return write_private(private_dir("explanations"), explanation.name, ".md",
                         explanation.heading + explanation.text + "\n")


def unfinished_run_message(stop_reason: str, *, max_turns: int, max_total_tokens: int,
                           wall_clock_s: float) -> str:
    """Why an edit-agent run that stopped before `finish` is not applied."""
    why = {"turn_limit": f"the turn limit ({max_turns})",
           "token_budget": f"the token budget ({max_total_tokens})",
           "time_limit": f"the time limit ({wall_clock_s:.0f} s)",
           "no_tool_calls": "a reply without tool calls"}.get(stop_reason, stop_reason)
    return (f"Devstral stopped at {why} before finishing; nothing was applied. "
            "Try a smaller instruction or raise the edit limits.")
