"""Adaptive debounce: wait just longer than the user's own gap between keystrokes.

A fixed debounce is either too short for slow typists (a model call per keystroke) or too long
for fast ones (suggestions feel late). We keep the recent gaps between edits per document and
wait a little longer than their median, bounded around the configured base; a slow backend
stretches the wait a bit, since a call that will be superseded costs more there.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

BURST_GAP_S = 1.0
"""Gaps longer than this are pauses, not typing rhythm."""


@dataclass
class AdaptiveDebounce:
    base_ms: int = 120
    clock: Callable[[], float] = time.monotonic
    _last_edit: dict[str, float] = field(default_factory=dict)
    _gaps: dict[str, deque[float]] = field(default_factory=dict)
    _latencies: deque[float] = field(default_factory=lambda: deque(maxlen=20))

    def note_edit(self, uri: str) -> None:
        now = self.clock()
        last = self._last_edit.get(uri)
        self._last_edit[uri] = now
        if last is not None and 0 < now - last < BURST_GAP_S:
            self._gaps.setdefault(uri, deque(maxlen=16)).append(now - last)

    def note_latency(self, seconds: float) -> None:
        self._latencies.append(seconds)

    def forget(self, uri: str) -> None:
        self._last_edit.pop(uri, None)
        self._gaps.pop(uri, None)

    def delay_s(self, uri: str) -> float:
        """How long an automatic request for `uri` waits before calling the model."""
        if self.base_ms <= 0:
            return 0.0
        base = self.base_ms / 1000
        gaps = self._gaps.get(uri)
        delay = base
        if gaps and len(gaps) >= 3:
            ordered = sorted(gaps)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
            wanted = max(1.3 * statistics.median(ordered), 1.1 * p90)
            delay = min(max(wanted, 0.5 * base), 2.5 * base)
        if len(self._latencies) >= 3 and statistics.median(self._latencies) > 1.5:
            delay *= 1.25
        return delay
