"""Tokens and USD per 100 completions over the latency trace, with and without prompt caching.

Run: ``python bench/bench_cost.py [--pauses 20] [--json out.json]``

The typing trace of `bench_latency.py` (VS Code style) runs twice against the fake backend,
with the server configured for Mistral (`mistral-small-latest`, $0.15 / $0.015 cached /
$0.60 per million tokens) so every request carries `prompt_cache_key`:

* caching: the fake answers like Mistral's prompt cache (the prefix shared with the previous
  request under the same key is reported as `prompt_tokens_details.cached_tokens`, 64 at a
  time);
* no caching: the same fake reports no cached tokens (an endpoint without a prompt cache).

Figures come from the server's own meter (`devstral/usage` totals persisted in a temporary
state file), so they are what a user would see. The model's answer is one line without a
line break: the stream then ends by itself and carries its usage chunk. (A stream the server
stops early never receives the usage chunk; such calls are counted with Tekken and marked
`estimated`, with no cached tokens — see the `estimated` column.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_latency import SUGGESTION_HEAD, Options, typing_variant
from bench.common import print_table
from lsp_server.usage.store import UsageStore
from tests.fake_backend import FakeBackend, Reply

MODEL = "mistral-small-latest"


async def one_run(opts: Options, profile: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state, FakeBackend(models=[MODEL],
                                                             usage_profile=profile) as fb:
        env = {"DEVSTRAL_PROVIDER": "mistral", "DEVSTRAL_MODEL": MODEL,
               "XDG_STATE_HOME": state}
        reply = Reply.text(SUGGESTION_HEAD, ttft=opts.ttft, tokens_per_s=opts.tps)
        await typing_variant(fb, opts, "vscode", reply=reply, env=env)
        days = UsageStore(Path(state) / "devstral-lsp").days()
        keys = {r.body.get("prompt_cache_key") for r in fb.completion_requests}
    [totals] = days.values()
    c = totals.by_feature["completion"]
    per = 100 / c.requests if c.requests else float("nan")
    return {"profile": profile, "requests": c.requests, "cache_keys": len(keys),
            "tokens_in_per_100": c.tokens_in * per, "cached_per_100": c.tokens_cached * per,
            "tokens_out_per_100": c.tokens_out * per, "usd_per_100": c.usd * per,
            "cached_share": c.tokens_cached / c.tokens_in if c.tokens_in else 0.0,
            "estimated": c.estimated, "raw": totals.to_wire()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pauses", type=int, default=20, help="typing pauses per run")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    opts = Options(pauses=args.pauses, variants=("vscode",))
    t0 = time.monotonic()
    runs = [asyncio.run(one_run(opts, "mistral")), asyncio.run(one_run(opts, "openai"))]
    rows: list[tuple[str, str, str, str]] = [("per 100 completions (model calls)", "caching",
                                              "no caching", "")]
    for label, key, fmt in (("model calls in the trace", "requests", "{:.0f}"),
                            ("input tokens", "tokens_in_per_100", "{:.0f}"),
                            ("  of which cached", "cached_per_100", "{:.0f}"),
                            ("output tokens", "tokens_out_per_100", "{:.0f}"),
                            ("USD (mistral-small-latest)", "usd_per_100", "${:.5f}"),
                            ("cached share of input", "cached_share", "{:.0%}"),
                            ("estimated figures", "estimated", "{}")):
        rows.append((label, fmt.format(runs[0][key]), fmt.format(runs[1][key]), ""))
    print_table(rows)
    saving = 1 - runs[0]["usd_per_100"] / runs[1]["usd_per_100"]
    print(f"\nprompt caching saves {saving:.0%} of the completion cost "
          f"(total {time.monotonic() - t0:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
