"""Prompt-cache stability: what the previous request of a document showed, kept in its order.

Providers cache prompt prefixes, so consecutive completion requests of one document should
share as long a prefix as possible. The engine therefore remembers the snippets each request
showed (`StickySnippets`), shows them first and in the same order next time (`prompt_order`),
keeps one that is no longer a candidate while the cursor stays near, and lets the block of
recent edits grow only at its end. `shared_prefix_ratio` measures how well that works.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..text import common_prefix_len
from .types import Snippet

Key = tuple[str, str, int]
"""(kind, shown path, first line) of a snippet: the same key is the same piece of a file."""
_KIND_ORDER = {"definition": 0, "similar": 1, "recent": 2}
MAX_DOCUMENTS = 64
"""Documents whose last request is remembered."""


def shared_prefix_ratio(a: str, b: str) -> float:
    """Share of the longer prompt that both prompts start with (1.0 = identical).

    Providers cache prompt prefixes, so the higher this is between consecutive requests, the
    cheaper and faster they are.
    """
    if not a and not b:
        return 1.0
    return common_prefix_len(a, b) / max(len(a), len(b))


@dataclass
class Candidate:
    """A piece of context the engine may show: a snippet or a recent edit, with its cost."""

    snippet: Snippet | None
    diff: str | None
    cost: int
    label: str
    own_line: int | None = None
    """Signature line of a definition from the current file (skipped if the prefix shows it)."""
    key: Key | None = None
    source: str = ""
    """The text the snippet was cut from (a definition's or a window's), to tell whether the
    piece of the file changed since the previous request."""
    full: bool = False
    """A definition shown with its body (not only its signature)."""
    file: Path | None = None
    doc: str = ""
    """URI of the document a similar window comes from."""
    stale: bool = False
    """Kept from the previous request of the document although no longer a candidate."""
    hunk: tuple[str, float] | None = None
    """(uri, time) of a recent edit."""


@dataclass
class Kept:
    """A snippet of the previous request of a document, as it was shown."""

    cand: Candidate
    line: int
    """Cursor line when it was last a candidate."""
    scope: str | None
    """Definition enclosing the cursor then."""


@dataclass
class Sticky:
    """What the previous request of a document showed, in its order (prompt caching)."""

    kept: dict[Key, Kept]
    edits_from: tuple[str, float] | None = None
    """(uri, time) of the oldest recent edit shown: older ones stay out, so the block of
    recent edits only grows at its end until that edit leaves the history."""


def end_line(snip: Snippet) -> int:
    """Line after the last line of `snip` in its file."""
    return snip.start_line + snip.text.count("\n") + 1


def _fresh_order(c: Candidate) -> tuple[int, str, int]:
    """Order of snippets new to a document's prompt: definitions, then similar code, each by
    path and line."""
    s = c.snippet
    assert s is not None
    return (_KIND_ORDER[s.kind], s.path, s.start_line)


def prompt_order(chosen: Sequence[Candidate], prev: Mapping[Key, Kept]) -> list[Candidate]:
    """The chosen snippets in prompt order: the previous request's first, in their order, then
    the newcomers; so while the user types, the prompt only grows at the end of the block."""
    position = {key: i for i, key in enumerate(prev)}
    old = [c for c in chosen if c.snippet is not None and c.key in position]
    new = [c for c in chosen if c.snippet is not None and c.key not in position]
    old.sort(key=lambda c: position[c.key] if c.key is not None else -1)
    new.sort(key=_fresh_order)
    return old + new


class StickySnippets:
    """The last request's snippets per document (the most recent `MAX_DOCUMENTS`)."""

    def __init__(self) -> None:
        self._by_uri: OrderedDict[str, Sticky] = OrderedDict()

    def get(self, uri: str) -> Sticky | None:
        return self._by_uri.get(uri)

    def forget(self, uri: str) -> None:
        self._by_uri.pop(uri, None)

    def clear(self) -> None:
        self._by_uri.clear()

    def __len__(self) -> int:
        return len(self._by_uri)

    def remember(
        self,
        uri: str,
        shown: Sequence[Candidate],
        prev: Mapping[Key, Kept],
        line: int,
        scope: str | None,
        diffs: Sequence[Candidate],
    ) -> None:
        """Keep what this request shows, in its order, for the next request of `uri`."""
        kept: dict[Key, Kept] = {}
        for c in shown:
            if c.key is None:
                continue
            if c.stale and c.key in prev:
                kept[c.key] = prev[c.key]  # relevant where it was last a candidate, not here
            else:
                kept[c.key] = Kept(c, line, scope)
        edits_from = diffs[-1].hunk if diffs else None  # `diffs` is newest first
        self._by_uri[uri] = Sticky(kept, edits_from)
        self._by_uri.move_to_end(uri)
        while len(self._by_uri) > MAX_DOCUMENTS:
            self._by_uri.popitem(last=False)
