"""Plain data passed from the context engine to prompt rendering.

Kept free of LSP and model types so the context sources, the prompt renderer and the
`devstral-lsp prompt` command can share them without import cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SnippetKind = Literal["definition", "similar", "recent"]


@dataclass(frozen=True)
class Snippet:
    """A piece of another file shown to the model, with where it came from."""

    path: str
    """Workspace-relative path as shown to the model (forward slashes)."""
    text: str
    kind: SnippetKind
    score: float = 0.0
    start_line: int = 0
    """0-based first line of `text` in its file, for display and de-duplication."""


@dataclass
class PromptContext:
    """Everything the prompt renderer may show the model for one request.

    All text here is already redacted and fits the token budget; `dropped` and `redactions`
    say what was left out so `devstral-lsp prompt` can show it.
    """

    path: str
    language_id: str
    prefix: str
    """Text of the current file before the cursor (a window ending at the cursor)."""
    suffix: str
    """Text of the current file after the cursor (a window starting at the cursor)."""
    snippets: list[Snippet] = field(default_factory=list)
    recent_edits: list[str] = field(default_factory=list)
    """Small unified diffs of the user's latest edits, oldest first."""
    dropped: list[str] = field(default_factory=list)
    redactions: list[str] = field(default_factory=list)
    token_counts: dict[str, int] = field(default_factory=dict)
    prefix_truncated: bool = False
    """True when `prefix` does not start at the beginning of the file."""
    suffix_truncated: bool = False
