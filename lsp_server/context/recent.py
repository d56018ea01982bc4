"""The user's recent edits as small unified diffs, so the model sees what is being done.

Keystrokes are coalesced into hunks: consecutive changes of one document that are close in
time (`gap_seconds`) and place (`near_lines`) form a burst; a burst becomes a diff when the
user pauses or moves elsewhere. Only the changed region is diffed, never the whole file, and
only the last `max_hunks` diffs are kept.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..text import common_prefix_len, common_suffix_len

_HUNK_RE = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


@dataclass
class _Burst:
    label: str
    base: str
    last: str
    line: int
    updated: float


@dataclass(frozen=True)
class Hunk:
    uri: str
    label: str
    diff: str
    time: float


def region_diff(label: str, before: str, after: str, context: int = 2, max_lines: int = 24) -> str:
    """Unified diff of the one changed region between `before` and `after` (with file line
    numbers), truncated to `max_lines` lines; "" when they are equal."""
    if before == after:
        return ""
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    head = common_prefix_len(a, b)
    tail = common_suffix_len(a, b, head)
    start = max(0, head - context)
    a_part = a[start : len(a) - max(0, tail - context)]
    b_part = b[start : len(b) - max(0, tail - context)]
    out: list[str] = [f"--- a/{label}", f"+++ b/{label}"]
    for line in difflib.unified_diff(a_part, b_part, n=context, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        m = _HUNK_RE.match(line)
        if m:
            a0, a_len, b0, b_len = m.groups()
            line = f"@@ -{int(a0) + start}{a_len or ''} +{int(b0) + start}{b_len or ''} @@"
        out.append(line.rstrip("\n"))
    if len(out) > max_lines:
        out = [*out[:max_lines], "@@ ... (edit truncated) @@"]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class LatestEdit:
    """A burst's text before and after; `pending` while it is still being typed (then it is
    not among `hunks()` yet)."""

    label: str
    before: str
    after: str
    pending: bool


class EditHistory:
    """Per-document bursts of edits, committed into a bounded list of diffs."""

    def __init__(
        self,
        *,
        max_hunks: int = 8,
        gap_seconds: float = 2.0,
        near_lines: int = 6,
        max_diff_lines: int = 24,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_hunks = max_hunks
        self.gap_seconds = gap_seconds
        self.near_lines = near_lines
        self.max_diff_lines = max_diff_lines
        self._clock = clock
        self._texts: dict[str, str] = {}
        self._bursts: dict[str, _Burst] = {}
        self._last_pair: dict[str, tuple[str, str]] = {}
        self._hunks: deque[Hunk] = deque(maxlen=max_hunks)
        self._lock = threading.Lock()

    def open(self, uri: str, text: str) -> None:
        with self._lock:
            self._texts[uri] = text

    def close(self, uri: str) -> None:
        with self._lock:
            burst = self._bursts.pop(uri, None)
            if burst is not None:
                self._commit(uri, burst)
            self._texts.pop(uri, None)
            self._last_pair.pop(uri, None)

    def forget(self, uri: str) -> None:
        """Drop everything about `uri` (e.g. it became ignored)."""
        with self._lock:
            self._texts.pop(uri, None)
            self._bursts.pop(uri, None)
            self._last_pair.pop(uri, None)
            kept = [h for h in self._hunks if h.uri != uri]
            self._hunks.clear()
            self._hunks.extend(kept)

    def change(self, uri: str, label: str, new_text: str) -> None:
        """Record that `uri` (shown as `label`) now reads `new_text`."""
        now = self._clock()
        with self._lock:
            old = self._texts.get(uri)
            self._texts[uri] = new_text
            if old is None or old == new_text:
                return
            line = old.count("\n", 0, common_prefix_len(old, new_text))
            burst = self._bursts.get(uri)
            if burst is not None and (
                now - burst.updated > self.gap_seconds or abs(line - burst.line) > self.near_lines
            ):
                self._commit(uri, burst)
                burst = None
            if burst is None:
                burst = _Burst(label=label, base=old, last=new_text, line=line, updated=now)
                self._bursts[uri] = burst
            burst.last = new_text
            burst.line = line
            burst.updated = now

    def _commit(self, uri: str, burst: _Burst) -> None:
        self._bursts.pop(uri, None)
        self._last_pair[uri] = (burst.base, burst.last)
        diff = region_diff(burst.label, burst.base, burst.last, max_lines=self.max_diff_lines)
        if diff:
            self._hunks.append(Hunk(uri, burst.label, diff, burst.updated))

    def hunks(self) -> list[Hunk]:
        """Committed diffs, oldest first, after committing bursts idle for `gap_seconds`.

        A burst still in progress is left out: it sits at the cursor, which the prompt shows.
        """
        now = self._clock()
        with self._lock:
            for uri, burst in list(self._bursts.items()):
                if now - burst.updated > self.gap_seconds:
                    self._commit(uri, burst)
            return list(self._hunks)

    def latest(self, uri: str) -> LatestEdit | None:
        """`uri`'s latest burst of edits, in progress or committed.

        Next-edit suggestions need the edit the user is making right now, which `hunks()`
        leaves out (a completion prompt shows it around the cursor).
        """
        with self._lock:
            burst = self._bursts.get(uri)
            if burst is not None:
                return LatestEdit(burst.label, burst.base, burst.last, pending=True)
            pair = self._last_pair.get(uri)
            if pair is None or self._texts.get(uri) != pair[1]:
                return None  # later edits went elsewhere: that burst's offsets are stale
            return LatestEdit("", pair[0], pair[1], pending=False)
