"""From the model's answer back to a rewritten region.

Chat models do not always answer with exactly the region: they wrap it in a code fence, echo
the markers (or the cursor marker), lose or add the region's indentation, echo a line or two of
the context around the region, or drop the final line break. Each of these is undone here, so
that only real changes survive to the diff; an answer that is not a rewrite of the region at
all (prose, an empty answer, a wholly different text) yields None: no suggestion.
"""

from __future__ import annotations

import difflib
import re

from ..text import normalize_newlines
from .prompt import CURSOR, REGION_END, REGION_START

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n`]*\n(.*?)^\1[ \t]*$", re.S | re.M)
_OPEN_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n`]*\n", re.M)


def _unfence(text: str) -> str:
    m = _FENCE.search(text)
    if m:
        return m.group(2)
    m = _OPEN_FENCE.search(text)  # cut off at max_tokens before the closing fence
    if m and not text[:m.start()].strip():
        return text[m.end():]
    return text


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _min_indent(lines: list[str]) -> str | None:
    found = [_indent(x) for x in lines if x.strip()]
    if not found:
        return None
    return min(found, key=len)


def _fix_indentation(lines: list[str], region_lines: list[str]) -> list[str]:
    """Shift every line by the difference between the region's and the answer's least
    indentation (models often dedent a region that starts inside a function)."""
    want, got = _min_indent(region_lines), _min_indent(lines)
    if want is None or got is None or want == got:
        return lines
    if len(got) < len(want) and want.endswith(got):
        add = want[: len(want) - len(got)]
        return [add + x if x.strip() else x for x in lines]
    if len(got) > len(want) and got.startswith(want):
        cut = len(got) - len(want)
        return [x[cut:] if x.strip() else x for x in lines]
    return lines


def _drop_echoed_context(lines: list[str], region_lines: list[str], before: list[str],
                         after: list[str]) -> list[str]:
    """Remove context lines the model repeated around the region (they are outside it)."""
    for k in range(min(len(before), len(lines) - 1), 0, -1):
        if lines[:k] == before[-k:] and region_lines[:k] != lines[:k]:
            lines = lines[k:]
            break
    for k in range(min(len(after), len(lines) - 1), 0, -1):
        if lines[-k:] == after[:k] and region_lines[-k:] != lines[-k:]:
            lines = lines[:-k]
            break
    return lines


def parse_rewrite(reply: str, *, region: str, before: str = "", after: str = "",
                  min_similarity: float = 0.5) -> str | None:
    """The rewritten region from `reply` (all "\\n" line breaks), or None if there is none.

    `region`, `before` and `after` are the texts the prompt showed (with "\\n" breaks).
    """
    text = normalize_newlines(reply)
    if REGION_START in text:
        text = text.split(REGION_START, 1)[1]
        text = text[1:] if text.startswith("\n") else text
    if REGION_END in text:
        text = text.split(REGION_END, 1)[0]
    text = _unfence(text)
    if REGION_START in text:  # markers inside the fence
        text = text.split(REGION_START, 1)[1]
        text = text[1:] if text.startswith("\n") else text
    if REGION_END in text:
        text = text.split(REGION_END, 1)[0]
    text = text.replace(CURSOR, "")
    if not text.strip():
        return None
    region_lines = region.split("\n")
    trailing = len(region) - len(region.rstrip("\n"))
    lines = text.rstrip("\n").split("\n")
    while lines and not lines[0].strip() and region_lines and region_lines[0].strip():
        lines.pop(0)
    body_lines = region.rstrip("\n").split("\n")
    lines = _drop_echoed_context(lines, body_lines, before.rstrip("\n").split("\n") if before
                                 else [], after.rstrip("\n").split("\n") if after else [])
    lines = _fix_indentation(lines, body_lines)
    out = "\n".join(lines) + "\n" * trailing
    if len(body_lines) >= 4:
        ratio = difflib.SequenceMatcher(None, region, out, autojunk=False).ratio()
        if ratio < min_similarity:
            return None  # not a rewrite of this region (prose, another part of the file)
    return out
