"""The one tool-call type and parser, shared by code actions and the edit agent.

A tool call reaches us either as a structured `tool_calls` entry of a chat message or, from
local servers (llama.cpp/Ollama templates) that fail to parse Devstral's tool-call tokens, as
Mistral's raw `[TOOL_CALLS]` text inside the content. Both end up as `ToolCall`s here, so
neither caller has to know which one it got.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One function call: its name, its raw JSON arguments and the backend's id (if any).

    `arguments` stays the exact string the model produced: it may be invalid JSON, which the
    callers report back to the model instead of failing.
    """

    name: str
    arguments: str
    id: str | None = None


_TOOL_CALLS_TAG = "[TOOL_CALLS]"


def calls_from_content(content: str) -> list[ToolCall]:
    """Tool calls a backend left in the text as Mistral's raw `[TOOL_CALLS]` syntax.

    Recognises both the JSON-list form and the `name[ARGS]{…}` form.
    """
    idx = content.find(_TOOL_CALLS_TAG)
    if idx < 0:
        return []
    rest = content[idx + len(_TOOL_CALLS_TAG) :].strip()
    calls: list[ToolCall] = []
    if rest.startswith("["):
        try:
            items = json.loads(rest)
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    args = item.get("arguments", {})
                    calls.append(
                        ToolCall(
                            name=item["name"],
                            arguments=args if isinstance(args, str) else json.dumps(args),
                            id=item.get("id") if isinstance(item.get("id"), str) else None,
                        )
                    )
            return calls
    for chunk in rest.split(_TOOL_CALLS_TAG):
        name, sep, args = chunk.partition("[ARGS]")
        if sep and name.strip():
            calls.append(ToolCall(name=name.strip(), arguments=args.strip()))
    return calls


def calls_from_message(message: Any) -> list[ToolCall]:
    """Every tool call of an `openai` chat message; the raw text form when it has none.

    A call without a `function` (a "custom" tool call) is kept with an empty name: it is not
    ours, but Mistral's stack still wants an answer to it.
    """
    calls: list[ToolCall] = []
    for tc in getattr(message, "tool_calls", None) or []:
        fn = getattr(tc, "function", None)
        if fn is None:
            calls.append(ToolCall(name="", arguments="", id=getattr(tc, "id", None)))
            continue
        calls.append(
            ToolCall(
                name=str(getattr(fn, "name", "") or ""),
                arguments=str(getattr(fn, "arguments", "") or ""),
                id=getattr(tc, "id", None),
            )
        )
    content = getattr(message, "content", None)
    if not calls and isinstance(content, str):
        calls = calls_from_content(content)
    return calls
