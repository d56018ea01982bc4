"""Load generator shared by `test_load.py` (CI-sized) and `bench/soak.py` (10,000 requests).

One real server over stdio, `documents` open buffers, and `requests` inline completions against a
fast fake backend. Before every request the document's cursor line gets one more character, so
every prompt differs and every request reaches the model (no cache hit hides a leak). Requests
go out `concurrency` at a time, each batch on distinct documents; a mix of invoked and automatic
triggers. Measures latency, RSS, open file descriptors, sockets to the backend and connections
the backend saw.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from lsprotocol import types

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import MODEL, fake_env, inline_params, open_doc

from .helpers import (
    backend_sockets,
    fd_count,
    rss_kb,
    server_pid,
    session,
    stats,
    wait_for_stats,
)


@dataclass
class LoadFigures:
    requests: int = 0
    answered: int = 0
    with_items: int = 0
    errors: int = 0
    documents: int = 0
    model_calls: int = 0
    backend_requests: int = 0
    backend_connections: int = 0
    elapsed_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    rss_start_kb: int = 0
    rss_end_kb: int = 0
    fds_start: int = 0
    fds_end: int = 0
    backend_sockets_start: int = 0
    backend_sockets_end: int = 0
    idle_tasks: int = 0
    """asyncio tasks of the server before the first request: what "settled" means after."""
    settled: bool = False
    """The server got back to `idle_tasks` after the load (every call and stream finished)."""
    rss_samples_kb: list[int] = field(default_factory=list)
    """RSS after every tenth of the run: a plateau means bounded caches, a slope a leak."""
    server_stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _document(i: int) -> str:
    body = "".join(f"    total_{i}_{k} = compute_{k}(values, {k})\n" for k in range(40))
    return f"def handler_{i}(values):\n{body}    result = values"


async def run_load(*, requests: int, documents: int = 50, concurrency: int = 25,
                   automatic_share: float = 0.3, seed: int = 8, warmup: int = 100
                   ) -> LoadFigures:
    rng = random.Random(seed)
    figs = LoadFigures(documents=documents)
    with FakeBackend(models=[MODEL], default=Reply.text(" + offset\n")) as fb:
        opts = {"debounceMs": 0, "timeoutMs": 10000}
        async with session(fake_env(fb), init_options=opts) as (lsp, _):
            pid = server_pid(lsp)
            uris = [f"file:///tmp/devstral-load/h{i}.py" for i in range(documents)]
            lines = {u: _document(i).split("\n") for i, u in enumerate(uris)}
            versions = dict.fromkeys(uris, 1)
            for u in uris:
                open_doc(lsp, u, "\n".join(lines[u]))
            latencies: list[float] = []
            figs.idle_tasks = int((await stats(lsp))["asyncioTasks"])

            async def one(uri: str, invoked: bool) -> None:
                last = len(lines[uri]) - 1
                col = len(lines[uri][last])
                ch = rng.choice("abcdefgh")
                versions[uri] += 1
                lsp.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(
                        uri=uri, version=versions[uri]),
                    content_changes=[types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(line=last, character=col),
                                          end=types.Position(line=last, character=col)),
                        text=ch)]))
                lines[uri][last] += ch
                params = inline_params(uri, last, col + 1, invoked)
                started = time.monotonic()
                try:
                    got = await asyncio.wait_for(
                        lsp.text_document_inline_completion_async(params), 30.0)
                except Exception:
                    figs.errors += 1
                    return
                latencies.append(time.monotonic() - started)
                figs.answered += 1
                if isinstance(got, types.InlineCompletionList) and got.items:
                    figs.with_items += 1

            async def batch(count: int) -> None:
                sent = 0
                while sent < count:
                    n = min(concurrency, count - sent, documents)
                    chosen = rng.sample(uris, n)
                    await asyncio.gather(*(one(u, rng.random() >= automatic_share)
                                           for u in chosen))
                    sent += n

            await batch(warmup)  # imports, client pool, caches warm
            latencies.clear()
            figs.answered = figs.with_items = figs.errors = 0
            figs.rss_start_kb = rss_kb(pid)
            figs.fds_start = fd_count(pid)
            port = int(fb.base_url.split(":")[2].split("/")[0])
            figs.backend_sockets_start = backend_sockets(pid, port)
            started = time.monotonic()
            step = max(1, requests // 10)
            for done in range(0, requests, step):
                await batch(min(step, requests - done))
                figs.rss_samples_kb.append(rss_kb(pid))
            figs.elapsed_s = time.monotonic() - started
            figs.requests = requests
            # Measure once closed streams and finished calls have settled: the server runs no
            # more tasks than before the load (a readiness poll; the limit only ends a run that
            # never settles, which `settled` then reports).
            try:
                await wait_for_stats(lsp, lambda s: s["asyncioTasks"] <= figs.idle_tasks,
                                     "settled")
                figs.settled = True
            except AssertionError:
                figs.settled = False
            figs.rss_end_kb = rss_kb(pid)
            figs.fds_end = fd_count(pid)
            figs.backend_sockets_end = backend_sockets(pid, port)
            figs.server_stats = await stats(lsp)
            figs.model_calls = int(figs.server_stats.get("model_calls", 0))
        figs.backend_requests = len(fb.completion_requests)
        figs.backend_connections = len({r.connection_id for r in fb.requests})
    if latencies:
        ordered = sorted(latencies)
        figs.p50_ms = statistics.median(ordered) * 1000
        figs.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        figs.max_ms = ordered[-1] * 1000
    return figs
