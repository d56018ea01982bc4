"""Turn a chat model's answer into the exact text to insert at the cursor.

Devstral has no fill-in-the-middle: it is shown the file with a hole marker and answers in
chat. Instruct models wrap code in fences and prose, restate the line being typed, run past
the hole into code that is already below the cursor, close brackets the file already closes,
and sometimes loop. Users see every one of those as a broken suggestion, so everything here
is about deciding, from the answer and the text around the cursor, what part is genuinely new.

This module is the entry point (`clean_completion`, `StopDetector`, `decide_multiline`) and
runs two stages, so that streaming can stop early without changing the result:
- `_analyse` decides where the useful code starts and ends, one *line* at a time: the code in
  the reply (`extract.py`), an echo of the lines above (`echo.py`), the cursor's block and its
  indentation (`blocks.py`), all over the context of `cursor_context.py`. Each decision depends
  only on complete lines already seen, and it reports whether more text could still change
  them (`finished`). `StopDetector` relies on that flag.
- `trim.finish` then works on that fixed piece only (suffix overlap, doubled closers, loops,
  whitespace), so it cannot be affected by anything the stream would have added later.

Inputs are expected with "\\n" line ends; the caller normalises CRLF before and after.
Everything is linear in the answer (plus bounded windows of the prefix and suffix) because it
runs on every streamed chunk; no regex here can backtrack catastrophically.
"""

from __future__ import annotations

from .blocks import block_cut, reindent_from_column_zero, strip_typed_indent
from .cursor_context import AFTER_CURSOR_OK, CursorContext
from .echo import dedupe_line_start, find_echo
from .extract import extract_code, only_prose
from .trim import finish


def decide_multiline(line_before: str, line_after: str) -> bool:
    """Single-line when the cursor is mid-line, multi-line when the rest of the line is free.

    Text after the cursor that is only closers, quotes, `;` or `,` is usually what the editor
    auto-inserted, so a block may still be written before it. `line_before` is part of the
    signature so callers need not know which side matters; only the text after decides today.
    """
    del line_before
    return all(ch in AFTER_CURSOR_OK for ch in line_after)


def clean_completion(
    raw: str, *, prefix: str, suffix: str, language_id: str = "", multiline: bool
) -> str:
    """Return the text to insert at the cursor, or "" when nothing good remains."""
    ctx = CursorContext.build(prefix, suffix, language_id, multiline)
    text, _ = _analyse(raw, ctx, final=True)
    return finish(text, ctx)


class StopDetector:
    """Tells a streaming caller when the rest of the answer can no longer matter.

    It only says so at points the cleanup would cut anyway (end of the line in single-line
    mode, a complete line leaving the block, a closing fence), and only once every earlier
    decision is settled, so stopping never changes the cleaned result.
    """

    def __init__(
        self, *, prefix: str, suffix: str, language_id: str = "", multiline: bool
    ) -> None:
        self._ctx = CursorContext.build(prefix, suffix, language_id, multiline)
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


def _analyse(raw: str, ctx: CursorContext, *, final: bool) -> tuple[str, bool]:
    """Return the code to keep and whether any continuation of `raw` would keep the same."""
    ex = extract_code(raw, ctx, final=final)
    final = final or ex.ended
    lines = ex.lines
    complete = len(lines) if final else ex.complete
    if not lines:
        return "", ex.decided and final
    skip, echo_decided = find_echo(lines, complete, ctx, final=final)
    decided = ex.decided and echo_decided
    lines = lines[skip:]
    complete -= skip
    if not lines:
        return "", decided
    lines[0] = dedupe_line_start(lines[0], ctx)
    if not ctx.line_before.strip():
        if ctx.multiline:
            # The user is already on a fresh line; a leading newline would add a blank one.
            while len(lines) > 1 and not lines[0].strip():
                lines.pop(0)
                complete -= 1
            lines = reindent_from_column_zero(lines, ctx, fenced=ex.fenced)
        lines[0] = strip_typed_indent(lines[0], ctx.line_before)
    if not ctx.multiline:
        starts_with_newline = len(lines) > 1 and not lines[0].strip()
        text = "" if starts_with_newline else lines[0]
        if final and not ex.fenced and only_prose(lines[:1], ctx):
            return "", decided
        return text, decided and complete >= 1
    cut = block_cut(lines, ctx)
    if cut is None:
        if final and not ex.fenced and only_prose(lines, ctx):
            return "", decided
        return "\n".join(lines), decided and final
    keep, trigger = cut
    if final and not ex.fenced and only_prose(lines[:keep], ctx):
        return "", decided
    return "\n".join(lines[:keep]), decided and trigger < complete
