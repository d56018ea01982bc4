"""Tool results as the model reads them, and the limits that keep them small.

A tool result goes back into the prompt: `cat -n` views as OpenHands renders them (what Devstral
expects), clipped past `MAX_RESPONSE_CHARS` with OpenHands' own notice, and `TurnOutput` caps all
results of one model turn together (many `view`s in one reply add up). Failures are results too
(`error`: text starting with `ERROR:`), never exceptions, so the loop can hand them back to the
model as a tool message.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RESPONSE_CHARS = 16_000
MAX_TURN_OUTPUT_CHARS = 60_000
"""Total tool-result characters per model turn (~15k tokens): several `view`s of large files
or folders in one reply must not blow up the prompt or the server's memory."""

CLIPPED_NOTICE = (
    "<response clipped><NOTE>To save on context only part of this file has been shown to you. "
    "Use the `search` tool to find the line numbers of what you are looking for, then `view` "
    "with `view_range`.</NOTE>"
)


@dataclass
class ToolOutcome:
    """What one tool call produced: the tool message text and what the loop must know."""

    content: str
    error: bool = False
    finished: bool = False
    task_completed: bool = False
    message: str = ""
    """The `finish` message (summary for the user)."""


def error(msg: str) -> ToolOutcome:
    """A failure as the model is told it (OpenHands' `ERROR:` prefix)."""
    return ToolOutcome(content=f"ERROR:\n{msg}", error=True)


def numbered(text: str, start_line: int = 1) -> str:
    """`cat -n` style numbering (6-wide, tab) as OpenHands renders it, clipped if huge."""
    if len(text) > MAX_RESPONSE_CHARS:
        text = text[:MAX_RESPONSE_CHARS] + CLIPPED_NOTICE
    lines = text.split("\n")
    return "\n".join(f"{i + start_line:6}\t{line}" for i, line in enumerate(lines))


def file_lines(text: str) -> list[str]:
    """File lines without their `\\n` (a trailing newline does not make an extra line)."""
    if not text:
        return []
    parts = text.split("\n")
    if text.endswith("\n"):
        parts.pop()
    return parts


def cat_n(snippet: str, description: str, start_line: int = 1) -> str:
    """A view as OpenHands words it (`Here's the result of running `cat -n` on ...`)."""
    return (
        f"Here's the result of running `cat -n` on {description}:\n"
        + numbered(snippet, start_line)
        + "\n"
    )


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
        return error(
            f"Not run: the tool results of this turn already reached {self.limit} characters. "
            "Make fewer or narrower calls per turn (use `view_range`, `search` with `path`)."
        )
