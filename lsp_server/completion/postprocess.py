"""Turn a chat model's answer into the exact text to insert at the cursor.

Devstral has no fill-in-the-middle: it is shown the file with a hole marker and answers in
chat. Instruct models wrap code in fences and prose, restate the line being typed, run past
the hole into code that is already below the cursor, close brackets the file already closes,
and sometimes loop. Users see every one of those as a broken suggestion, so everything here
is about deciding, from the answer and the text around the cursor, what part is genuinely new.

The work is split in two stages so that streaming can stop early without changing the result:
- `_analyse` decides where the useful code starts and ends, one *line* at a time. Each of its
  decisions depends only on complete lines it has already seen, and it reports whether more
  text could still change them (`finished`). `StopDetector` relies on that flag.
- `_finish` then works on that fixed piece only (suffix overlap, doubled closers, loops,
  whitespace), so it cannot be affected by anything the stream would have added later.

Inputs are expected with "\\n" line ends; the caller normalises CRLF before and after.
Everything is linear in the answer (plus bounded windows of the prefix and suffix) because it
runs on every streamed chunk; no regex here can backtrack catastrophically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from ..context.lazy_re import LazyPattern
from ..model.prompts import HOLE_MARKER
from ..text import normalize_newlines

_MAX_PREFIX_LINES = 200
"""How far back an echo of earlier lines is looked for; also bounds the opener search."""
_MAX_SUFFIX_LINES = 200

_TAB_WIDTH = 4

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_QUOTES = "\"'`"

_AFTER_CURSOR_OK = frozenset(")]}\"'`;, \t")
"""Text after the cursor that still lets a multi-line suggestion end the line."""

_PROSE_LANGS = frozenset(
    {"markdown", "mdx", "plaintext", "text", "restructuredtext", "asciidoc", "latex", "tex"}
)
"""Documents where fences and English sentences are content, not wrapping."""
_LABEL_FREE_LANGS = frozenset({"yaml", "toml", "makefile", "ini", "properties"})
"""Languages where a bare `word:` line is ordinary syntax."""
_BACKTICK_LANGS = frozenset(
    {"javascript", "typescript", "javascriptreact", "typescriptreact", "go", "shellscript",
     "bash", "sh", "zsh", "kotlin", "scala", "sql", "mysql", "markdown", "mdx", "haskell"}
)
"""Languages where a line wrapped in single backticks can be real code."""
_END_LANGS = frozenset({"lua", "ruby", "elixir", "julia", "crystal"})
"""Languages whose blocks close with the `end` keyword."""

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

_DEFINITION_RE = LazyPattern(
    r"(?:async\s+)?(?:def|class|function|func|fn|impl|struct|enum|interface|trait|module|type)\b"
    r"|(?:export|pub|public|private|protected|static|internal)\b"
    r"|@\w|#\["
)
"""Starts of a new definition: after a blank line at the block's level it is the next item."""

_END_OPENER_RE = LazyPattern(
    r"(?:.*\b(?:then|do|else|begin))$|(?:(?:local\s+)?function|def|class|module|if|while|for"
    r"|unless|until|case)\b"
)
_BACKTICK_SPAN_RE = LazyPattern(r"`[^`]*`")
_TOKEN_RE = LazyPattern(r"\w+|[^\w\s]")

_PUNCT_OK = frozenset("()[]{}<>;:,.'\"*/-=+!?&|%#")
"""Punctuation that can make up a short, real completion such as `});` or `*/`."""


def decide_multiline(line_before: str, line_after: str) -> bool:
    """Single-line when the cursor is mid-line, multi-line when the rest of the line is free.

    Text after the cursor that is only closers, quotes, `;` or `,` is usually what the editor
    auto-inserted, so a block may still be written before it. `line_before` is part of the
    signature so callers need not know which side matters; only the text after decides today.
    """
    del line_before
    return all(ch in _AFTER_CURSOR_OK for ch in line_after)


def clean_completion(
    raw: str, *, prefix: str, suffix: str, language_id: str = "", multiline: bool
) -> str:
    """Return the text to insert at the cursor, or "" when nothing good remains."""
    ctx = _Ctx.build(prefix, suffix, language_id, multiline)
    text, _ = _analyse(raw, ctx, final=True)
    return _finish(text, ctx)


class StopDetector:
    """Tells a streaming caller when the rest of the answer can no longer matter.

    It only says so at points the cleanup would cut anyway (end of the line in single-line
    mode, a complete line leaving the block, a closing fence), and only once every earlier
    decision is settled, so stopping never changes the cleaned result.
    """

    def __init__(
        self, *, prefix: str, suffix: str, language_id: str = "", multiline: bool
    ) -> None:
        self._ctx = _Ctx.build(prefix, suffix, language_id, multiline)
        self._seen = 0
        self._done = False

    def feed(self, accumulated: str) -> bool:
        """Return True once the completion is known to be complete."""
        if len(accumulated) < self._seen:
            self._seen = 0  # the caller restarted the stream
            self._done = False
        if self._done:
            return True
        new = accumulated[max(self._seen - 1, 0):]
        self._seen = len(accumulated)
        # Decisions only change when a line completes or a tag closes: skip the work otherwise.
        if not any(ch in new for ch in "\n>]`"):
            return False
        _, self._done = _analyse(accumulated, self._ctx, final=False)
        return self._done


# --- context -------------------------------------------------------------------------------


@dataclass
class _Ctx:
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
    def build(cls, prefix: str, suffix: str, language_id: str, multiline: bool) -> _Ctx:
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
        if same_line and all(ch in _AFTER_CURSOR_OK for ch in same_line) and len(keys) > 1:
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
                if line.strip() and _indent(line) < indent:
                    found = (_indent(line), _opener_closer(line, self.language_id) or None)
                    break
            self._enclosing[indent] = found
        return self._enclosing[indent]

    def suffix_closes(self, closer: str, own: int | None) -> bool:
        """Whether the file after the cursor already closes the block at level `own`."""
        same_line = self.suffix_line.strip()
        if same_line:
            return _is_closer_line(same_line, closer, loose=True)
        for line in self.following:
            stripped = line.strip()
            if not stripped:
                continue
            if own is None:
                return _is_closer_line(stripped, closer, loose=True)
            ind = _indent(line)
            if ind <= own:  # an outer block's closer below does not close this one
                return ind == own and _is_closer_line(stripped, closer, loose=True)
        return False


# --- stage 1: where does the code start and end (line decisions, stream-safe) --------------


@dataclass
class _Extracted:
    lines: list[str]
    complete: int
    """How many of `lines` are complete (followed by a newline or the end of the answer)."""
    ended: bool
    """A closing fence, an end tag or an explanation ended the code: nothing later matters."""
    decided: bool
    """Where the code starts can no longer change."""
    fenced: bool = False


def _analyse(raw: str, ctx: _Ctx, *, final: bool) -> tuple[str, bool]:
    """Return the code to keep and whether any continuation of `raw` would keep the same."""
    ex = _extract(raw, ctx, final=final)
    final = final or ex.ended
    lines = ex.lines
    complete = len(lines) if final else ex.complete
    if not lines:
        return "", ex.decided and final
    skip, echo_decided = _find_echo(lines, complete, ctx, final=final)
    decided = ex.decided and echo_decided
    lines = lines[skip:]
    complete -= skip
    if not lines:
        return "", decided
    lines[0] = _dedupe_line_start(lines[0], ctx)
    if not ctx.line_before.strip():
        if ctx.multiline:
            # The user is already on a fresh line; a leading newline would add a blank one.
            while len(lines) > 1 and not lines[0].strip():
                lines.pop(0)
                complete -= 1
            lines = _reindent_from_column_zero(lines, ctx, fenced=ex.fenced)
        lines[0] = _strip_typed_indent(lines[0], ctx.line_before)
    if not ctx.multiline:
        starts_with_newline = len(lines) > 1 and not lines[0].strip()
        text = "" if starts_with_newline else lines[0]
        if final and not ex.fenced and _only_prose(lines[:1], ctx):
            return "", decided
        return text, decided and complete >= 1
    cut = _block_cut(lines, ctx)
    if cut is None:
        if final and not ex.fenced and _only_prose(lines, ctx):
            return "", decided
        return "\n".join(lines), decided and final
    keep, trigger = cut
    if final and not ex.fenced and _only_prose(lines[:keep], ctx):
        return "", decided
    return "\n".join(lines[:keep]), decided and trigger < complete


def _only_prose(lines: list[str], ctx: _Ctx) -> bool:
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


def _reindent_from_column_zero(lines: list[str], ctx: _Ctx, *, fenced: bool) -> list[str]:
    """Move a block the model wrote from its own column 0 to the cursor's indentation.

    Chat models omit the indentation already typed on the cursor line, so the first line's
    indentation says nothing; the first *body* line decides. Read as written, a header whose
    body is not deeper than the cursor has no body, and (in a fenced snippet, which models
    write self-contained) a second line left of the cursor leaves the block at once. In both
    cases the block is shifted as a whole; otherwise the lines keep their absolute indentation.
    Only the first two code lines decide, so a streamed answer never changes its mind.
    """
    width = _indent(ctx.line_before)
    first_indent = _indent(lines[0])
    if width == 0 or first_indent >= width or not lines[0].strip():
        return lines
    body = next((line for line in lines[1:] if line.strip()), None)
    if body is None:
        return lines
    nxt = _indent(body)
    opens = _opener_closer(lines[0], ctx.language_id) is not None
    if nxt < first_indent:
        return lines
    headless = opens and first_indent < nxt <= width
    left = fenced and nxt < width
    if not (headless or left):
        return lines
    typed = ctx.line_before[: len(ctx.line_before) - len(ctx.line_before.lstrip(" \t"))]
    pad = typed if first_indent == 0 else " " * (width - first_indent)
    return [lines[0], *(pad + line if line.strip() else line for line in lines[1:])]


def _extract(raw: str, ctx: _Ctx, *, final: bool) -> _Extracted:
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
    return _Extracted(code, complete, ended, decided, fenced)


def _find_echo(lines: list[str], complete: int, ctx: _Ctx, *, final: bool) -> tuple[int, bool]:
    """Count leading answer lines that restate the lines just above the cursor.

    The echo must run up to the cursor line and be followed by a restatement of the text
    already typed on it (or by nothing when the cursor line is blank). Returns the number of
    lines to drop and whether more lines could still make the echo longer.
    """
    if complete == 0:
        return 0, final
    head = lines[0].strip()
    if not head:
        return 0, True
    typed = ctx.line_before.strip()
    prev = ctx.prev
    n = len(prev)
    best = 0
    alive = False
    for j in ctx.prev_index.get(head, ()):
        span = n - j
        matched = 0
        limit = min(span, complete)
        while matched < limit and lines[matched].strip() == prev[j + matched].strip():
            matched += 1
        if matched < span:
            if matched == complete and not final:
                alive = True  # every complete line so far restates the prefix
            continue
        if span < len(lines) and (span < complete or final):
            follows = not typed or _strip_line_echo(lines[span], typed) is not None
        elif span == len(lines) and final:
            follows = not typed
        else:
            alive = True  # the line that decides has not arrived yet
            continue
        if follows and span > best and _has_word(prev[j:]):
            best = span
    return best, final or not alive


def _dedupe_line_start(first: str, ctx: _Ctx) -> str:
    """Drop a restatement of the typed part of the line and a doubled space."""
    before = ctx.line_before
    typed = before.strip()
    if not typed:
        return first
    rest = _strip_line_echo(first, typed)
    if rest is None:
        rest = _strip_tail_overlap(first, before)
    if before[-1:] in (" ", "\t") and rest[:1] in (" ", "\t"):
        rest = rest.lstrip(" \t")
    return rest


def _strip_line_echo(line: str, typed: str) -> str | None:
    """If `line` starts with `typed` (ignoring whitespace), return what follows it."""
    j = 0
    m = len(line)
    for ch in typed:
        if ch in " \t":
            continue
        while j < m and line[j] in " \t":
            j += 1
        if j >= m or line[j] != ch:
            return None
        j += 1
    return line[j:]


def _strip_tail_overlap(first: str, before: str) -> str:
    """Drop the last token(s) of the typed line when the answer starts by repeating them."""
    for k in _overlaps(before, first):
        pos = len(before) - k
        piece = first[:k]
        if not piece.strip() or piece[:1] in " \t":
            continue
        if 0 < pos and _is_word(before[pos - 1]) and _is_word(before[pos]):
            continue  # would split a word
        if k == 1:
            # A lone operator repeated before a space ("a +" / "+ b"); never a bracket.
            if _is_word(piece) or piece in "()[]{}" or piece in _QUOTES or first[1:2] != " ":
                continue
        return first[k:]
    return first


def _strip_typed_indent(first: str, before: str) -> str:
    """The user already typed the indentation: drop as much of the answer's own."""
    width = _indent(before)
    j = 0
    acc = 0
    while j < len(first) and first[j] in " \t" and acc < width:
        acc += _TAB_WIDTH if first[j] == "\t" else 1
        j += 1
    return first[j:]


def _block_cut(lines: list[str], ctx: _Ctx) -> tuple[int, int] | None:
    """Where a multi-line answer leaves the cursor's block: (lines to keep, deciding line).

    The block is the one that *holds* the cursor line, not one the answer opens: a body such as
    `if n < 2: return n` followed by `return fib(...)` at the cursor's level is one suggestion
    (cutting at the sibling statement loses code, and in Go leaves a function that does not
    compile). The answer ends at a line indented less than the cursor's block (its closer is
    kept when the file does not close it already) or at the next definition after a blank line.
    """
    cursor_line = ctx.line_before + lines[0]
    first = 0
    own: int | None
    expected: str | None
    opened = _opener_closer(cursor_line, ctx.language_id) if not lines[0].strip() else None
    if cursor_line.strip() and opened is not None:
        # The typed line opens a block and the answer starts below it: that block is its scope.
        own, expected = _indent(cursor_line), opened or None
        block_indent = own + 1
    elif cursor_line.strip():
        block_indent = _indent(cursor_line)
        own, expected = ctx.enclosing(block_indent)
    else:
        first = next((i for i in range(1, len(lines)) if lines[i].strip()), -1)
        if first < 0:
            return None
        block_indent = _indent(lines[first])
        own, expected = ctx.enclosing(block_indent)
    seen_content = bool(lines[first].strip())
    prev_blank = False
    for i in range(first + 1, len(lines)):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            prev_blank = True
            continue
        ind = _indent(line)
        if ind < block_indent:
            if (
                expected
                and _is_closer_line(stripped, expected)
                and (own is None or ind >= own)
                and not ctx.suffix_closes(expected, own)
            ):
                return i + 1, i  # close the block the file leaves open
            return i, i
        if prev_blank and seen_content and ind <= block_indent and _DEFINITION_RE.match(stripped):
            return i, i  # one definition at a time
        seen_content = True
        prev_blank = False
    return None


# --- stage 2: trim the fixed piece ----------------------------------------------------------


def _finish(text: str, ctx: _Ctx) -> str:
    text = _trim_end(text, keep_spaces=False)
    if not text.strip():
        return ""
    cut = _cut_suffix_lines(text, ctx)
    if cut != text:
        text = _trim_end(cut, keep_spaces=False)
    cut = _cut_suffix_overlap(text, ctx)
    if cut == text:
        cut = _strip_doubled_closers(text, ctx.suffix_line)
    text = _drop_degenerate(cut, ctx)
    text = _trim_end(text, keep_spaces=True)
    return text if text.strip() else ""


def _trim_end(text: str, *, keep_spaces: bool) -> str:
    """Drop trailing blank lines, and trailing spaces too unless a cut left them on purpose."""
    end = len(text)
    while True:
        nl = text.rfind("\n", 0, end)
        if text[nl + 1:end].strip() or nl < 0:
            break
        end = nl
    text = text[:end]
    return text if keep_spaces else text.rstrip(" \t")


def _cut_suffix_lines(text: str, ctx: _Ctx) -> str:
    """Cut where the answer starts restating the lines that follow the cursor."""
    keys = ctx.suffix_keys
    if not keys:
        return text
    lines = text.split("\n")
    start = 0 if not ctx.line_before.strip() else 1
    offset = 0
    offsets = []
    for line in lines:
        offsets.append(offset)
        offset += len(line) + 1
    pairs: list[tuple[int, int]] | None = None
    for i in range(start, len(lines)):
        stripped = lines[i].strip()
        if not stripped:
            continue
        for s0 in ctx.suffix_starts:
            if s0 >= len(keys) or stripped != keys[s0]:
                continue
            matched, chars, to_end = _match_lines(lines, i, keys, s0)
            if to_end or chars >= 10 or (matched >= 2 and chars >= 6):
                cut = offsets[i]
                if pairs is None:
                    pairs = _bracket_pairs(text)[0]
                if not _crosses(pairs, cut):
                    return text[:cut]
    return text


def _match_lines(lines: list[str], i: int, keys: list[str], k: int) -> tuple[int, int, bool]:
    matched = chars = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped:
            if k >= len(keys) or stripped != keys[k]:
                return matched, chars, False
            matched += 1
            chars += len(stripped)
            k += 1
        i += 1
    return matched, chars, True


def _cut_suffix_overlap(text: str, ctx: _Ctx) -> str:
    """Cut where the answer's last line ends with the start of the rest of the cursor line."""
    rest = ctx.suffix_line
    if not rest.strip():
        return text
    last = text[text.rfind("\n") + 1:]
    patterns = [rest] if rest[:1] not in " \t" else [rest, rest.lstrip(" \t")]
    pairs = _bracket_pairs(text)[0]
    for pattern in patterns:
        for k in _overlaps(last, pattern):
            piece = pattern[:k]
            if not piece.strip():
                continue
            cut = len(text) - k
            if any(_is_word(ch) for ch in piece):
                if k < 2 or not _boundary(text, cut):
                    continue
            if _crosses(pairs, cut):
                continue
            return text[:cut].rstrip(" \t") if piece[0] in _CLOSERS else text[:cut]
    return text


def _strip_doubled_closers(text: str, rest: str) -> str:
    """Drop trailing closers the answer did not open when the file already has them."""
    lead_src = rest.lstrip(" \t")
    n = 0
    while n < len(lead_src) and lead_src[n] in _CLOSERS:
        n += 1
    lead = lead_src[:n]
    if not lead:
        return text
    run = len(text)
    while run > 0 and text[run - 1] in ")]};,: \t":
        run -= 1
    if run == len(text):
        return text
    unmatched = _unmatched_closers(text, run)
    if not unmatched:
        return text
    found = "".join(text[p] for p in unmatched)
    for q in range(min(len(found), len(lead)), 0, -1):
        if found[len(found) - q:] == lead[:q]:
            return text[:unmatched[len(found) - q]].rstrip(" \t")
    return text


def _drop_degenerate(text: str, ctx: _Ctx) -> str:
    """Remove loops, runaway lines and punctuation noise that models emit when stuck."""
    lines = text.split("\n")
    for idx, line in enumerate(lines):
        if _is_degenerate_line(line):
            lines = lines[:idx]
            break
    loop = _loop_start(lines)
    if loop is not None:
        lines = lines[:loop]
    text = "\n".join(lines)
    stripped = text.strip()
    if stripped and ctx.prose_ok and _is_punct_noise(stripped):
        return ""
    return text


def _is_degenerate_line(line: str) -> bool:
    if len(line) < 100:
        return False
    run = best = 1
    for a, b in pairwise(line):
        run = run + 1 if a == b and not a.isspace() else 1
        best = max(best, run)
    if best >= 60:
        return True
    tokens = _TOKEN_RE.findall(line)
    return len(tokens) >= 30 and len(set(tokens)) * 5 < len(tokens)


def _loop_start(lines: list[str]) -> int | None:
    """First line of a block of lines repeated back to back (4× for one line, 3× for more)."""
    keys = [line.rstrip() for line in lines]
    n = len(keys)
    for s in range(n):
        for period in range(1, 7):
            reps = 4 if period == 1 else 3
            if s + period * reps > n:
                break
            unit = keys[s:s + period]
            if not any(u.strip() for u in unit):
                continue
            if all(
                keys[s + r * period + t] == unit[t] for r in range(1, reps) for t in range(period)
            ):
                return s
    return None


def _is_punct_noise(stripped: str) -> bool:
    if any(ch.isalnum() for ch in stripped):
        return False
    if len(stripped) > 12 or any(ch not in _PUNCT_OK and not ch.isspace() for ch in stripped):
        return True
    run = 1
    for a, b in pairwise(stripped):
        run = run + 1 if a == b else 1
        if run >= 4:
            return True
    return False


# --- small helpers ---------------------------------------------------------------------------


def _indent(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += _TAB_WIDTH
        else:
            break
    return width


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _has_word(lines: list[str]) -> bool:
    return any(_is_word(ch) for line in lines for ch in line)


def _boundary(text: str, pos: int) -> bool:
    return pos <= 0 or pos >= len(text) or not (_is_word(text[pos - 1]) and _is_word(text[pos]))


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


def _opener_closer(line: str, language_id: str) -> str | None:
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
        if last in _OPENERS:
            return _OPENERS[last]
        if last == ":":
            return ""
        if language_id in _END_LANGS and _END_OPENER_RE.match(cand.strip()):
            return "end"
    return None


def _is_closer_line(stripped: str, closer: str, *, loose: bool = False) -> bool:
    """A line that only closes the block (`}`, `});`, `end)`); `loose` accepts `} else {`."""
    if closer == "end":
        if not stripped.startswith("end") or _is_word(stripped[3:4]):
            return False
        rest = stripped[3:]
    else:
        if not stripped.startswith(closer):
            return False
        rest = stripped[len(closer):]
    return loose or all(ch in ")]};,:. " for ch in rest)


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


def _overlaps(text: str, pattern: str) -> list[int]:
    """Every k > 0 with text.endswith(pattern[:k]), longest first (prefix function, linear)."""
    pattern = pattern[: len(text)]
    if not pattern:
        return []
    pi = [0] * len(pattern)
    for i in range(1, len(pattern)):
        k = pi[i - 1]
        while k and pattern[i] != pattern[k]:
            k = pi[k - 1]
        if pattern[i] == pattern[k]:
            k += 1
        pi[i] = k
    k = 0
    for ch in text[len(text) - len(pattern):] if len(text) > len(pattern) else text:
        while k and (k == len(pattern) or ch != pattern[k]):
            k = pi[k - 1]
        if k < len(pattern) and ch == pattern[k]:
            k += 1
    found = []
    while k:
        found.append(k)
        k = pi[k - 1]
    return found


def _bracket_pairs(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Matched (open, close) positions and unmatched closer positions, strings skipped."""
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    unmatched: list[int] = []
    quote = ""
    escaped = False
    for idx, ch in enumerate(text):
        if quote:
            if ch == "\n":
                quote = ""
            elif escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in _QUOTES:
            quote = ch
        elif ch in _OPENERS:
            stack.append(idx)
        elif ch in _CLOSERS:
            if stack and text[stack[-1]] == _CLOSERS[ch]:
                pairs.append((stack.pop(), idx))
            else:
                unmatched.append(idx)
    return pairs, unmatched


def _crosses(pairs: list[tuple[int, int]], cut: int) -> bool:
    """Cutting at `cut` would drop a closer for a bracket the kept part opened."""
    return any(o < cut <= c for o, c in pairs)


def _unmatched_closers(text: str, start: int) -> list[int]:
    _, unmatched = _bracket_pairs(text)
    return [p for p in unmatched if p >= start]
