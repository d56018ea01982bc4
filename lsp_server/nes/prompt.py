"""The next-edit prompt: what the user just did, and the region to rewrite.

Devstral has no next-edit training, so the prompt follows the shape of the purpose-trained
models' (Zed's Zeta, Copilot's "xtab") in plain chat: the user's recent edits as unified diffs,
snippets from other files, then the current file with the editable region between markers and
the cursor marked; the answer asked for is the rewritten region only. The stable parts (system
prompt, other files, older edits) come first so a provider's prompt cache can reuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

REGION_START = "<|editable_region_start|>"
REGION_END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"
MARKERS = (REGION_START, REGION_END, CURSOR)

SYSTEM_PROMPT = f"""You predict the next edit a programmer makes in their code.
You are shown their most recent edits as unified diffs (oldest first), code from other files,
and the file they are editing. In that file, the lines between {REGION_START} and {REGION_END}
are the editable region and {CURSOR} marks the cursor.
Rewrite the editable region the way the programmer will change it next, continuing what their
recent edits started: the other uses of a renamed name, the constructor of a new field, the
call sites of a changed signature, the same fix made elsewhere, an expected value that follows
a changed behaviour. Do not undo or repeat their edits, and do not reformat, reorder or comment.
Reply with the rewritten region only: every line of it, unchanged lines exactly as they are,
without the markers, without explanations and without code fences. If nothing in the region
needs to change, reply with the region unchanged."""


@dataclass(frozen=True)
class OtherFile:
    path: str
    text: str


@dataclass
class NesInput:
    """Everything the prompt shows; text is already redacted or put through the vault."""

    path: str
    language: str
    region: str
    """The editable region, "\\n" line breaks."""
    cursor: int
    """Offset of the cursor in `region`."""
    before: str = ""
    after: str = ""
    recent_edits: list[str] = field(default_factory=list)
    """Unified diffs, oldest first; the edit in progress last."""
    snippets: Sequence[OtherFile] = ()


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks inside `text`."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def marked_region(inp: NesInput) -> str:
    """The region between its markers, the cursor marked (what the model must rewrite)."""
    c = max(0, min(inp.cursor, len(inp.region)))
    body = inp.region[:c] + CURSOR + inp.region[c:]
    if not body.endswith("\n"):
        body += "\n"
    return f"{REGION_START}\n{body}{REGION_END}\n"


def render_user(inp: NesInput) -> str:
    parts: list[str] = []
    if inp.snippets:
        parts.append("Code from other files:")
        for s in inp.snippets:
            fence = fence_for(s.text)
            parts.append(f"{s.path}\n{fence}\n{s.text.rstrip()}\n{fence}")
    if inp.recent_edits:
        parts.append("My recent edits, oldest first:")
        diffs = "\n".join(d.rstrip("\n") for d in inp.recent_edits)
        fence = fence_for(diffs)
        parts.append(f"{fence}diff\n{diffs}\n{fence}")
    else:
        parts.append("My recent edits: none recorded.")
    file_text = inp.before + marked_region(inp) + inp.after
    fence = fence_for(file_text)
    parts.append(f"The file I am editing, {inp.path} ({inp.language}):\n"
                 f"{fence}{inp.language}\n{file_text.rstrip()}\n{fence}")
    parts.append("Reply with the rewritten editable region only.")
    return "\n\n".join(parts)


def build_messages(inp: NesInput) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": render_user(inp)},
    ]
