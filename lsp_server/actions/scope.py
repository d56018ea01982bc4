"""Cheap, language-agnostic guesses about the code around the cursor.

`textDocument/codeAction` is requested on nearly every cursor move and must answer instantly
without the model, so which actions apply is decided from the lines alone: is the cursor inside a
definition (function, class, method…), does that definition already have a docstring, is its body
a stub, is there a TODO. These are heuristics by indentation and brackets, deliberately simple:
a wrong guess only means an action is offered or not; the model does the real work on resolve.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..lazy_re import LazyPattern

MAX_SCAN_UP = 2000
"""Lines looked at above the cursor for an enclosing definition."""
MAX_BLOCK_LINES = 4000


class Lines(Protocol):
    """Read access to a document's lines (without line endings)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> str: ...


_MODIFIERS = (
    r"(?:export|pub(?:\([^)]*\))?|public|private|protected|internal|static|async|default|"
    r"override|virtual|inline|unsafe|const|extern|abstract|final|open|suspend|declare)"
)
_DEF_KEYWORD = LazyPattern(
    rf"^\s*(?:{_MODIFIERS}\s+)*(?:def|class|fn|func|function|interface|struct|impl|enum|trait|"
    r"module|sub|proc|fun|object|record)\b"
)
_C_LIKE_DEF = LazyPattern(r"^\s*[A-Za-z_][\w:<>,\[\]\s\*&]*[\s\*&]\**[A-Za-z_]\w*\s*\([^;]*$")
_NOT_DEF = LazyPattern(
    r"^\s*(?:if|for|while|switch|return|else|catch|do|try|with|elif|except|case|new|throw|"
    r"await|yield|print|assert|raise|del|import|from|using|namespace)\b"
)
_ARROW_DEF = LazyPattern(r"^\s*(?:export\s+)?(?:const|let|var)\s+\w+\s*=\s*(?:async\s*)?\(.*=>")
_TODO = LazyPattern(r"\b(TODO|FIXME|XXX)\b[:\s]*(.*)")
_COMMENT_START = LazyPattern(r"^\s*(#|//|/\*|\*|--|;|%)")
_STUB_LINE = LazyPattern(
    r"^\s*(?:pass|\.\.\.|raise\s+NotImplementedError\b.*|todo!\(.*\);?|unimplemented!\(.*\);?|"
    r"throw\s+new\s+\w*Error\(.*\);?|panic\(.*\);?|return\s*;?|\{\s*\}|\}|end|\)|\];?)\s*$"
)
_CLOSER = LazyPattern(r"^\s*(?:[\}\)\]]+[;,]?|end\b.*)\s*$")
_DOC_OPEN = LazyPattern(r'^\s*[rRuUbB]?("""|\'\'\')')
_DOC_COMMENT_ABOVE = LazyPattern(r"^\s*(///|//!|/\*\*|\*|#|--|;;)")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def is_definition(line: str) -> bool:
    """Does this line start a function/class/method definition (in most languages)?"""
    if not line.strip() or _COMMENT_START.match(line) or _NOT_DEF.match(line):
        return False
    if _DEF_KEYWORD.match(line) or _ARROW_DEF.match(line):
        return True
    stripped = line.rstrip()
    return bool(_C_LIKE_DEF.match(line)) and not stripped.endswith(";") and "=" not in line.split(
        "(", 1
    )[0]


@dataclass(frozen=True)
class Block:
    """A definition: `start` (first decorator or the header) to `end` (last line), inclusive."""

    start: int
    header: int
    """The line with the `def`/`function`/… keyword."""
    body_start: int
    """First line after the (possibly multi-line) header."""
    end: int


def _bracket_delta(line: str) -> int:
    # Strings and comments are ignored by this heuristic on purpose: it only has to find the end
    # of a signature, where brackets inside strings are rare.
    return sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")


def block_at(lines: Lines, header: int) -> Block:
    """The extent of the definition whose header is on line `header`."""
    n = len(lines)
    head_indent = indent_of(lines[header])
    # Multi-line signatures: continue until the parentheses/brackets balance.
    depth = 0
    i = header
    while i < n and i < header + 200:
        text = lines[i]
        depth += text.count("(") + text.count("[") - text.count(")") - text.count("]")
        if depth <= 0:
            break
        i += 1
    body_start = min(i + 1, n)
    last = min(i, n - 1)
    header_line = lines[header].rstrip()
    if header_line.endswith(";"):
        return Block(_decorators_above(lines, header), header, body_start, header)
    j = body_start
    limit = min(n, header + MAX_BLOCK_LINES)
    while j < limit:
        text = lines[j]
        if not text.strip():
            j += 1
            continue
        ind = indent_of(text)
        if ind <= head_indent:
            if ind == head_indent and _CLOSER.match(text):
                last = j
            break
        last = j
        j += 1
    return Block(_decorators_above(lines, header), header, body_start, last)


def _decorators_above(lines: Lines, header: int) -> int:
    start = header
    indent = indent_of(lines[header])
    while start > 0:
        above = lines[start - 1]
        if above.strip().startswith("@") and indent_of(above) == indent:
            start -= 1
        else:
            break
    return start


def enclosing_definition(lines: Lines, line: int) -> Block | None:
    """The innermost definition containing `line` (its header may be on `line` itself)."""
    if not 0 <= line < len(lines):
        return None
    # A cursor on a decorator belongs to the definition below it.
    k = line
    while k < len(lines) - 1 and k < line + 20 and lines[k].strip().startswith("@"):
        k += 1
    if is_definition(lines[k]):
        return block_at(lines, k)
    for cand in range(line - 1, max(-1, line - MAX_SCAN_UP), -1):
        text = lines[cand]
        if is_definition(text):
            block = block_at(lines, cand)
            if block.end >= line:
                return block
    return None


def find_todo(lines: Lines, first: int, last: int) -> tuple[int, str] | None:
    """First `TODO`/`FIXME`/`XXX` comment in lines `first..last`: (line, its text)."""
    for i in range(max(0, first), min(len(lines) - 1, last) + 1):
        m = _TODO.search(lines[i])
        if m and (_COMMENT_START.match(lines[i]) or "#" in lines[i] or "//" in lines[i]):
            text = m.group(2).strip().rstrip("*/").strip()
            return i, text
    return None


def has_docstring(lines: Lines, block: Block) -> bool:
    """A Python docstring as the first body statement, or a doc comment right above."""
    for i in range(block.body_start, min(block.end, block.body_start + 3) + 1):
        if i >= len(lines):
            break
        text = lines[i]
        if not text.strip():
            continue
        if _DOC_OPEN.match(text):
            return True
        break
    if block.start > 0:
        above = lines[block.start - 1]
        if _DOC_COMMENT_ABOVE.match(above):
            return True
    # One-line header with a docstring on it is rare; ignore.
    return False


def is_stub(lines: Lines, block: Block) -> bool:
    """Body consisting only of `pass`, `...`, `raise NotImplementedError`, `todo!()`, docstring,
    comments or nothing: "Implement this function" is offered."""
    header = lines[block.header]
    tail = header.split(":", 1)[-1] if header.rstrip().endswith(("pass", "...")) else ""
    if tail.strip() in ("pass", "..."):
        return True
    in_doc = False
    for i in range(block.body_start, block.end + 1):
        text = lines[i]
        s = text.strip()
        if not s:
            continue
        if in_doc:
            if '"""' in s or "'''" in s:
                in_doc = False
            continue
        m = _DOC_OPEN.match(text)
        if m:
            quote = m.group(1)
            if s.count(quote) < 2:
                in_doc = True
            continue
        if _COMMENT_START.match(text):
            continue
        if s in ("{", "{}"):
            continue
        if not _STUB_LINE.match(text):
            return False
    return True


def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return bool(
        re.match(r"^test_.*\.py$", name)
        or re.match(r".*_test\.(py|go)$", name)
        or re.match(r".*\.(test|spec)\.[jt]sx?$", name)
        or re.match(r".*_spec\.rb$", name)
        or "/tests/" in path
        or "/__tests__/" in path
    )


def lines_of(text: str) -> Sequence[str]:
    """Lines without endings (LSP breaks only) for the helpers above, from a plain string."""
    return re.split(r"\r\n|\r|\n", text)


class LineReader(Protocol):
    """A document that reads one line at a time (`documents.Document`)."""

    @property
    def line_count(self) -> int: ...

    def line(self, index: int) -> str: ...


class DocumentLines:
    """`Lines` over a document without splitting its whole text."""

    def __init__(self, doc: LineReader) -> None:
        self.doc = doc

    def __len__(self) -> int:
        return self.doc.line_count

    def __getitem__(self, index: int) -> str:
        return self.doc.line(index)
