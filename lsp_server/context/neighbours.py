"""Similar windows of other open or recently used files (Jaccard over identifiers).

The same idea as Copilot's "neighbouring tabs": the code just typed usually resembles code the
user has open elsewhere (a sibling handler, the test of this function). Window identifier sets
are cached per document text (a cheap fingerprint), so scoring is only set intersections.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STOP_WORDS = frozenset(
    """
    a an and as assert async await break case catch class const continue def default del do elif
    else enum except export extends false final finally fn for from func function go if impl import
    in interface is lambda let match mod mut new nil none not null of or package pass pub raise
    return self static struct super switch this throw true try type typeof use var void while with
    yield int str bool float string i32 i64 u8 u32 u64 usize err error ok some
    """.split()
)


def identifiers(text: str) -> set[str]:
    """Identifier set of `text` without keywords and one-letter names."""
    return {w for w in IDENT_RE.findall(text) if len(w) > 1 and w.lower() not in STOP_WORDS}


def jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


@dataclass(frozen=True)
class Match:
    key: str
    start_line: int
    end_line: int
    """Exclusive."""
    score: float
    text: str


class WindowCache:
    """Sliding windows (`window_lines` long, every `stride` lines) per document version.

    A document's windows are keyed on a cheap fingerprint of its text, `(len, hash)` (a `str`
    caches its hash, so an unchanged text object costs nothing to check), and recomputed only
    when the text changes. Only the identifier sets are kept, not the lines: the text of the
    few windows that match is cut from the document text on demand.
    """

    def __init__(self, window_lines: int = 24, stride: int = 8, max_docs: int = 64) -> None:
        self.window_lines = window_lines
        self.stride = stride
        self._docs: OrderedDict[str, tuple[tuple[int, int], list[tuple[int, frozenset[str]]]]]
        self._docs = OrderedDict()
        self._max_docs = max_docs
        self._lock = threading.Lock()
        self.computed = 0
        """Documents whose windows were (re)computed, for tests and benchmarks."""

    def _windows(self, key: str, text: str) -> list[tuple[int, frozenset[str]]]:
        fingerprint = (len(text), hash(text))
        with self._lock:
            hit = self._docs.get(key)
            if hit is not None and hit[0] == fingerprint:
                self._docs.move_to_end(key)
                return hit[1]
        lines = text.splitlines(keepends=True)
        line_ids = [identifiers(line) for line in lines]
        windows: list[tuple[int, frozenset[str]]] = []
        last_start = max(0, len(lines) - self.window_lines)
        starts = list(range(0, last_start + 1, self.stride))
        if starts and starts[-1] != last_start:
            starts.append(last_start)
        for start in starts:
            ids: set[str] = set()
            for s in line_ids[start : start + self.window_lines]:
                ids |= s
            if ids:
                windows.append((start, frozenset(ids)))
        with self._lock:
            self.computed += 1
            self._docs[key] = (fingerprint, windows)
            self._docs.move_to_end(key)
            while len(self._docs) > self._max_docs:
                self._docs.popitem(last=False)
        return windows

    def forget(self, key: str) -> None:
        with self._lock:
            self._docs.pop(key, None)

    def best(
        self,
        query: set[str],
        documents: Iterable[tuple[str, str]],
        *,
        limit: int = 4,
        min_score: float = 0.12,
    ) -> list[Match]:
        """The best window of each document, top `limit` overall by score."""
        if not query:
            return []
        scored: list[tuple[float, str, int, str]] = []
        n_query = len(query)
        for key, text in documents:
            best_score = 0.0
            best_start = -1
            for start, ids in self._windows(key, text):
                inter = len(query & ids)  # `jaccard`, inlined: this loop is the hot one
                if inter:
                    score = inter / (n_query + len(ids) - inter)
                    if score > best_score:
                        best_score, best_start = score, start
            if best_start >= 0 and best_score >= min_score:
                scored.append((best_score, key, best_start, text))
        scored.sort(key=lambda m: (-m[0], m[1]))
        found: list[Match] = []
        for score, key, start, text in scored[:limit]:
            lines = text.splitlines(keepends=True)
            end = min(len(lines), start + self.window_lines)
            found.append(Match(key, start, end, score, "".join(lines[start:end])))
        return found
