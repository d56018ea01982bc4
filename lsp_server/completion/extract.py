"""Find the code in a chat model's reply: fences, preambles, prompt echoes and explanations.

Instruct models wrap code in fences and sentences ("Here is the completion:"), echo the
prompt's labels, leak chat-template tags and explain themselves afterwards. This stage keeps
the lines between those, deciding one complete line at a time so a streamed reply can stop
early without changing the answer (`Extracted.decided`, `Extracted.ended`). In prose documents
(markdown, plain text) fences and sentences are content and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..lazy_re import LazyPattern
from ..model.prompts import HOLE_MARKER
from ..text import normalize_newlines
from .cursor_context import CursorContext

_LABEL_FREE_LANGS = frozenset({"yaml", "toml", "makefile", "ini", "properties"})
"""Languages where a bare `word:` line is ordinary syntax."""

_BACKTICK_LANGS = frozenset(
    {"javascript", "typescript", "javascriptreact", "typescriptreact", "go", "shellscript",
     "bash", "sh", "zsh", "kotlin", "scala", "sql", "mysql", "markdown", "mdx", "haskell"}
)
"""Languages where a line wrapped in single backticks can be real code."""

_CUT_TAGS = ("</COMPLETION>", "</CODE>", "<|im_end|>", "<|endoftext|>", "[/INST]", "</QUERY>",
             "<QUERY>")
"""Markers after which the model is no longer answering (end tags, chat template leaks)."""

_STRIP_TAGS = ("<COMPLETION>", "<CODE>")
"""Wrappers some models put around the answer itself."""

_INTRO_RE = LazyPattern(
    r"(?i:sure|certainly|of course|absolutely|okay|alright|got it|"
    r"here(?:'s| is| are)|below (?:is|are)|"
    r"the (?:complete|completed|missing|following|full|final|corrected|updated) "
    r"(?:code|completion|line|lines|implementation|snippet|function|version)|"
    r"(?:this|that) (?:is the|completes|should)|to complete|"
    r"i(?:'ll| will|'ve| have| can))\b"
)
"""Openers of the sentence an instruct model says before the code."""

_LABEL_RE = LazyPattern(
    r"</?[A-Z][A-Z_]{1,24}>"
    r"|(?i:completion|answer|code|output|result|insertion|inserted code|missing code"
    r"|fill|hole|prefix|suffix|task|query|cursor)\s*:"
    r"|File: \S.*\(\S*\)"
    r"|(?i:insert code at)\b.*"
    r"|…"
)
"""Whole lines that echo the prompt's own labels (see model/prompts.py) or common tags."""

_TRAILING_RE = LazyPattern(
    r"(?i:this|these|that|the|it|in|i|here|note|notes|now|with|explanation|by|you|we)\b"
)
"""First words of an explanation the model appends after the code."""

_BACKTICK_SPAN_RE = LazyPattern(r"`[^`]*`")


@dataclass
class Extracted:
    lines: list[str]
    complete: int
    """How many of `lines` are complete (followed by a newline or the end of the answer)."""
    ended: bool
    """A closing fence, an end tag or an explanation ended the code: nothing later matters."""
    decided: bool
    """Where the code starts can no longer change."""
    fenced: bool = False


def extract_code(raw: str, ctx: CursorContext, *, final: bool) -> Extracted:
    """Find the code in the answer: drop fences, preambles, prompt echoes and explanations."""
    raw = normalize_newlines(raw)  # a CRLF reply: the caller puts the file's line ends back
    if HOLE_MARKER in raw:
        raw = raw.replace(HOLE_MARKER, "")
    for tag in _STRIP_TAGS:
        if tag in raw:
            raw = raw.replace(tag + "\n", "").replace(tag, "")
    ended = False
    cut_at = min((pos for pos in (raw.find(tag) for tag in _CUT_TAGS) if pos >= 0), default=-1)
    if cut_at >= 0:
        raw = raw[:cut_at]
        final = ended = True
    elif final:
        raw = _drop_partial_marker(raw)
    lines = raw.split("\n")
    n_complete = len(lines) if final else len(lines) - 1
    prose_ok = ctx.prose_ok
    labels_ok = prose_ok and ctx.language_id not in _LABEL_FREE_LANGS

    # Where does the code start?
    decided = final
    fence_at = -1
    after_preamble = 0
    i = 0
    while i < len(lines):
        if i >= n_complete:
            break  # a partial line could still turn out to be anything
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        if prose_ok and _is_fence(stripped):
            fence_at = i
            decided = True
            break
        if prose_ok and (_is_intro(stripped) or (labels_ok and _LABEL_RE.fullmatch(stripped))):
            i += 1
            after_preamble = i
            continue
        if prose_ok and _is_loose_prose(stripped):
            i += 1  # a sentence: prose before a fence, or text in a docstring/comment
            continue
        decided = True
        break
    fenced = fence_at >= 0
    if fenced:
        start = fence_at + 1
        while start < n_complete and not lines[start].strip():
            start += 1  # models put a blank line after the opening fence
    else:
        start = after_preamble
        if start:
            while start < n_complete and not lines[start].strip():
                start += 1

    # Where does it end?
    end = len(lines)
    prev_blank = False
    j = start
    while j < len(lines):
        line = lines[j]
        stripped = line.strip()
        if j >= n_complete:
            if prose_ok and _is_fence(stripped):
                end, ended = j, True  # already a fence whatever follows on this line
            break
        if prose_ok:
            if _is_fence(stripped):
                end, ended = j, True
                break
            if not fenced and j > start and stripped and line[:1] not in " \t":
                echo_label = labels_ok and _LABEL_RE.fullmatch(stripped) is not None
                if echo_label or (prev_blank and _is_trailing_prose(stripped)):
                    end, ended = j, True
                    break
        prev_blank = not stripped
        j += 1
    if prose_ok and final and not ended and end == len(lines) and end > start:
        partial = lines[-1].strip()
        if partial and set(partial) == {"`"}:
            end -= 1  # the stream stopped inside a closing fence
    code = lines[start:end]
    complete = len(code) if ended else max(0, min(end, n_complete) - start)
    if code and complete >= 1 and (not ctx.multiline or (final and len(code) == 1)):
        code[0] = _unwrap_backticks(code[0], ctx.language_id)
    return Extracted(code, complete, ended, decided, fenced)


def only_prose(lines: list[str], ctx: CursorContext) -> bool:
    """A reply with no code at all ("I need more context to …"): it must give no suggestion.

    Sentences are real content in comments, strings and docstrings, so there they are kept.
    """
    if not ctx.prose_ok or ctx.in_text:
        return False
    found = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not (_is_loose_prose(stripped) or _is_intro(stripped)
                or _is_trailing_prose(stripped)):
            return False
        found = True
    return found


def _is_fence(stripped: str) -> bool:
    return stripped.startswith(("```", "~~~"))


def _is_intro(stripped: str) -> bool:
    if not _INTRO_RE.match(stripped):
        return False
    bare = _BACKTICK_SPAN_RE.sub("x", stripped)
    return not any(ch in "=;{}" for ch in bare)


def _prose_shape(stripped: str, min_words: int) -> bool:
    bare = _BACKTICK_SPAN_RE.sub("x", stripped)
    if any(ch in "=;{}<>" for ch in bare) or len(bare.split()) < min_words:
        return False
    alpha = sum(ch.isalpha() for ch in bare)
    visible = sum(not ch.isspace() for ch in bare)
    return alpha >= 0.75 * visible


def _is_loose_prose(stripped: str) -> bool:
    """A sentence-like line: prose before a fence, or legitimately text inside a docstring."""
    return stripped[:1].isupper() and _prose_shape(stripped, 3)


def _is_trailing_prose(stripped: str) -> bool:
    if stripped.startswith("**") or stripped.lower().startswith(("explanation", "note:")):
        return True
    return bool(_TRAILING_RE.match(stripped)) and _prose_shape(stripped, 4)


def _unwrap_backticks(line: str, language_id: str) -> str:
    """`code` as inline markdown: keep the code, unless backticks are part of the language."""
    stripped = line.strip()
    if (
        language_id in _BACKTICK_LANGS
        or len(stripped) < 3
        or stripped[0] != "`"
        or stripped[-1] != "`"
        or "`" in stripped[1:-1]
    ):
        return line
    return line[: len(line) - len(line.lstrip())] + stripped[1:-1]


def _drop_partial_marker(raw: str) -> str:
    """A stream cut inside `{{FILL_HERE}}` or an end tag leaves its first characters behind."""
    for token in (HOLE_MARKER, *_CUT_TAGS, *_STRIP_TAGS):
        for k in range(min(len(token) - 1, len(raw)), 2, -1):
            if raw.endswith(token[:k]):
                return raw[:-k]
    return raw
