"""Smoke test of the benchmark machinery (bench/): a tiny trace through the real server.

Checks the structure of what the scripts produce, never timing targets: those depend on the
machine and belong in bench/RESULTS.md, not in a test.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from bench import bench_latency, bench_memory, bench_startup, bench_vs_tabby
from bench.common import percentile, summary
from tests.fake_backend import FakeBackend

SUMMARY_KEYS = {"n", "p50", "p99", "max", "mean"}


def _is_summary(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == SUMMARY_KEYS


def test_summary_and_percentile() -> None:
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    s = summary([1.0, 2.0, 3.0])
    assert s["n"] == 3 and s["p50"] == 2.0 and s["max"] == 3.0
    assert math.isnan(summary([])["p50"])


def test_latency_bench_tiny_trace(capsys: pytest.CaptureFixture[str]) -> None:
    opts = bench_latency.Options(pauses=1, burst=3, along=2, cancels=1, ttft=0.01, tps=2000.0,
                                 file_lines=120, quiet=0.05, variants=("vscode",))
    results = asyncio.run(bench_latency.run(opts))
    out = capsys.readouterr().out
    assert "typing trace, vscode style" in out and "cancel → backend" in out

    figures = results["typing"]["vscode"]["figures"]
    assert figures["pauses"] == 1 and figures["keystrokes"] == 3
    for key in ("model_calls_per_pause", "e2e_ms", "overhead_ms", "typed_through_ms",
                "prompt_tokens", "debounce_ms", "model_ms"):
        assert _is_summary(figures[key]), key
    assert figures["model_calls_per_pause"]["n"] == 1
    assert figures["prompt_tokens"]["p50"] > 0
    assert isinstance(figures["wasted_calls"], int)
    [cycle] = results["typing"]["vscode"]["raw"]["cycles"]
    assert cycle["backend_requests"] >= 1 and cycle["suggestion"]
    assert {"model_ms", "debounce_ms", "overhead_ms"} <= set(cycle["server_timings"])

    cancel = results["cancel"]
    for phase in ("mid_stream", "before_first_token", "supersede_no_cancel"):
        assert _is_summary(cancel[phase]["disconnect_ms"]), phase
    assert cancel["mid_stream"]["disconnect_ms"]["n"] + cancel["mid_stream"]["not_closed"] == 1


def test_memory_and_startup_bench_tiny() -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any], list[float]]:
        with FakeBackend(models=["devstral-small-latest"], default=bench_memory.REPLY) as fb:
            cpu = await bench_memory.keystroke_cpu(fb, 200, 4, 0.02, idle_s=0.05,
                                                  settle_s=0.05, warm=False)
            mem = await bench_memory.open_documents_rss(fb, 3, settle_s=0.05)
            spawn = await bench_startup.spawn_to_initialize(fb.base_url, 1, "vscode-inline")
        return cpu, mem, spawn

    cpu, mem, spawn = asyncio.run(go())
    assert cpu["keystrokes"] == 4 and cpu["lines"] == 200
    assert isinstance(cpu["ms_per_key_stat"], float) and isinstance(cpu["model_calls"], int)
    assert mem["open_documents"] == 3
    assert 0 < mem["rss_after_initialize_mb"] <= mem["hwm_mb"]
    assert len(spawn) == 1 and spawn[0] > 0


def test_side_by_side_bench_runs_devstral_alone(capsys: pytest.CaptureFixture[str]) -> None:
    # tabby-agent comes from npm and is not installed in CI: the devstral half of the script.
    assert bench_vs_tabby.main(["--reps", "1", "--profiles", "flat", "--no-tabby"]) == 0
    out = capsys.readouterr().out
    assert "== profile flat ==" in out and "devstral-lsp" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("devstral-lsp "))
    assert " ms " in row and " MB " in row


def test_side_by_side_trace_and_model() -> None:
    bursts = bench_vs_tabby.trace()
    assert len(bursts) == 4 and [b.along for b in bursts] == [False, False, True, False]
    # The fake model continues the line the user types, and guesses `pass` on an empty one.
    assert bench_vs_tabby.model_answer("    ") == "pass"
    assert bench_vs_tabby.model_answer("    r1 = ").startswith("compute_1(alpha, beta)")
    assert bench_vs_tabby.model_answer("    r1 = compu").startswith("te_1(")
    flat, real = bench_vs_tabby.PROFILES["flat"], bench_vs_tabby.PROFILES["realistic"]
    assert flat.answer_s(5000, "x" * 40) == 0.2
    assert real.answer_s(0, "x" * 4) == 0.15 and real.answer_s(1000, "x" * 8) > 0.17
