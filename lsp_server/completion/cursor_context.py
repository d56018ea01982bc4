"""What every cleanup stage knows about the text around the cursor, computed once a request.

`CursorContext` holds bounded windows of the prefix and suffix (so the cleanup stays linear in
the answer however large the file), an index of the lines above for echo detection, and the
block that encloses the cursor. The line-shape primitives it needs (indentation width, what
closes the block a line opens, whether a line only closes one) live here too, because the
block-end and trimming stages ask the same questions of the answer's lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..lazy_re import LazyPattern
from .scan import OPENERS, is_word

_MAX_PREFIX_LINES = 200
"""How far back an echo of earlier lines is looked for; also bounds the opener search."""

_MAX_SUFFIX_LINES = 200

TAB_WIDTH = 4

AFTER_CURSOR_OK = frozenset(")]}\"'`;, \t")
"""Text after the cursor that still lets a multi-line suggestion end the line."""

_PROSE_LANGS = frozenset(
    {"markdown", "mdx", "plaintext", "text", "restructuredtext", "asciidoc", "latex", "tex"}
)
"""Documents where fences and English sentences are content, not wrapping."""

_END_LANGS = frozenset({"lua", "ruby", "elixir", "julia", "crystal"})
"""Languages whose blocks close with the `end` keyword."""

_END_OPENER_RE = LazyPattern(
    r"(?:.*\b(?:then|do|else|begin))$|(?:(?:local\s+)?function|def|class|module|if|while|for"
    r"|unless|until|case)\b"
)


@dataclass
class CursorContext:
    """The parts of prefix and suffix every stage needs, computed once per request."""

    line_before: str
    prev: list[str]
    """Complete lines before the cursor line, nearest last (bounded window)."""
    suffix_line: str
    """Rest of the cursor line after the cursor."""
    following: list[str]
    """Lines after the cursor line (bounded window)."""
    language_id: str
    multiline: bool
    prev_index: dict[str, list[int]] = field(default_factory=dict)
    suffix_keys: list[str] = field(default_factory=list)
    suffix_starts: tuple[int, ...] = (0,)
    _enclosing: dict[int, tuple[int | None, str | None]] = field(default_factory=dict)

    @classmethod
    def build(cls, prefix: str, suffix: str, language_id: str, multiline: bool) -> CursorContext:
        parts = prefix.rsplit("\n", _MAX_PREFIX_LINES + 1)
        if len(parts) == _MAX_PREFIX_LINES + 2:
            parts = parts[1:]  # the first piece is everything further up, not one line
        tail = suffix.split("\n", _MAX_SUFFIX_LINES + 1)
        following = tail[1:_MAX_SUFFIX_LINES + 1]
        ctx = cls(
            line_before=parts[-1],
            prev=parts[:-1],
            suffix_line=tail[0],
            following=following,
            language_id=language_id.lower(),
            multiline=multiline,
        )
        for idx, line in enumerate(ctx.prev):
            key = line.strip()
            if key:
                ctx.prev_index.setdefault(key, []).append(idx)
        keys: list[str] = []
        same_line = tail[0].strip()
        if same_line:
            keys.append(same_line)
        keys.extend(s for s in (line.strip() for line in following) if s)
        ctx.suffix_keys = keys
        if same_line and all(ch in AFTER_CURSOR_OK for ch in same_line) and len(keys) > 1:
            ctx.suffix_starts = (0, 1)  # the answer may skip the closers right after the cursor
        return ctx

    @property
    def prose_ok(self) -> bool:
        return self.language_id not in _PROSE_LANGS

    @property
    def in_text(self) -> bool:
        """The cursor looks like it is in a comment, a string or a docstring (sentences are
        content there). A cheap guess on the nearby text; placement controls use tree-sitter."""
        before = self.line_before
        if any(mark in before for mark in ("#", "//", "/*", "--", "<!--")):
            return True
        stripped = before.lstrip()
        if stripped.startswith("*"):
            return True
        if any(before.count(q) % 2 for q in ('"', "'", "`")):
            return True
        window = "\n".join(self.prev[-50:]) + "\n" + before
        return window.count('"""') % 2 == 1 or window.count("'''") % 2 == 1

    def enclosing(self, indent: int) -> tuple[int | None, str | None]:
        """Indentation and expected closer of the nearest prefix line that opened this block."""
        if indent not in self._enclosing:
            found: tuple[int | None, str | None] = (None, None)
            for line in reversed(self.prev):
                if line.strip() and indent_width(line) < indent:
                    found = (indent_width(line), opener_closer(line, self.language_id) or None)
                    break
            self._enclosing[indent] = found
        return self._enclosing[indent]

    def suffix_closes(self, closer: str, own: int | None) -> bool:
        """Whether the file after the cursor already closes the block at level `own`."""
        same_line = self.suffix_line.strip()
        if same_line:
            return is_closer_line(same_line, closer, loose=True)
        for line in self.following:
            stripped = line.strip()
            if not stripped:
                continue
            if own is None:
                return is_closer_line(stripped, closer, loose=True)
            ind = indent_width(line)
            if ind <= own:  # an outer block's closer below does not close this one
                return ind == own and is_closer_line(stripped, closer, loose=True)
        return False


def indent_width(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += TAB_WIDTH
        else:
            break
    return width


def opener_closer(line: str, language_id: str) -> str | None:
    """What closes the block this line opens: a bracket, "end", "" (indentation only) or None."""
    body = line.rstrip()
    candidates = [body]
    for mark in (" #", " //", " --"):
        pos = body.find(mark)
        if pos > 0:
            candidates.append(body[:pos].rstrip())
    for cand in candidates:
        if not cand:
            continue
        last = cand[-1]
        if last in OPENERS:
            return OPENERS[last]
        if last == ":":
            return ""
        if language_id in _END_LANGS and _END_OPENER_RE.match(cand.strip()):
            return "end"
    return None


def is_closer_line(stripped: str, closer: str, *, loose: bool = False) -> bool:
    """A line that only closes the block (`}`, `});`, `end)`); `loose` accepts `} else {`."""
    if closer == "end":
        if not stripped.startswith("end") or is_word(stripped[3:4]):
            return False
        rest = stripped[3:]
    else:
        if not stripped.startswith(closer):
            return False
        rest = stripped[len(closer):]
    return loose or all(ch in ")]};,:. " for ch in rest)
