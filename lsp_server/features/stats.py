"""`devstral/stats`: counters and timings for the status line, the benchmark and bug reports."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from ..server import DevstralServer

STATS_METHOD = "devstral/stats"


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
            "lastError": health.last_error,
            "openDocuments": len(ls.documents),
            "positionEncoding": str(ls.encoding),
            "indexReady": ls.context.engine.wait_until_indexed(0),
            "asyncioTasks": len(asyncio.all_tasks()),
        }
