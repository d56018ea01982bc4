"""`devstral/stats`: counters and timings for the status line, the benchmark and bug reports.

With `DEVSTRAL_DEBUG_MEMORY=1` in the server's environment a hidden `devstral/debugMemory`
request is registered too: it diffs tracemalloc snapshots (and live object counts per type)
against the previous call, to find per-request growth. Tracing starts with the first call
unless `PYTHONTRACEMALLOC=N` started it at launch; without the variable the request does not
exist.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

from ..server import DevstralServer
from .next_edit import engine_of

STATS_METHOD = "devstral/stats"
DEBUG_MEMORY_METHOD = "devstral/debugMemory"


def register(server: DevstralServer) -> None:
    @server.feature(STATS_METHOD)
    def stats(ls: DevstralServer, params: Any) -> dict[str, Any]:
        health = ls.pipeline.health
        return {
            **dataclasses.asdict(ls.pipeline.stats),
            "provider": ls.endpoint.provider,
            "model": ls.endpoint.model,
            "promptMode": ls.endpoint.prompt_mode,
            "backendHealthy": not health.in_outage,
            "backoffRemainingS": round(health.backoff_remaining(), 3),
            "backoffS": round(health.backoff_s, 3),
            "lastError": health.last_error,
            "openDocuments": len(ls.documents),
            "positionEncoding": str(ls.encoding),
            "indexReady": ls.context.engine.wait_until_indexed(0),
            "warm": ls.warming is not None and ls.warming.done(),
            "asyncioTasks": len(asyncio.all_tasks()),
            "pendingFutures": len(ls.protocol._request_futures),
            "nextEdit": engine_of(ls).stats.as_dict(),
        }

    if os.environ.get("DEVSTRAL_DEBUG_MEMORY") == "1":
        probe = MemoryProbe()

        @server.feature(DEBUG_MEMORY_METHOD)
        def debug_memory(ls: DevstralServer, params: Any) -> dict[str, Any]:
            limit = _param(params, "limit", 25)
            group = _param(params, "groupBy", "traceback")
            out = probe.diff(limit=int(limit), group_by=str(group))
            out["requestFutures"] = len(ls.protocol._request_futures)
            out["tokenMemo"] = ls.context.engine.count.memo_sizes()
            out["lruEntries"] = len(ls.pipeline.lru)
            return out


def _param(params: Any, name: str, default: Any) -> Any:
    if isinstance(params, dict):
        return params.get(name, default)
    return getattr(params, name, default)


class MemoryProbe:
    """Top tracemalloc growth and object-count growth since the previous `diff` call."""

    def __init__(self) -> None:
        self._snapshot: Any = None
        self._types: dict[str, int] = {}

    def diff(self, *, limit: int = 25, group_by: str = "traceback") -> dict[str, Any]:
        import gc
        import tracemalloc
        from collections import Counter

        gc.collect()
        if not tracemalloc.is_tracing():
            tracemalloc.start(25)
        snapshot = tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
        ))
        types_now = Counter(type(o).__qualname__ for o in gc.get_objects())
        out: dict[str, Any] = {"tracedKb": tracemalloc.get_traced_memory()[0] // 1024}
        if self._snapshot is not None:
            stats = snapshot.compare_to(self._snapshot, group_by)
            out["top"] = [
                {"sizeDiffKb": round(s.size_diff / 1024, 1), "countDiff": s.count_diff,
                 "traceback": [f"{f.filename}:{f.lineno}" for f in s.traceback][-12:]}
                for s in stats[:limit]
            ]
            grown = {k: v - self._types.get(k, 0) for k, v in types_now.items()}
            out["objects"] = sorted(((k, d) for k, d in grown.items() if d),
                                    key=lambda kv: -abs(kv[1]))[:limit]
        self._snapshot, self._types = snapshot, dict(types_now)
        return out
