"""Next-edit suggestions: corpus pass rate, latency from the pause to the shown edit, tokens.

Run: ``python bench/bench_next_edit.py [--ttft 0.15] [--tps 100] [--rounds 1] [--json out.json]``

The real server (`python -m lsp_server`) is driven over stdio by `bench/common.py`'s client
against the fake backend on loopback. Every scenario of the corpus (`tests/helpers/nes_corpus`:
5 kinds of edit x Python/TypeScript/Go/Rust) is played in every reply style (exact rewrite,
echoed markers, fenced, drifted indentation, unrelated changes), as an editor plugin does it:
didOpen, the user's edit as didChange, then — at the pause — an automatic `devstral/nextEdit`.

* pass rate: the returned edits, applied, give exactly the intended file;
* latency: request sent (the plugin's pause timer fired) → result received, twice: with an
  instant backend (the server's own cost: context, prompt, parse, diff) and with a backend
  paced like a model (`--ttft` seconds to the first token, then `--tps` tokens/s for the
  rewritten region); the plugins add their pause (500 ms by default) before the request;
* tokens per suggestion: prompt and answer, counted with Tekken (Devstral's tokenizer), and
  what they would cost at Mistral Small 4's price ($0.15 / $0.60 per million in / out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsprotocol import types

from bench.common import LspClient, fmt_ms, print_table, server_env, summary
from lsp_server.context.tokens import count_tokens
from lsp_server.textdiff import apply_text_edits
from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.helpers.nes_corpus import SCENARIOS, STYLES, Scenario, marked_region, styled

PRICE_IN, PRICE_OUT = 0.15, 0.60  # USD per million tokens, Mistral Small 4


def _position(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def _edits(result: dict[str, Any]) -> list[types.TextEdit]:
    out = []
    for e in result["edits"]:
        s, en = e["range"]["start"], e["range"]["end"]
        out.append(types.TextEdit(
            range=types.Range(start=types.Position(**s), end=types.Position(**en)),
            new_text=e["newText"]))
    return out


async def run(ttft: float, tps: float | None, rounds: int) -> dict[str, Any]:
    latencies: list[float] = []
    model_ms: list[float] = []
    tokens_in: list[int] = []
    tokens_out: list[int] = []
    passed = failed = 0
    failures: list[str] = []
    with FakeBackend(models=["devstral-small-latest"]) as fb:
        client = await LspClient.spawn(server_env(fb.base_url))
        try:
            _, init = await client.initialize("neovim-0.11.4")
            encoding = init["capabilities"].get("positionEncoding", "utf-16")
            n = 0
            for r in range(rounds):
                for sc in SCENARIOS:
                    for style in STYLES:
                        n += 1
                        ok, ms, rec = await _one(client, fb, sc, style, encoding, n, r, ttft, tps)
                        if ok:
                            passed += 1
                        else:
                            failed += 1
                            failures.append(f"{sc.name}/{style}")
                        latencies.append(ms)
                        if rec is not None and rec.t_finished is not None:
                            model_ms.append((rec.t_finished - rec.t_received) * 1000)
                            prompt = "\n".join(str(m["content"]) for m in rec.messages)
                            tokens_in.append(count_tokens(prompt))
                            reply = rec.reply.content if rec.reply is not None else ""
                            tokens_out.append(count_tokens(reply))
            stats = await client.stats()
        finally:
            await client.close()
    total = passed + failed
    mean_in = statistics.mean(tokens_in) if tokens_in else 0.0
    mean_out = statistics.mean(tokens_out) if tokens_out else 0.0
    return {
        "ttft": ttft, "tps": tps, "cases": total, "passed": passed,
        "pass_rate": passed / total if total else 0.0, "failures": failures,
        "latency_ms": summary(latencies),
        "model_ms": summary(model_ms),
        "overhead_ms": summary([max(0.0, lat - m) for lat, m in zip(latencies, model_ms,
                                                                    strict=False)]),
        "tokens_in": {"mean": mean_in, "max": max(tokens_in, default=0)},
        "tokens_out": {"mean": mean_out, "max": max(tokens_out, default=0)},
        "usd_per_suggestion": (mean_in * PRICE_IN + mean_out * PRICE_OUT) / 1_000_000,
        "server_stats": stats.get("nextEdit", {}),
    }


async def _one(client: LspClient, fb: FakeBackend, sc: Scenario, style: str, encoding: str,
               n: int, round_: int, ttft: float, tps: float | None
               ) -> tuple[bool, float, RecordedRequest | None]:
    uri = f"file:///tmp/devstral-bench/nes/{round_}/{n}-{sc.name}.{sc.ext}"
    client.did_open(uri, sc.before, sc.language)
    start = _position(sc.before, sc.edit_start)
    end = _position(sc.before, sc.edit_start + len(sc.old))
    client.did_change(uri, 2, start["line"], start["character"], sc.new,
                      end=(end["line"], end["character"]))

    def reply(req: RecordedRequest) -> Reply:
        return Reply.text(styled(sc, style, marked_region(str(req.messages[-1]["content"]))),
                          ttft=ttft, tokens_per_s=tps)

    fb.enqueue(reply)
    before = len(fb.completion_requests)
    pending = client.request("devstral/nextEdit", {
        "textDocument": {"uri": uri, "version": 2},
        "position": _position(sc.edited, sc.cursor),
        "context": {"triggerKind": 2},
    })
    await client.flush()
    msg = await asyncio.wait_for(pending.future, 60)
    ms = pending.elapsed_ms
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    result = msg.get("result")
    requests = fb.completion_requests[before:]
    rec = requests[-1] if requests else None
    if rec is not None:
        await rec.wait_done_async(10)
    ok = bool(result) and apply_text_edits(sc.edited, _edits(result), encoding) == sc.final
    return ok, ms, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ttft", type=float, default=0.15)
    ap.add_argument("--tps", type=float, default=100.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    started = time.monotonic()
    instant = asyncio.run(run(0.0, None, args.rounds))
    paced = asyncio.run(run(args.ttft, args.tps, args.rounds))
    rows = [
        ("corpus pass rate", f"{instant['passed']}/{instant['cases']} "
         f"({instant['pass_rate']:.0%})", "100%", "ok" if instant["pass_rate"] == 1 else "MISS"),
        ("pause → shown, instant backend", fmt_ms(instant["latency_ms"]), "", ""),
        ("  of which server overhead", fmt_ms(instant["overhead_ms"]), "", ""),
        (f"pause → shown, backend {args.ttft:.2f} s + {args.tps:.0f} tok/s",
         fmt_ms(paced["latency_ms"]), "", ""),
        ("  of which the model", fmt_ms(paced["model_ms"]), "", ""),
        ("  of which server overhead", fmt_ms(paced["overhead_ms"]), "", ""),
        ("tokens in per suggestion (Tekken)",
         f"mean {instant['tokens_in']['mean']:.0f}, max {instant['tokens_in']['max']}", "", ""),
        ("tokens out per suggestion (Tekken)",
         f"mean {instant['tokens_out']['mean']:.0f}, max {instant['tokens_out']['max']}", "", ""),
        ("USD per suggestion at $0.15/$0.60 per M", f"{instant['usd_per_suggestion']:.6f}", "",
         ""),
    ]
    print_table(rows)
    if instant["failures"]:
        print("failures:", ", ".join(instant["failures"]))
    print(f"({time.monotonic() - started:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps({"instant": instant, "paced": paced}, indent=1))


if __name__ == "__main__":
    main()
