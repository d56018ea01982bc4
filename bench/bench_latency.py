"""Latency and cost of inline completion while typing, through the real stdio protocol.

Run: ``python bench/bench_latency.py [--pauses 20] [--ttft 0.15] [--tps 100] [--json out.json]``

The server (`python -m lsp_server`) is driven by the minimal JSON-RPC client of
`bench/common.py` against the fake backend (`tests/fake_backend`) on loopback. Sections:

* typing traces, twice: VS Code style (every keystroke sends didChange + an Automatic
  `textDocument/inlineCompletion` and `$/cancelRequest`s the previous request) and
  Neovim-plugin style (same, never cancels). Each cycle is a burst of keystrokes 80 ms apart
  (starting with Enter, which diverges from the previous suggestion), a pause until the
  answer arrives, then typing along the suggestion for a few characters. Per cycle: model
  calls (target exactly one), wasted calls (cancelled streams), the result time after the
  last keystroke minus model time minus debounce, typed-through latency (no model call,
  ≤ 10 ms), prompt tokens per request.
* cancel → disconnect: an invoked request is cancelled while the backend streams (and while
  it waits for the first token); the backend stamps when it sees the connection close.
* supersede → disconnect: a new, diverging keystroke without `$/cancelRequest`; how long the
  old stream stays open.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LspClient,
    Pending,
    fmt_ms,
    inline_text,
    print_table,
    python_source,
    server_env,
    summary,
    verdict,
)
from tests.fake_backend import FakeBackend, RecordedRequest, Reply

URI = "file:///tmp/devstral-bench/trace.py"
SUGGESTION_HEAD = "compute_3(alpha, beta) + offset"


@dataclass
class Options:
    pauses: int = 20
    burst: int = 6
    along: int = 4
    interval: float = 0.08
    quiet: float = 0.3
    ttft: float = 0.15
    tps: float = 100.0
    cancels: int = 15
    file_lines: int = 600
    debounce_ms: int | None = None
    variants: tuple[str, ...] = ("vscode", "neovim")


def model_reply(opts: Options) -> Reply:
    """A multi-line answer: the statement, the rest of the block, then code beyond the block
    that early stop should never wait for (40 lines at `tps` would take seconds)."""
    tail = "".join(f"def unrelated_{i}(x):\n    return x * {i}\n\n\n" for i in range(10))
    content = f"{SUGGESTION_HEAD}\n    return value\n\n\n{tail}"
    return Reply.text(content, ttft=opts.ttft, tokens_per_s=opts.tps)


def backend_ms(req: RecordedRequest) -> float:
    end = req.t_finished or req.t_disconnected
    return (end - req.t_received) * 1000 if end else float("nan")


def counters(stats: dict[str, Any]) -> dict[str, int]:
    keys = ("requests", "model_calls", "model_calls_cancelled", "early_stops", "typed_hits",
            "cache_hits", "inflight_joins", "superseded")
    return {k: int(stats.get(k, 0)) for k in keys}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


class Typist:
    """Types into one document like an editor: didChange + inline request per keystroke."""

    def __init__(self, lsp: LspClient, *, cancel: bool, interval: float) -> None:
        self.lsp = lsp
        self.cancel = cancel
        self.interval = interval
        self.version = 1
        self.line = 0
        self.char = 0
        self.last: Pending | None = None
        self.all: list[Pending] = []

    def edit(self, text: str) -> None:
        """Insert `text` at the cursor (didChange only)."""
        self.version += 1
        self.lsp.did_change(URI, self.version, self.line, self.char, text)
        if "\n" in text:
            self.line += text.count("\n")
            self.char = len(text.rsplit("\n", 1)[1])
        else:
            self.char += len(text)

    async def key(self, text: str) -> Pending:
        """One keystroke inserting `text` at the cursor (Enter inserts "\\n" + indent)."""
        if self.cancel and self.last is not None and not self.last.future.done():
            self.lsp.cancel(self.last.id)
        self.edit(text)
        pending = self.lsp.inline(URI, self.line, self.char)
        await self.lsp.flush()
        self.last = pending
        self.all.append(pending)
        return pending

    async def type_keys(self, keys: list[str]) -> Pending:
        start = time.monotonic()
        pending: Pending | None = None
        for i, k in enumerate(keys):
            await asyncio.sleep(max(0.0, start + i * self.interval - time.monotonic()))
            pending = await self.key(k)
        assert pending is not None
        return pending


async def typing_variant(fb: FakeBackend, opts: Options, variant: str, *,
                         reply: Reply | None = None,
                         env: dict[str, str] | None = None) -> dict[str, Any]:
    """One trace; `reply` and `env` (extra server environment) let bench_cost.py reuse it."""
    cancel = variant == "vscode"
    settings: dict[str, Any] = {}
    if opts.debounce_ms is not None:
        settings["debounceMs"] = opts.debounce_ms
    fb.default = reply or model_reply(opts)
    lsp = await LspClient.spawn(server_env(fb.base_url, **(env or {})), settings=settings)
    try:
        await lsp.initialize("vscode-inline" if cancel else "neovim-0.11.4")
        text = python_source(opts.file_lines)
        lsp.did_open(URI, text)
        start_line = text.count("\n") // 2
        start_line = text.split("\n").index("    return scaled", start_line) + 1
        # The cursor goes to the start of an empty line after a `return`.
        typist = Typist(lsp, cancel=cancel, interval=opts.interval)
        typist.line, typist.char = start_line - 1, len("    return scaled")
        # Warm up: the first call also waits for the openai import and opens the connection.
        t0 = time.monotonic()
        warm = lsp.inline(URI, typist.line, typist.char, invoked=True)
        await lsp.flush()
        await asyncio.wait_for(warm.future, 30)
        cold_ms = (time.monotonic() - t0) * 1000

        cycles: list[dict[str, Any]] = []
        for p in range(opts.pauses):
            word = f"v{p}_total = "[: max(1, opts.burst - 1)]
            keys = ["\n    ", *list(word)]
            before = counters(await lsp.stats())
            n_req = len(fb.completion_requests)
            first_key = len(typist.all)
            last = await typist.type_keys(keys)
            sent = [p.t_sent for p in typist.all[first_key - 1 if first_key else 0:]]
            gaps = [(b - a) * 1000 for a, b in itertools.pairwise(sent)]
            msg = await asyncio.wait_for(last.future, 30)
            e2e_ms = last.elapsed_ms
            stats = await lsp.stats()
            timings = dict(stats.get("last_timings") or {})
            prompt_tokens = int(stats.get("last_prompt_tokens", 0))
            await asyncio.sleep(opts.quiet)
            mid = counters(await lsp.stats())
            got = inline_text(msg)
            line_before = "    " + word
            suggestion = got[len(line_before):] if got and got.startswith(line_before) else ""
            # Type along the suggestion: every keystroke should be answered from the cache.
            along_ms: list[float] = []
            along_keys = [c for c in suggestion.split("\n", 1)[0][: opts.along]]
            if len(along_keys) >= len(suggestion.split("\n", 1)[0]):
                along_keys = along_keys[:-1]
            along_ok = 0
            for k in along_keys:
                t_key = time.monotonic()
                pend = await typist.key(k)
                reply = await asyncio.wait_for(pend.future, 10)
                along_ms.append(pend.elapsed_ms)
                if inline_text(reply):
                    along_ok += 1
                await asyncio.sleep(max(0.0, t_key + opts.interval - time.monotonic()))
            after = counters(await lsp.stats())
            reqs = fb.completion_requests[n_req:]
            model_ms = float(timings.get("model_ms", float("nan")))
            debounce_ms = float(timings.get("debounce_ms", float("nan")))
            answered = [r for r in reqs if not r.client_disconnected]
            useful = reqs[-1] if reqs else None
            cycles.append({
                "keystrokes": len(keys),
                "max_key_gap_ms": max(gaps, default=float("nan")),
                "counters_burst": delta(mid, before),
                "counters_along": delta(after, mid),
                "backend_requests": len(reqs),
                "backend_disconnected": sum(r.client_disconnected for r in reqs),
                "backend_completed": len(answered),
                "e2e_ms": e2e_ms,
                "server_timings": timings,
                "overhead_ms": e2e_ms - model_ms - debounce_ms,
                "overhead_vs_backend_ms": (e2e_ms - debounce_ms - backend_ms(useful)
                                           if useful else float("nan")),
                "prompt_tokens": prompt_tokens,
                "prompt_chars": len(json.dumps(useful.body)) if useful else 0,
                "suggestion": suggestion,
                "along_ms": along_ms,
                "along_answered": along_ok,
                "along_keys": len(along_keys),
            })
        return {"variant": variant, "cold_first_ms": cold_ms, "cycles": cycles,
                "final_stats": await lsp.stats()}
    finally:
        await lsp.close()


async def cancel_to_disconnect(fb: FakeBackend, opts: Options) -> dict[str, Any]:
    """$/cancelRequest while streaming and while waiting for the first token."""
    lsp = await LspClient.spawn(server_env(fb.base_url))
    out: dict[str, Any] = {}
    try:
        await lsp.initialize("vscode-inline")
        text = python_source(200)
        lsp.did_open(URI, text)
        lines = text.split("\n")
        warm = lsp.inline(URI, 5, len(lines[5]), invoked=True)
        await lsp.flush()
        await asyncio.wait_for(warm.future, 30)
        long = "".join(f"    step_{i} = step_{i - 1} + 1\n" for i in range(1, 400))
        for phase, reply, wait_first in (
            ("mid_stream", Reply.text(long, ttft=0.02, tokens_per_s=50), True),
            ("before_first_token", Reply.text(long, ttft=2.0, tokens_per_s=50), False),
        ):
            fb.default = reply
            disc: list[float] = []
            replied: list[float] = []
            not_closed = 0
            for i in range(opts.cancels):
                line = 10 + 6 * i  # a different position each time: no cache can answer
                n_req = len(fb.completion_requests)
                pend = lsp.inline(URI, line, len(lines[line]), invoked=True)
                await lsp.flush()
                deadline = time.monotonic() + 10
                while len(fb.completion_requests) <= n_req and time.monotonic() < deadline:
                    await asyncio.sleep(0.001)
                if len(fb.completion_requests) <= n_req:
                    raise RuntimeError("the invoked request never reached the backend")
                req = fb.completion_requests[n_req]
                if wait_first:
                    while req.chunks_sent < 3 and time.monotonic() < deadline:
                        await asyncio.sleep(0.001)
                else:
                    await asyncio.sleep(0.05)
                t_cancel = lsp.cancel(pend.id)
                await lsp.flush()
                await asyncio.wait_for(pend.future, 10)
                replied.append(((pend.t_received or t_cancel) - t_cancel) * 1000)
                try:
                    await req.wait_done_async(timeout=5)
                except TimeoutError:
                    pass
                if req.client_disconnected and req.t_disconnected is not None:
                    disc.append((req.t_disconnected - t_cancel) * 1000)
                else:
                    not_closed += 1
            out[phase] = {"disconnect_ms": summary(disc), "reply_ms": summary(replied),
                          "not_closed": not_closed, "samples": disc}
        # Supersede without $/cancelRequest: a diverging keystroke (Enter) while a stream runs.
        fb.default = Reply.text(long, ttft=0.02, tokens_per_s=50)
        typist = Typist(lsp, cancel=False, interval=opts.interval)
        typist.line, typist.char = 100, len(lines[100])
        sup: list[float] = []
        for i in range(max(1, opts.cancels // 3)):
            typist.edit(f"s{i} = ")  # no cache can answer the invoked request below
            n_req = len(fb.completion_requests)
            first = lsp.inline(URI, typist.line, typist.char, invoked=True)
            await lsp.flush()
            deadline = time.monotonic() + 10
            while len(fb.completion_requests) <= n_req and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            if len(fb.completion_requests) <= n_req:
                raise RuntimeError("the invoked request never reached the backend")
            req = fb.completion_requests[n_req]
            while req.chunks_sent < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            t_key = time.monotonic()
            second = await typist.key("\n    ")
            try:
                await req.wait_done_async(timeout=5)
            except TimeoutError:
                pass
            if req.t_disconnected is not None:
                sup.append((req.t_disconnected - t_key) * 1000)
            for p in (first, second):
                try:
                    await asyncio.wait_for(p.future, 10)
                except TimeoutError:
                    pass
        out["supersede_no_cancel"] = {"disconnect_ms": summary(sup), "samples": sup}
    finally:
        await lsp.close()
    return out


def report_typing(res: dict[str, Any]) -> dict[str, Any]:
    cycles = res["cycles"]
    calls = [c["counters_burst"]["model_calls"] for c in cycles]
    along_calls = sum(c["counters_along"]["model_calls"] for c in cycles)
    wasted = sum(c["counters_burst"]["model_calls_cancelled"] for c in cycles)
    disconnected = sum(c["backend_disconnected"] for c in cycles)
    early = sum(c["counters_burst"]["early_stops"] for c in cycles)
    overhead = [c["overhead_ms"] for c in cycles if c["overhead_ms"] == c["overhead_ms"]]
    server_overhead = [float(c["server_timings"].get("overhead_ms", float("nan")))
                       for c in cycles if "overhead_ms" in c["server_timings"]]
    vs_backend = [c["overhead_vs_backend_ms"] for c in cycles
                  if c["overhead_vs_backend_ms"] == c["overhead_vs_backend_ms"]]
    e2e = [c["e2e_ms"] for c in cycles]
    model = [float(c["server_timings"].get("model_ms", float("nan"))) for c in cycles
             if "model_ms" in c["server_timings"]]
    debounce = [float(c["server_timings"].get("debounce_ms", float("nan"))) for c in cycles
                if "debounce_ms" in c["server_timings"]]
    along = [ms for c in cycles for ms in c["along_ms"]]
    along_keys = sum(c["along_keys"] for c in cycles)
    along_answered = sum(c["along_answered"] for c in cycles)
    typed_hits = sum(c["counters_along"]["typed_hits"] for c in cycles)
    tokens = [float(c["prompt_tokens"]) for c in cycles if c["prompt_tokens"]]
    chars = [float(c["prompt_chars"]) for c in cycles if c["prompt_chars"]]
    exact_one = sum(1 for n in calls if n == 1)
    extra_gaps = [f"{c['max_key_gap_ms']:.0f}" for c in cycles
                  if c["counters_burst"]["model_calls"] != 1]
    keystrokes = sum(c["keystrokes"] for c in cycles)
    figures = {
        "pauses": len(cycles),
        "keystrokes": keystrokes,
        "model_calls_per_pause": summary([float(n) for n in calls]),
        "pauses_with_exactly_one_call": exact_one,
        "wasted_calls": wasted,
        "backend_disconnects": disconnected,
        "early_stops": early,
        "e2e_ms": summary(e2e),
        "model_ms": summary(model),
        "debounce_ms": summary(debounce),
        "overhead_ms": summary(overhead),
        "server_overhead_ms": summary(server_overhead),
        "overhead_vs_backend_ms": summary(vs_backend),
        "typed_through_ms": summary(along),
        "typed_through_keys": along_keys,
        "typed_through_answered": along_answered,
        "typed_through_hits": typed_hits,
        "typed_through_model_calls": along_calls,
        "prompt_tokens": summary(tokens),
        "prompt_body_chars": summary(chars),
        "cold_first_ms": res["cold_first_ms"],
    }
    print(f"\n== typing trace, {res['variant']} style "
          f"({'cancels the previous request' if res['variant'] == 'vscode' else 'no cancel'}): "
          f"{len(cycles)} pauses, {keystrokes} keystrokes ==")
    mean_calls = figures["model_calls_per_pause"]["mean"]
    print_table([
        ("figure", "measured", "target", "verdict"),
        ("model calls per pause", f"mean {mean_calls:.2f}, exactly one in {exact_one}/"
         f"{len(cycles)}", "exactly 1",
         "ok" if exact_one == len(cycles) else f"MISSED in {len(cycles) - exact_one} pauses "
         f"(longest key gap there: {', '.join(extra_gaps)} ms)"),
        ("wasted (cancelled) model calls", f"{wasted} (backend saw {disconnected} closes, "
         f"{early} early stops)", "0", "ok" if wasted == 0 else f"MISSED: {wasted}"),
        ("result after last key, e2e", fmt_ms(figures["e2e_ms"]), "", ""),
        ("  of which debounce", fmt_ms(figures["debounce_ms"]), "", ""),
        ("  of which model (server view)", fmt_ms(figures["model_ms"]), "", ""),
        ("own overhead p50 (e2e-model-deb.)", fmt_ms(figures["overhead_ms"]), "≤ 2 ms p50",
         verdict(figures["overhead_ms"]["p50"], 2.0)),
        ("own overhead p99", "", "≤ 10 ms p99", verdict(figures["overhead_ms"]["p99"], 10.0)),
        ("  server-internal overhead_ms", fmt_ms(figures["server_overhead_ms"]), "", ""),
        ("  e2e-debounce-backend time", fmt_ms(figures["overhead_vs_backend_ms"]), "", ""),
        ("typed-through latency", fmt_ms(figures["typed_through_ms"]), "≤ 10 ms",
         verdict(figures["typed_through_ms"]["p99"], 10.0)),
        ("typed-through answered / hits", f"{along_answered}/{along_keys} answered, "
         f"{typed_hits} typed hits, {along_calls} model calls", "all, 0 calls",
         "ok" if along_answered == along_keys and along_calls == 0 else "MISSED"),
        ("prompt tokens per request", fmt_ms(figures["prompt_tokens"]).replace(" ms", ""),
         "", ""),
        ("request body chars", fmt_ms(figures["prompt_body_chars"]).replace(" ms", ""),
         "", ""),
        ("cold first completion", f"{res['cold_first_ms']:.0f} ms", "", "(import+connect)"),
    ])
    return figures


def report_cancel(res: dict[str, Any]) -> None:
    print("\n== cancel → backend sees the connection close ==")
    rows = [("figure", "measured", "target", "verdict")]
    for phase in ("mid_stream", "before_first_token"):
        s = res[phase]["disconnect_ms"]
        rows.append((f"$/cancelRequest {phase}", fmt_ms(s), "≤ 50 ms",
                     verdict(s["p99"], 50.0) + (f", {res[phase]['not_closed']} never closed"
                                                if res[phase]["not_closed"] else "")))
        rows.append(("  cancel → error reply to client", fmt_ms(res[phase]["reply_ms"]), "", ""))
    s = res["supersede_no_cancel"]["disconnect_ms"]
    rows.append(("new diverging key, no cancel", fmt_ms(s), "(info)", ""))
    print_table(rows)


async def run(opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {"options": opts.__dict__.copy(), "typing": {}}
    with FakeBackend(models=["devstral-small-latest"]) as fb:
        for variant in opts.variants:
            fb.reset()
            raw = await typing_variant(fb, opts, variant)
            results["typing"][variant] = {"figures": report_typing(raw), "raw": raw}
        fb.reset()
        cancel = await cancel_to_disconnect(fb, opts)
        report_cancel(cancel)
        results["cancel"] = cancel
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pauses", type=int, default=20, help="typing pauses per variant")
    ap.add_argument("--burst", type=int, default=6, help="keystrokes per burst")
    ap.add_argument("--along", type=int, default=4, help="keystrokes typed along a suggestion")
    ap.add_argument("--interval", type=float, default=0.08, help="seconds between keystrokes")
    ap.add_argument("--ttft", type=float, default=0.15, help="backend time to first token (s)")
    ap.add_argument("--tps", type=float, default=100.0, help="backend tokens per second")
    ap.add_argument("--cancels", type=int, default=15, help="cancel samples per phase")
    ap.add_argument("--debounce-ms", type=int, default=None, help="debounceMs setting")
    ap.add_argument("--variants", default="vscode,neovim", help="vscode,neovim")
    ap.add_argument("--json", type=Path, help="write all figures and raw samples here")
    args = ap.parse_args(argv)
    opts = Options(pauses=args.pauses, burst=args.burst, along=args.along,
                   interval=args.interval, ttft=args.ttft, tps=args.tps, cancels=args.cancels,
                   debounce_ms=args.debounce_ms,
                   variants=tuple(v for v in args.variants.split(",") if v))
    print(f"backend: ttft {opts.ttft * 1000:.0f} ms, {opts.tps:.0f} tokens/s; keystrokes "
          f"{opts.interval * 1000:.0f} ms apart; {opts.burst} keys per burst")
    t0 = time.monotonic()
    results = asyncio.run(run(opts))
    print(f"\n(total {time.monotonic() - t0:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
