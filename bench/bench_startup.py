"""Spawn → initialize reply of the real server over stdio, and what the time is spent on.

Run: ``python bench/bench_startup.py [--runs 10] [--importtime]``

Each run spawns `python -m lsp_server`, sends `initialize` at once (an editor writes it right
after spawning) and stamps the reply. For context the same is measured for a bare
interpreter (`python -c pass`) and for importing pygls + lsprotocol, the floor any pygls
server pays. `--importtime` prints the slowest imports on the path to the reply
(`python -X importtime`), and whether `openai` is among them (it must not be).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, LspClient, print_table, server_env, summary, verdict
from tests.fake_backend import FakeBackend

FLOOR_SNIPPETS = {
    "python -c pass": "pass",
    "import pygls.lsp.server + lsprotocol": "import pygls.lsp.server, lsprotocol.types",
}


def process_time(code: str, env: dict[str, str]) -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=str(REPO), check=True)
    return (time.monotonic() - t0) * 1000


async def spawn_to_initialize(base_url: str, runs: int, client: str) -> list[float]:
    out: list[float] = []
    for _ in range(runs):
        lsp = await LspClient.spawn(server_env(base_url))
        try:
            elapsed, _result = await lsp.initialize(client)
            out.append(elapsed * 1000)
        finally:
            await lsp.close()
    return out


async def import_profile(base_url: str) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the imports done until the initialize reply."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "importtime.txt"
        lsp = await LspClient.spawn(
            server_env(base_url),
            argv=[sys.executable, "-X", "importtime", "-m", "lsp_server"], stderr=log)
        try:
            await lsp.initialize("vscode-inline")
        finally:
            lsp.proc.kill()
            await lsp.proc.wait()
        rows: list[tuple[int, str]] = []
        for line in log.read_text(errors="replace").splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if m and len(m.group(3)) <= 3:  # top-level imports only
                rows.append((int(m.group(2)), m.group(4)))
        return sorted(rows, reverse=True)


async def run(runs: int, importtime: bool) -> dict[str, Any]:
    env = server_env(None)
    floors = {name: summary([process_time(code, env) for _ in range(max(3, runs // 2))])
              for name, code in FLOOR_SNIPPETS.items()}
    with FakeBackend(models=["devstral-small-latest"]) as fb:
        vscode = summary(await spawn_to_initialize(fb.base_url, runs, "vscode-inline"))
        nvim = summary(await spawn_to_initialize(fb.base_url, max(3, runs // 2),
                                                 "neovim-0.11.4"))
        imports = await import_profile(fb.base_url) if importtime else []
    return {"spawn_to_initialize_ms": vscode, "spawn_to_initialize_nvim_ms": nvim,
            "floors_ms": floors, "imports": imports[:15],
            "openai_before_reply": any(name.startswith("openai") for _, name in imports)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="server spawns")
    ap.add_argument("--importtime", action="store_true", help="show the slowest imports")
    args = ap.parse_args(argv)
    res = asyncio.run(run(args.runs, args.importtime))
    s = res["spawn_to_initialize_ms"]
    n = res["spawn_to_initialize_nvim_ms"]
    print("\n== spawn → initialize reply ==")
    rows = [("figure", "measured", "target", "verdict"),
            ("spawn → initialize (VS Code caps)",
             f"p50 {s['p50']:.0f} ms  max {s['max']:.0f} ms (n={int(s['n'])})", "≤ 300 ms",
             verdict(s["p50"], 300.0)),
            ("spawn → initialize (Neovim 0.11 caps)",
             f"p50 {n['p50']:.0f} ms  max {n['max']:.0f} ms (n={int(n['n'])})", "≤ 300 ms",
             verdict(n["p50"], 300.0))]
    for name, f in res["floors_ms"].items():
        rows.append((f"  floor: {name}", f"p50 {f['p50']:.0f} ms", "", ""))
    print_table(rows)
    if args.importtime:
        print("\nslowest top-level imports before the reply (cumulative):")
        for us, name in res["imports"]:
            print(f"  {us / 1000:7.1f} ms  {name}")
        print(f"openai imported before the reply: {res['openai_before_reply']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
