"""Where automatic suggestions are wanted: not in comments or strings (unless enabled), not in
disabled languages.

Users of AI completion ask for this first: a model asked to continue a comment writes prose,
and one inside a string invents text. tree-sitter (already used by the symbol index) knows the
syntax at the cursor for the languages it has grammars for; other languages are not filtered.
Only a window of lines around the cursor is parsed, so the check stays around a millisecond on
any file; a comment or string opened more than the window above the cursor is not seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from ..config import Settings
from ..context.grammars import language_for, parser_for

log = logging.getLogger(__name__)

Place = Literal["comment", "string"]
WINDOW_LINES = 150
"""Lines parsed before and after the cursor."""

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
_STRINGS = frozenset({
    "string", "template_string", "interpreted_string_literal", "raw_string_literal",
    "string_literal", "char_literal", "concatenated_string",
})


def cursor_place(read: Callable[[int, int], str], offset: int, language_id: str,
                 uri: str = "") -> Place | None:
    """"comment" or "string" when the cursor is inside one, else None (also when unknown)."""
    grammar = language_for(uri, language_id)
    if grammar is None:
        return None
    before = read(offset - 200 * WINDOW_LINES, offset)
    after = read(offset, offset + 200 * WINDOW_LINES)
    lines_before = before.split("\n")
    if len(lines_before) > WINDOW_LINES:
        lines_before = lines_before[-WINDOW_LINES:]
    head = "\n".join(lines_before)
    tail = "\n".join(after.split("\n")[:WINDOW_LINES])
    source = (head + tail).encode("utf-8", "surrogatepass")
    cursor = len(head.encode("utf-8", "surrogatepass"))
    try:
        tree = parser_for(grammar).parse(source)
    except Exception:  # a grammar failure must never cost the user a suggestion
        log.debug("placement: parse failed", exc_info=True)
        return None
    start = max(cursor - 1, 0)
    node = tree.root_node.descendant_for_byte_range(start, cursor)
    while node is not None:
        kind = node.type
        if kind in _COMMENTS:
            text = source[node.start_byte:node.end_byte]
            closed_block = text.endswith(b"*/") and node.end_byte == cursor
            if node.start_byte < cursor <= node.end_byte and not closed_block:
                return "comment"
        elif kind in _STRINGS:
            if node.start_byte < cursor < node.end_byte:
                return "string"
            # A string still being typed has no closing quote: tree-sitter ends it at the
            # cursor, with a MISSING or ERROR closer.
            if node.start_byte < cursor == node.end_byte and _unterminated(node):
                return "string"
        node = node.parent
    if tree.root_node.has_error and _open_quote_before(tree.root_node, source, cursor):
        return "string"
    return None


_QUOTE_TOKENS = frozenset({"string_start", '"', "'", "`"})


def _open_quote_before(root: object, source: bytes, cursor: int) -> bool:
    """A string being typed without its closing quote: tree-sitter leaves its opening quote
    in an ERROR node. On the cursor's line for ordinary quotes, anywhere above for triple ones.
    """
    line_start = source.rfind(b"\n", 0, cursor) + 1
    stack = [root]
    while stack:
        node = stack.pop()
        if not getattr(node, "has_error", False) or getattr(node, "start_byte", 0) >= cursor:
            continue
        children = getattr(node, "children", [])
        if getattr(node, "type", "") == "ERROR":
            for child in children:
                if child.type in _QUOTE_TOKENS and child.start_byte < cursor:
                    quote = source[child.start_byte:child.end_byte].lstrip(b"rbfuRBFU")
                    if quote in (b'"' * 3, b"'" * 3) or child.start_byte >= line_start:
                        return True
        stack.extend(children)
    return False


def _unterminated(node: object) -> bool:
    children = getattr(node, "children", [])
    return bool(children) and (children[-1].is_missing or getattr(node, "has_error", False))


def automatic_blocked(settings: Settings, read: Callable[[int, int], str], offset: int,
                      language_id: str, uri: str = "") -> str | None:
    """Why an automatic suggestion is not wanted here, or None."""
    if language_id.lower() in settings.disabled_languages:
        return f"language {language_id} is disabled"
    if settings.suggest_in_comments and settings.suggest_in_strings:
        return None
    place = cursor_place(read, offset, language_id, uri)
    if place == "comment" and not settings.suggest_in_comments:
        return "the cursor is in a comment (suggestInComments is off)"
    if place == "string" and not settings.suggest_in_strings:
        return "the cursor is in a string (suggestInStrings is off)"
    return None
