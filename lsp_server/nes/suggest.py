"""The rewritten region as minimal edits, minus what the user would not want to see.

The diff is `textdiff.diff_spans` (the project's one differ) over the region. Dropped:

* everything when the rewrite is the region unchanged (a no-op);
* an edit at the place of the user's last edit that repeats it (inserts the same text again)
  or undoes it (puts the old text back): the model echoing the diff it was shown;
* trailing whitespace, blank lines and comment-only hunks, unless the last edit was of that
  kind itself: chat models like to "tidy up" a region, which is not the edit the user is
  making. This is done on lines before the diff (`denoise`), so a noisy line next to a real
  change cannot be merged into its edit;
* anything outside the region (by construction there is none; checked all the same, since an
  edit outside what the model was asked to rewrite must never be shown).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..text import common_prefix_len, common_suffix_len, content_lines
from ..textdiff import Span, diff_spans
from .region import Region

_SPACE = re.compile(r"\s+")
_HASH_COMMENTS = frozenset({
    "python", "ruby", "shellscript", "sh", "bash", "yaml", "toml", "perl", "r", "elixir",
    "dockerfile", "makefile", "cmake", "powershell", "nim", "julia",
})


@dataclass(frozen=True)
class LastEdit:
    """The user's latest edit in current-text offsets: `inserted` sits at
    `text[start:start + len(inserted)]` and replaced `removed`."""

    start: int
    removed: str
    inserted: str

    @property
    def end(self) -> int:
        return self.start + len(self.inserted)


def last_edit(before: str, after: str) -> LastEdit | None:
    """The one changed span between two texts (common prefix and suffix trimmed)."""
    if before == after:
        return None
    p = common_prefix_len(before, after)
    q = common_suffix_len(before, after, p)
    return LastEdit(p, before[p:len(before) - q], after[p:len(after) - q])


def comment_prefixes(language_id: str) -> tuple[str, ...]:
    if language_id in _HASH_COMMENTS:
        return ("#",)
    if language_id in ("lua", "sql", "haskell"):
        return ("--",)
    return ("//", "/*")


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return a, len(text) if b < 0 else b


def _is_comment_only(lines: str, prefixes: tuple[str, ...]) -> bool:
    body = [x.strip() for x in lines.split("\n") if x.strip()]
    return bool(body) and all(x.startswith(prefixes) for x in body)


def _whitespace_only(old: str, new: str) -> bool:
    return _SPACE.sub("", old) == _SPACE.sub("", new)


def _repeats_or_undoes(text: str, span: Span, last: LastEdit) -> bool:
    if span.end < last.start or span.start > last.end:
        return False  # elsewhere: the same change made again there is the point of NES
    old = text[span.start:span.end]
    if span.text and span.text == last.inserted and old in ("", last.removed):
        return True
    return old == last.inserted and span.text == last.removed


def _key(line: str) -> str:
    """A line compared without its trailing whitespace and line break (indentation counts:
    re-indenting lines under a new block is a real edit)."""
    return line.rstrip()


def _comment_or_blank(line: str, prefixes: tuple[str, ...]) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(prefixes)


def _repeat_or_undo_line(old: str, new: str, col: int, last: LastEdit) -> bool:
    """Whether `new` is `old` (which holds the user's last edit at `col`) with that edit made
    a second time or undone."""
    end = col + len(last.inserted)
    if old[col:end] != last.inserted:
        return False
    undo = old[:col] + last.removed + old[end:]
    again = (old[:end] + last.inserted + old[end:], old[:col] + last.inserted + old[col:])
    return new == undo or (bool(last.inserted) and new in again)


def denoise(text: str, region: Region, new_region: str, *, last: LastEdit | None,
            prefixes: tuple[str, ...], keep_whitespace: bool, keep_comments: bool) -> str:
    """`new_region` with the changes the user is not making put back as they were: trailing
    whitespace and blank lines, comment-only hunks, and the last edit's line repeating or
    undoing it. Works on lines, before the one diff, so a noisy line next to a real change
    cannot be merged into it."""
    a, b = content_lines(region.text), content_lines(new_region)
    last_line = last_col = -1
    if last is not None and "\n" not in last.inserted and "\n" not in last.removed:
        line_start = text.rfind("\n", 0, last.start) + 1
        if region.start <= line_start < region.end:
            last_line = text.count("\n", region.start, line_start)
            last_col = last.start - line_start
    matcher = difflib.SequenceMatcher(lambda k: not k, [_key(x) for x in a], [_key(x) for x in b],
                                      autojunk=False)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = a[i1:i2], b[j1:j2]
        if tag == "equal":
            out.extend(new if keep_whitespace else old)
            continue
        if not keep_whitespace and all(not x.strip() for x in old + new):
            out.extend(old)
            continue
        if not keep_comments and all(_comment_or_blank(x, prefixes) for x in old + new):
            out.extend(old)
            continue
        if last is not None and i1 <= last_line < i2 and i2 - i1 == j2 - j1:
            k = last_line - i1
            if _repeat_or_undo_line(old[k], new[k], last_col, last):
                new = [*new[:k], old[k], *new[k + 1:]]
        out.extend(new)
    return "".join(out)


def propose(text: str, region: Region, new_region: str, *, last: LastEdit | None = None,
            language_id: str = "") -> list[Span]:
    """Edits (document offsets, ascending) turning `region` into `new_region`, filtered."""
    if new_region == region.text:
        return []
    prefixes = comment_prefixes(language_id)
    last_ws = last_comment = False
    if last is not None:
        lo, hi = _line_bounds(text, last.start, last.end)
        last_ws = _whitespace_only(last.removed, last.inserted)
        before_lines = text[lo:last.start] + last.removed + text[last.end:hi]
        last_comment = _is_comment_only(text[lo:hi], prefixes) or _is_comment_only(
            before_lines, prefixes)
    cleaned = denoise(text, region, new_region, last=last, prefixes=prefixes,
                      keep_whitespace=last_ws, keep_comments=last_comment)
    out: list[Span] = []
    for s in diff_spans(region.text, cleaned):
        span = Span(s.start + region.start, s.end + region.start, s.text)
        if span.start < region.start or span.end > region.end:
            continue
        if last is not None and _repeats_or_undoes(text, span, last):
            continue
        out.append(span)
    return out
