"""Turning Devstral's reply into the new text for the range, or a clear reason why not.

The prompt asks for exactly one fenced code block. Instruct models still add prose around it,
several blocks, a language tag or none, tildes instead of backticks, or — Devstral having been
trained on OpenHands — a `str_replace_editor` call (as a real tool call, or as raw
`[TOOL_CALLS]` text from local servers whose chat template did not parse it). All of those are
accepted; anything else is refused with `ReplyError`, whose message is shown to the user, and
no edit is made: a half-parsed reply must never reach the user's file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..model.tool_calls import ToolCall, calls_from_content

ToolCallText = ToolCall
"""The gateway's tool-call type, under the name this module's callers know."""

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^`]*$")
_PROSE_START = re.compile(
    r"^(?:here|sure|certainly|of course|i |i'|the |this |to |below|okay|ok[,.]|you )", re.I
)


class ReplyError(Exception):
    """The reply cannot be used; `str(exc)` is the message for the user."""


@dataclass(frozen=True)
class CodeBlock:
    language: str
    text: str


def fenced_blocks(reply: str) -> tuple[list[CodeBlock], bool]:
    """All fenced blocks, and whether the last one was left unterminated (reply cut off)."""
    lines = reply.replace("\r\n", "\n").split("\n")
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), m.group("indent")
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            s = lines[j].strip()
            if s and s[0] == fence[0] and set(s) == {fence[0]} and len(s) >= len(fence):
                closed = True
                break
            line = lines[j]
            if indent and line.startswith(indent):
                line = line[len(indent):]
            body.append(line)
            j += 1
        if not closed:
            blocks.append(CodeBlock(m.group("lang").lower(), "\n".join(body)))
            return blocks, True
        text = "\n".join(body)
        blocks.append(CodeBlock(m.group("lang").lower(), text + "\n" if body else ""))
        i = j + 1
    return blocks, False


def _pick_block(blocks: Sequence[CodeBlock], language: str | None) -> CodeBlock:
    """One block: the only one; else the first in the document's language; else the longest."""
    if len(blocks) == 1:
        return blocks[0]
    if language:
        same = [b for b in blocks if b.language == language.lower()]
        if len(same) == 1:
            return same[0]
        if same:
            return max(same, key=lambda b: len(b.text))
    code = [b for b in blocks if b.language not in ("diff", "text", "markdown", "md")]
    return max(code or list(blocks), key=lambda b: len(b.text))


def tool_calls_in_content(content: str) -> list[ToolCallText]:
    """Mistral's raw `[TOOL_CALLS]` syntax left in the text (the gateway's parser)."""
    return calls_from_content(content)


def _from_tool_call(call: ToolCallText, original: str) -> str:
    """New range text from a `str_replace_editor` call aimed at the selection."""
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        raise ReplyError(
            "Devstral's tool call had malformed arguments; nothing was changed.") from None
    if not isinstance(args, dict):
        raise ReplyError("Devstral's tool call had malformed arguments; nothing was changed.")
    command = args.get("command")
    if command == "str_replace":
        old, new = args.get("old_str"), args.get("new_str", "")
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise ReplyError("Devstral's edit had no usable old_str/new_str; nothing was changed.")
        norm = original.replace("\r\n", "\n")
        count = norm.count(old)
        if count == 0 and old.strip() and norm.count(old.strip()) == 1:
            old = old.strip()
            new = new.strip("\n") if old == old.strip("\n") else new
            count = 1
        if count != 1:
            where = "does not appear in" if count == 0 else "is not unique in"
            raise ReplyError(
                f"Devstral's edit targets text that {where} the selected range; nothing was "
                "changed.")
        return norm.replace(old, new, 1)
    if command in ("create", "insert") or "new_str" in args or "file_text" in args:
        text = args.get("file_text") if command == "create" else args.get("new_str")
        if isinstance(text, str) and text.strip():
            return text
    raise ReplyError(f"Devstral answered with an unusable tool call ({call.name} "
                     f"{command or ''}); nothing was changed.".replace(" )", ")"))


def parse_code_reply(
    content: str | None,
    *,
    original: str,
    language: str | None = None,
    tool_calls: Sequence[ToolCallText] = (),
    finish_reason: str | None = None,
    allow_empty: bool = False,
) -> str:
    """The code the model proposes for the range (line endings `\\n`), or `ReplyError`.

    `allow_empty`: an empty block is a valid answer (a fix that deletes the lines).
    """
    content = content or ""
    calls = [c for c in tool_calls if c.name == "str_replace_editor"]
    if not calls:
        calls = [c for c in tool_calls_in_content(content) if c.name == "str_replace_editor"]
    if calls:
        text = original.replace("\r\n", "\n")
        for call in calls:
            text = _from_tool_call(call, text)
        return text
    blocks, unterminated = fenced_blocks(content)
    if blocks:
        if unterminated and finish_reason == "length":
            # An unclosed fence is accepted (models forget it) unless the reply was truncated.
            raise ReplyError("Devstral's answer was cut off (token limit); nothing was changed.")
        block = _pick_block(blocks, language)
        if not block.text.strip() and original.strip() and not allow_empty:
            raise ReplyError("Devstral's answer contained an empty code block; nothing was "
                             "changed.")
        return block.text
    if finish_reason == "length":
        raise ReplyError("Devstral's answer was cut off (token limit); nothing was changed.")
    stripped = content.strip("\n")
    if stripped.strip() and _looks_like_bare_code(stripped, original):
        return stripped + ("\n" if content.endswith("\n") else "")
    if not content.strip():
        raise ReplyError("Devstral returned an empty answer; nothing was changed.")
    raise ReplyError("Devstral's answer did not contain a code block; nothing was changed.")


def _looks_like_bare_code(reply: str, original: str) -> bool:
    """An unfenced reply is accepted only when it starts the way the original code starts."""
    first = next((ln.strip() for ln in reply.split("\n") if ln.strip()), "")
    orig = next((ln.strip() for ln in original.split("\n") if ln.strip()), "")
    if not first or _PROSE_START.match(first):
        return False
    word = re.match(r"[^\s(]+", orig)
    return word is not None and first.startswith(word.group(0))


def parse_markdown_reply(content: str | None) -> str:
    """An explanation: any non-empty text; a lone fenced markdown block is unwrapped."""
    text = (content or "").strip()
    if not text:
        raise ReplyError("Devstral returned an empty explanation.")
    blocks, _ = fenced_blocks(text)
    if len(blocks) == 1 and blocks[0].language in ("markdown", "md") and text.startswith(
            ("```", "~~~")):
        text = blocks[0].text.strip()
    return text
