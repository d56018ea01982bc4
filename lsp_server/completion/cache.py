"""Answer repeated and typed-along positions without a model call.

Typed-through: once a suggestion was shown, a user who types its first characters should see
the rest at once, not wait for (and pay for) another call. LRU: the same context (for example
after undo, or moving back to a position) gets the same answer.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Read = Callable[[int, int], str]
"""`read(start, end)` returns the document text between two offsets (clamped)."""

ANCHOR_TAIL = 256
"""How much text before a suggestion's position must be unchanged for it to still apply."""


@dataclass(frozen=True)
class Shown:
    """A suggestion returned at `offset` of a document, with the text that led up to it."""

    offset: int
    tail: str
    text: str


class TypedThroughCache:
    """Per document, the latest suggestion; answers when the user types along it."""

    def __init__(self) -> None:
        self._shown: dict[str, Shown] = {}

    def remember(self, uri: str, read: Read, offset: int, suggestion: str) -> None:
        if suggestion:
            self._shown[uri] = Shown(offset, read(offset - ANCHOR_TAIL, offset), suggestion)

    def forget(self, uri: str) -> None:
        self._shown.pop(uri, None)

    def clear(self) -> None:
        self._shown.clear()

    def lookup(self, uri: str, read: Read, offset: int) -> str | None:
        """The rest of the latest suggestion if the user typed its beginning, else None."""
        shown = self._shown.get(uri)
        if shown is None or offset < shown.offset or offset - shown.offset > len(shown.text):
            return None
        if read(shown.offset - ANCHOR_TAIL, shown.offset) != shown.tail:
            return None
        typed = read(shown.offset, offset)
        if not shown.text.startswith(typed):
            return None
        rest = shown.text[len(typed):]
        return rest or None


def request_key(body: dict[str, Any]) -> str:
    """Stable hash of the request body actually sent."""
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def text_key(*parts: str) -> str:
    """Stable hash of some texts (a cursor window): small keys for the LRU."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


class LRUCache:
    """Bounded map from request key to cleaned suggestion."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
