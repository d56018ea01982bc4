"""Server resources: CPU per keystroke on a 100k-line file, RSS with 200 open documents.

Run: ``python bench/bench_memory.py [--keys 300] [--lines 100000] [--docs 200]``
     ``python bench/bench_memory.py --parts [--plain-openai]``  (what each part costs, alone)
     ``python bench/bench_memory.py --profile /tmp/keys.prof``  (server under cProfile)
     ``python bench/bench_memory.py --trace [--reps 3]``  (RSS per phase of the side-by-side
     trace of `bench_vs_tabby.py`: where its peak comes from)

CPU: the server's utime+stime (/proc/<pid>/stat, 10 ms ticks) and the sum of its threads'
schedstat run times (ns) are read before and after N keystrokes typed VS Code style (didChange
+ Automatic inlineCompletion, `$/cancelRequest` for the previous one) in the middle of the
file; the keystrokes come faster than the debounce, so no model call happens inside the
window. The cost of the one model call at the end of the burst (context, prompt, HTTP,
cleanup) is reported separately. The same is done on a small file for comparison.

RSS: /proc/<pid>/status VmRSS after initialize, after the first completion (openai imported,
HTTP client built), and after opening `--docs` documents of 200–1200 lines each (a completion
in the last one lets the context engine look at all of them).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    LspClient,
    cpu_ns,
    cpu_seconds,
    print_table,
    python_source,
    rss_mb,
    server_env,
    verdict,
)
from tests.fake_backend import FakeBackend, Reply

REPLY = Reply.text("compute_1(alpha, beta)\n    return value\n\n\ndef later():\n    pass\n",
                   ttft=0.05, tokens_per_s=400)


def server_argv(profile: Path | None) -> list[str] | None:
    if profile is None:
        return None
    return [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "lsp_server"]


async def settle_cpu(pid: int, window_s: float = 0.25, quiet_ms: float = 3.0,
                     limit_s: float = 10.0) -> None:
    """Wait until the server is idle (background imports, indexing) before measuring."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        n0 = cpu_ns(pid)
        await asyncio.sleep(window_s)
        if (cpu_ns(pid) - n0) / 1e6 < quiet_ms:
            return


async def keystroke_cpu(fb: FakeBackend, lines: int, keys: int, interval: float,
                        profile: Path | None = None, *, blocked: bool = False,
                        idle_s: float = 1.0, settle_s: float = 0.3, warm: bool = True
                        ) -> dict[str, Any]:
    """CPU per keystroke typing in the middle of a `lines`-line file.

    With `blocked`, the file is a secret file (`.env`) the server never builds a context
    for: what remains is the floor of protocol handling, document sync and the pipeline's
    cheap checks.
    """
    lsp = await LspClient.spawn(server_env(fb.base_url), argv=server_argv(profile))
    uri = f"file:///tmp/devstral-bench/big_{lines}.{'env' if blocked else 'py'}"
    try:
        await lsp.initialize("vscode-inline")
        text = python_source(lines)
        t_open = time.monotonic()
        lsp.did_open(uri, text)
        await lsp.stats()  # round trip: didOpen has been handled
        open_ms = (time.monotonic() - t_open) * 1000
        src = text.split("\n")
        line = src.index("    return scaled", len(src) // 2)
        char = len(src[line])
        version = 1
        # Warm: the first completion imports openai and connects.
        if warm:
            first = lsp.inline(uri, line, char, invoked=True)
            await lsp.flush()
            await asyncio.wait_for(first.future, 30)
            await asyncio.sleep(settle_s)
        await settle_cpu(lsp.pid, limit_s=10 * settle_s / 0.3)
        before_stats = await lsp.stats()
        # Idle baseline over a short window.
        c0, n0, t0 = cpu_seconds(lsp.pid), cpu_ns(lsp.pid), time.monotonic()
        await asyncio.sleep(idle_s)
        idle_ns_per_s = (cpu_ns(lsp.pid) - n0) / (time.monotonic() - t0)
        idle_tick_per_s = (cpu_seconds(lsp.pid) - c0) / (time.monotonic() - t0)
        # Enter + indent, then type.
        word = "".join(f"v{i % 10}" for i in range(keys))[: keys - 1]
        stream = ["\n    ", *word]
        last = None
        c0, n0, t0 = cpu_seconds(lsp.pid), cpu_ns(lsp.pid), time.monotonic()
        latencies: list[float] = []
        for i, k in enumerate(stream):
            await asyncio.sleep(max(0.0, t0 + i * interval - time.monotonic()))
            if last is not None and not last.future.done():
                lsp.cancel(last.id)
            else:
                if last is not None:
                    latencies.append(last.elapsed_ms)
            version += 1
            lsp.did_change(uri, version, line, char, k)
            if "\n" in k:
                line, char = line + 1, len(k) - 1
            else:
                char += len(k)
            last = lsp.inline(uri, line, char)
            await lsp.flush()
        await asyncio.sleep(max(0.0, t0 + len(stream) * interval - time.monotonic()))
        c1, n1, t1 = cpu_seconds(lsp.pid), cpu_ns(lsp.pid), time.monotonic()
        assert last is not None
        await asyncio.wait_for(last.future, 30)
        await asyncio.sleep(settle_s)
        c2, n2, t2 = cpu_seconds(lsp.pid), cpu_ns(lsp.pid), time.monotonic()
        after_stats = await lsp.stats()
        span = t1 - t0
        n = len(stream)
        calls = int(after_stats["model_calls"]) - int(before_stats["model_calls"])
        return {
            "blocked": blocked,
            "lines": lines,
            "chars": len(text),
            "keystrokes": n,
            "open_ms": open_ms,
            "ms_per_key_stat": ((c1 - c0) - idle_tick_per_s * span) / n * 1000,
            "ms_per_key_schedstat": ((n1 - n0) - idle_ns_per_s * span) / n / 1e6,
            "idle_ms_per_s": idle_ns_per_s / 1e6,
            "pause_cpu_ms_stat": ((c2 - c1) - idle_tick_per_s * (t2 - t1)) * 1000,
            "pause_cpu_ms_schedstat": ((n2 - n1) - idle_ns_per_s * (t2 - t1)) / 1e6,
            "model_calls": calls,
            "pause_timings": after_stats.get("last_timings", {}),
            "prompt_tokens": after_stats.get("last_prompt_tokens", 0),
            "rss_mb": rss_mb(lsp.pid),
        }
    finally:
        await lsp.close()


async def open_documents_rss(fb: FakeBackend, docs: int, settle_s: float = 0.5
                             ) -> dict[str, Any]:
    lsp = await LspClient.spawn(server_env(fb.base_url))
    try:
        await lsp.initialize("vscode-inline")
        await lsp.stats()
        rss_init = rss_mb(lsp.pid)
        first = "file:///tmp/devstral-bench/docs/m0.py"
        lsp.did_open(first, python_source(300))
        warm = lsp.inline(first, 5, 10, invoked=True)
        await lsp.flush()
        await asyncio.wait_for(warm.future, 30)
        await asyncio.sleep(settle_s)
        rss_warm = rss_mb(lsp.pid)
        total_chars = 0
        total_lines = 0
        for i in range(1, docs):
            n_lines = 200 + (i * 397) % 1000
            text = python_source(n_lines, seed=i)
            total_chars += len(text)
            total_lines += n_lines
            lsp.did_open(f"file:///tmp/devstral-bench/docs/m{i}.py", text)
            if i % 20 == 0:
                await lsp.flush()
        await lsp.stats()
        await asyncio.sleep(settle_s)
        rss_open = rss_mb(lsp.pid)
        last = f"file:///tmp/devstral-bench/docs/m{docs - 1}.py"
        pend = lsp.inline(last, 5, 10, invoked=True)
        await lsp.flush()
        await asyncio.wait_for(pend.future, 30)
        stats = await lsp.stats()
        again = lsp.inline(last, 25, 10, invoked=True)
        await lsp.flush()
        await asyncio.wait_for(again.future, 30)
        again_stats = await lsp.stats()
        await asyncio.sleep(settle_s)
        return {
            "docs": docs,
            "open_documents": stats.get("openDocuments"),
            "total_chars": total_chars,
            "total_lines": total_lines,
            "rss_after_initialize_mb": rss_init,
            "rss_after_first_completion_mb": rss_warm,
            "rss_after_open_mb": rss_open,
            "rss_after_completion_mb": rss_mb(lsp.pid),
            "hwm_mb": rss_mb(lsp.pid, "VmHWM"),
            "completion_timings": stats.get("last_timings", {}),
            "second_completion_timings": again_stats.get("last_timings", {}),
        }
    finally:
        await lsp.close()


async def run(*, lines: int, small_lines: int, keys: int, interval: float, docs: int,
              profile: Path | None = None) -> dict[str, Any]:
    with FakeBackend(models=["devstral-small-latest"], default=REPLY) as fb:
        floor = await keystroke_cpu(fb, small_lines, keys, interval, blocked=True)
        small = await keystroke_cpu(fb, small_lines, keys, interval)
        big = await keystroke_cpu(fb, lines, keys, interval, profile)
        mem = await open_documents_rss(fb, docs)
    return {"cpu_floor": floor, "cpu_small": small, "cpu_big": big, "memory": mem}


def report(res: dict[str, Any]) -> None:
    print("\n== CPU per keystroke (VS Code style, keystrokes faster than the debounce) ==")
    rows = [("figure", "measured", "target", "verdict")]
    for key in ("cpu_floor", "cpu_small", "cpu_big"):
        r = res[key]
        label = f"{r['lines']} lines ({r['chars'] / 1e6:.1f} M chars)"
        if r["blocked"]:
            label += ", blocked .env: no context"
        rows.append((f"ms/key, {label}",
                     f"{r['ms_per_key_stat']:.2f} ms (stat), {r['ms_per_key_schedstat']:.2f} "
                     f"ms (schedstat), {r['keystrokes']} keys",
                     "≤ 2 ms" if key == "cpu_big" else "",
                     verdict(r["ms_per_key_stat"], 2.0) if key == "cpu_big" else ""))
        rows.append(("  the pause's model call, CPU",
                     f"{r['pause_cpu_ms_stat']:.1f} ms (stat), "
                     f"{r['pause_cpu_ms_schedstat']:.1f} ms (schedstat); "
                     f"prepare {r['pause_timings'].get('prepare_ms', float('nan')):.1f} ms, "
                     f"{r['prompt_tokens']} prompt tokens", "", ""))
        rows.append(("  didOpen round trip", f"{r['open_ms']:.1f} ms", "", ""))
        expected = 0 if r["blocked"] else 1
        rows.append(("  model calls in window", str(r["model_calls"]),
                     f"{expected} (the pause)", "ok" if r["model_calls"] == expected else "check"))
        rows.append(("  idle CPU", f"{r['idle_ms_per_s']:.2f} ms/s", "", ""))
    print_table(rows)
    m = res["memory"]
    print(f"\n== RSS with {m['docs']} open documents ({m['total_lines']} lines, "
          f"{m['total_chars'] / 1e6:.1f} M chars) ==")
    print_table([
        ("figure", "measured", "target", "verdict"),
        ("RSS after initialize", f"{m['rss_after_initialize_mb']:.1f} MB", "", ""),
        ("RSS after first completion", f"{m['rss_after_first_completion_mb']:.1f} MB", "",
         "(openai imported)"),
        (f"RSS with {m['docs']} documents", f"{m['rss_after_open_mb']:.1f} MB", "", ""),
        ("  + a completion among them", f"{m['rss_after_completion_mb']:.1f} MB", "≤ 120 MB",
         verdict(m["rss_after_completion_mb"], 120.0)),
        ("  peak (VmHWM)", f"{m['hwm_mb']:.1f} MB", "", ""),
        ("  that completion's prepare", f"{m['completion_timings'].get('prepare_ms', 0):.1f} ms",
         "", ""),
        ("  next completion's prepare",
         f"{m['second_completion_timings'].get('prepare_ms', 0):.1f} ms", "", ""),
    ])


PARTS_SCRIPT = r"""
import json, sys
def mb():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line[:5]] = int(line.split()[1]) / 1024
    return out
rows = [("interpreter", mb())]
import lsprotocol.types, pygls.lsp.server
rows.append(("pygls + lsprotocol", mb()))
from lsp_server.app import create_server
server = create_server()
rows.append(("server modules + DevstralServer()", mb()))
if sys.argv[1:] == ["plain"]:
    import openai
    rows.append(("import openai (plain)", mb()))
else:
    from lsp_server.model.sdk import load_openai
    openai = load_openai()  # as the server imports it: only the parts used (model/sdk.py)
    rows.append(("import openai (model/sdk.py)", mb()))
client = openai.AsyncOpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1", max_retries=0)
client.chat.completions
rows.append(("AsyncOpenAI client + chat resources", mb()))
from lsp_server.context import tokens
tokens.count_tokens("def f(x):\n    return x\n")
rows.append(("Tekken vocabulary (first count)", mb()))
from lsp_server.context.symbols import SymbolIndex
rows.append(("tree-sitter symbol index module", mb()))
print(json.dumps(rows))
"""


def parts_rss(plain_openai: bool = False) -> list[tuple[str, dict[str, float]]]:
    """RSS after each part is loaded, in a fresh interpreter (the order the server loads);
    with `plain_openai`, a plain `import openai` instead of `model/sdk.py`'s (the before)."""
    import json
    import subprocess

    argv = [sys.executable, "-c", PARTS_SCRIPT, *(["plain"] if plain_openai else [])]
    out = subprocess.run(argv, capture_output=True, text=True,
                         check=True, env=server_env(None), cwd=str(REPO))
    return [(name, vals) for name, vals in json.loads(out.stdout)]


def report_parts(rows: list[tuple[str, dict[str, float]]]) -> None:
    print("\n== what each part costs (fresh interpreter, loaded in the server's order) ==")
    table = [("part", "RSS after", "+RSS", "peak (VmHWM)")]
    prev = 0.0
    for name, vals in rows:
        table.append((name, f"{vals['VmRSS']:.1f} MB", f"+{vals['VmRSS'] - prev:.1f} MB",
                      f"{vals['VmHWM']:.1f} MB"))
        prev = vals["VmRSS"]
    print_table(table)


TRACE_PHASES = ("initialize answered", "server built", "warm-up done (openai, Tekken)",
                "document opened", "first completion", "burst 1", "burst 2", "burst 3",
                "burst 4")


async def trace_phases() -> list[tuple[str, float, float]]:
    """(phase, VmRSS, VmHWM) along `bench_vs_tabby.py`'s trace (flat profile), devstral only."""
    import tempfile

    from bench import bench_vs_tabby as vs

    profile = vs.PROFILES["flat"]

    def reply(req: Any) -> Reply:
        return Reply.text(vs.model_answer(vs.devstral_line_before(req)), ttft=profile.ttft_s,
                          tokens_per_s=profile.tokens_per_s)

    out: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="devstral-trace-") as tmp, \
            FakeBackend(models=["devstral-small-latest"]) as backend:
        backend.default = reply
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "trace.py").write_text(python_source(600))
        lsp = await LspClient.spawn(server_env(backend.base_url, DEVSTRAL_SPECULATE="auto"))

        def note(phase: str) -> None:
            out.append((phase, rss_mb(lsp.pid), rss_mb(lsp.pid, "VmHWM")))

        try:
            await lsp.initialize("vscode-inline", root=root)
            note(TRACE_PHASES[0])
            await lsp.stats()  # answered by pygls: the server is built
            note(TRACE_PHASES[1])
            while not (await lsp.stats()).get("warm"):
                await asyncio.sleep(0.1)
            note(TRACE_PHASES[2])
            path = root / "trace.py"
            text = path.read_text()
            lsp.did_open(path.as_uri(), text)
            await lsp.stats()
            note(TRACE_PHASES[3])
            lines = text.split("\n")
            start = lines.index("    return scaled", len(lines) // 2)
            ed = vs.Editor(lsp, vs.Server("devstral-lsp", "devstral"), path.as_uri(), start,
                           len(lines[start]))
            first = ed.request()
            await lsp.flush()
            await asyncio.wait_for(first.future, 60)
            await asyncio.sleep(vs.READ_PAUSE)
            note(TRACE_PHASES[4])
            for n, burst in enumerate(vs.trace(), 1):
                t0 = time.monotonic()
                last = None
                for i, k in enumerate(burst.keys):
                    await asyncio.sleep(max(0.0, t0 + i * vs.INTERVAL - time.monotonic()))
                    last = await ed.key(k)
                assert last is not None
                await asyncio.wait_for(last.future, 30)
                await asyncio.sleep(vs.READ_PAUSE)
                note(f"burst {n}")
        finally:
            await lsp.close()
    return out


def report_trace(runs: list[list[tuple[str, float, float]]]) -> None:
    import statistics

    print("\n== RSS along the side-by-side trace (devstral-lsp, flat profile; medians over "
          f"{len(runs)} runs) ==")
    table = [("after", "VmRSS", "+RSS", "VmHWM")]
    prev = 0.0
    for i, (phase, _rss, _hwm) in enumerate(runs[0]):
        rss = statistics.median(r[i][1] for r in runs)
        hwm = statistics.median(r[i][2] for r in runs)
        table.append((phase, f"{rss:.1f} MB", f"{rss - prev:+.1f} MB", f"{hwm:.1f} MB"))
        prev = rss
    print_table(table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=100_000, help="lines of the big file")
    ap.add_argument("--small-lines", type=int, default=1000, help="lines of the small file")
    ap.add_argument("--keys", type=int, default=300, help="keystrokes per file")
    ap.add_argument("--interval", type=float, default=0.04, help="seconds between keystrokes")
    ap.add_argument("--docs", type=int, default=200, help="open documents for the RSS figure")
    ap.add_argument("--profile", type=Path, help="run the big-file server under cProfile")
    ap.add_argument("--parts", action="store_true", help="only the per-part RSS breakdown")
    ap.add_argument("--trace", action="store_true",
                    help="only the RSS per phase of bench_vs_tabby.py's trace")
    ap.add_argument("--reps", type=int, default=3, help="with --trace: runs")
    ap.add_argument("--plain-openai", action="store_true",
                    help="with --parts: a plain `import openai` (every API type) for comparison")
    args = ap.parse_args(argv)
    if args.parts:
        report_parts(parts_rss(args.plain_openai))
        return 0
    if args.trace:
        report_trace([asyncio.run(trace_phases()) for _ in range(args.reps)])
        return 0
    t0 = time.monotonic()
    res = asyncio.run(run(lines=args.lines, small_lines=args.small_lines, keys=args.keys,
                          interval=args.interval, docs=args.docs, profile=args.profile))
    report(res)
    if args.profile:
        import pstats

        print(f"\nprofile of the big-file server: {args.profile}")
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)
    print(f"\n(total {time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
