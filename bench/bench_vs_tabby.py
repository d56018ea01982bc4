"""devstral-lsp against tabby-agent 1.5.0, side by side, on one typing trace and one model.

Run: ``python bench/bench_vs_tabby.py [--reps 5] [--profiles flat,realistic]
[--tabby-modes fixed,adaptive] [--json out.json]``

tabby-agent comes from npm and is not part of this repository; install it once outside it:
``npm install --prefix ~/.cache/devstral-bench tabby-agent@1.5.0`` (or point ``--tabby-js``
/ ``$TABBY_AGENT_JS`` at its ``dist/cli.js``). It runs as ``node cli.js --lsp --stdio`` with
``HOME`` in a temporary folder holding its ``~/.tabby-client/agent/config.toml`` (endpoint =
the fake Tabby server of `bench/fake_tabby.py`, debounce mode, anonymous usage tracking off),
so nothing leaves loopback. devstral-lsp runs as ``python -m lsp_server`` against
`tests/fake_backend`.

Both fakes answer the same text after the same model time:

* ``flat``: the whole answer 200 ms after the request;
* ``realistic``: first token after 150 ms + 0.02 ms per prompt token (prefill), then 60
  tokens/s (4 characters per token), the whole answer for tabby (Tabby does not stream).

The trace (keys 80 ms apart, four bursts, each followed by a pause until the suggestion is
shown and then ~0.8 s of reading): bursts 1, 2 and 4 open a new line in a function of a
600-line Python file and type ``rN = ``; burst 3 types five characters along the suggestion
burst 2 showed. The model's answer is ``compute_N(alpha, beta) + offset`` plus a second line
once the line holds two typed characters (``pass`` before that), the rest of that line when the
user typed part of it. Each editor request is the server's own: devstral-lsp gets
``textDocument/inlineCompletion`` (VS Code capabilities), tabby-agent
``textDocument/completion`` (the only one it serves); both get ``$/cancelRequest`` for the
previous request, as VS Code sends.

Per server: result latency after the last key (the last request's reply with a non-empty
suggestion), model calls per burst (requests that reached the fake model, cancelled ones
included), prompt tokens per burst (4 characters per token on both sides), of which a
prefix-caching provider would report cached, and the billed-equivalent input tokens
(uncached + Mistral's cached price ratio × cached), spawn → `initialize` reply, peak RSS
(VmHWM).

Billing: both sides' prompts go through one cache model (`tests/fake_backend/prompt_cache.py`:
the longest prefix a recent prompt under the same key shared, in 64-token blocks, as Mistral
reports ``prompt_tokens_details.cached_tokens``). devstral-lsp's figures are what the fake
backend reported to it; tabby-agent's are its request's segments as a Tabby server in front of
Mistral's Codestral FIM endpoint renders them (``[SUFFIX]suffix[PREFIX]prefix``, then the
snippets). ``--provider openai`` (default) is a local OpenAI-compatible server, which bills
nothing (the billed column then says what the same prompts would cost on Mistral);
``--provider mistral`` sets devstral-lsp's Mistral preset (`mistral-small-latest`) on the
loopback fake, so its cost model treats the endpoint as paid. Servers run one after the
other within each repetition (order alternating), so both see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LspClient, Pending, python_source, rss_mb, server_env
from bench.fake_tabby import FakeTabby, prompt_text
from lsp_server.model.prompts import HOLE_MARKER
from lsp_server.usage.prices import price_for
from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.fake_backend.prompt_cache import PromptCache, billed_equivalent

DEFAULT_TABBY_JS = Path.home() / ".cache/devstral-bench/node_modules/tabby-agent/dist/cli.js"
INTERVAL = 0.08
READ_PAUSE = 0.8
CHARS_PER_TOKEN = 4
SPECULATE = ["auto"]  # devstral-lsp's DEVSTRAL_SPECULATE (--speculate)
PROVIDER = ["openai"]  # devstral-lsp's preset (--provider)
CONTEXT_TOKENS: list[int | None] = [None]  # devstral-lsp's contextTokens setting (--context-tokens)
PROMPT_LAYOUT = ["file"]  # devstral-lsp's promptLayout setting (--prompt-layout)
PAID_MODEL = ["mistral-small-latest"]
"""The Mistral preset's model for completions (--paid-model): Mistral Small by chat (the
figures recorded before), or Codestral, the preset's own completion model, by FIM."""
_MISTRAL = price_for("mistral", PAID_MODEL[0])[0]
CACHED_RATIO = _MISTRAL.cached_input / _MISTRAL.input
"""What a cached input token costs relative to an uncached one (0.1 on Mistral)."""
COUNTERS = ("model_calls", "model_calls_cancelled", "speculative_starts", "inflight_joins",
            "typed_hits", "cache_hits", "superseded")


# ----- the model: same answer, same timing, for both fakes ----------------------------------
@dataclass(frozen=True)
class Profile:
    name: str
    ttft_s: float
    prefill_s_per_token: float
    tokens_per_s: float | None

    def answer_s(self, prompt_tokens: int, answer: str) -> float:
        """Seconds until the whole answer (what a non-streaming server waits)."""
        first = self.ttft_s + self.prefill_s_per_token * prompt_tokens
        if not self.tokens_per_s:
            return first
        pieces = math.ceil(len(answer) / CHARS_PER_TOKEN)
        return first + max(0, pieces - 1) / self.tokens_per_s


PROFILES = {
    "flat": Profile("flat", 0.200, 0.0, None),
    "realistic": Profile("realistic", 0.150, 0.02e-3, 60.0),
}


def target_line(n: int) -> str:
    return f"    r{n} = compute_{n}(alpha, beta) + offset"


def second_line(n: int) -> str:
    return f"\n    s{n} = r{n} * 2"


def model_answer(line_before: str) -> str:
    """What the fake model predicts after `line_before` (the cursor line up to the cursor)."""
    typed = line_before.strip()
    if len(typed) >= 2:
        for n in range(4):
            line = target_line(n)
            if line.startswith(line_before) and len(line) > len(line_before):
                return line[len(line_before):] + second_line(n)
    return "pass"


def devstral_line_before(req: RecordedRequest) -> str:
    for msg in reversed(req.messages):
        content = msg.get("content")
        if isinstance(content, str) and HOLE_MARKER in content:
            return content.split(HOLE_MARKER, 1)[0].rsplit("\n", 1)[-1]
    prompt = req.prompt
    return prompt.rsplit("\n", 1)[-1] if isinstance(prompt, str) else ""


def tabby_cache_text(body: dict[str, Any]) -> str:
    """A Tabby request as Codestral's FIM template reads it: suffix first, then the prefix."""
    seg = body.get("segments") or {}
    rest = prompt_text(body)[len(str(seg.get("prefix") or "")) + len(str(seg.get("suffix")
                                                                         or "")):]
    return f"[SUFFIX]{seg.get('suffix') or ''}[PREFIX]{seg.get('prefix') or ''}{rest}"


def devstral_prompt_tokens(req: RecordedRequest) -> int:
    chars = sum(len(m["content"]) for m in req.messages if isinstance(m.get("content"), str))
    if isinstance(req.prompt, str):
        chars += len(req.prompt) + len(req.suffix or "")
    return math.ceil(chars / CHARS_PER_TOKEN)


# ----- the trace -----------------------------------------------------------------------------
@dataclass
class Burst:
    keys: list[str]
    expect: str  # the suggestion the pause should show (its start)
    along: bool = False


def trace() -> list[Burst]:
    """Four bursts; the third types along what the second one showed."""
    out = []
    for n, along in ((0, False), (1, False), (1, True), (3, False)):
        if along:
            rest = target_line(n)[len(f"    r{n} = "):]
            out.append(Burst(list(rest[:5]), rest[5:], along=True))
        else:
            word = f"r{n} = "
            out.append(Burst(["\n    ", *word], target_line(n)[len("    " + word):]))
    return out


@dataclass
class Server:
    """How to start one of the servers under comparison and talk to it."""

    name: str
    kind: str  # "devstral" or "tabby"
    tabby_mode: str = ""
    home: Path | None = None

    def method(self) -> str:
        return ("textDocument/inlineCompletion" if self.kind == "devstral"
                else "textDocument/completion")


@dataclass
class Run:
    server: str
    init_ms: float
    peak_rss_mb: float
    latencies_ms: list[float] = field(default_factory=list)
    along_ms: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    cached: list[int] = field(default_factory=list)
    billed: list[float] = field(default_factory=list)
    wrong: int = 0
    counters: dict[str, int] = field(default_factory=dict)  # devstral's, over the bursts


def suggestion_of(msg: dict[str, Any], kind: str) -> str | None:
    result = msg.get("result")
    if kind == "devstral":
        items = result.get("items") if isinstance(result, dict) else None
        text = items[0].get("insertText") if items else None
    else:
        items = result.get("items") if isinstance(result, dict) else result
        text = None
        if items:
            edit = items[0].get("textEdit") or {}
            text = edit.get("newText") or items[0].get("insertText") or items[0].get("label")
    return text if isinstance(text, str) and text.strip() else None


class Editor:
    """Types into one document: didChange + the server's completion request per key."""

    def __init__(self, lsp: LspClient, server: Server, uri: str, line: int, char: int) -> None:
        self.lsp, self.server, self.uri = lsp, server, uri
        self.line, self.char, self.version = line, char, 1
        self.last: Pending | None = None

    def request(self) -> Pending:
        params: dict[str, Any] = {"textDocument": {"uri": self.uri},
                                  "position": {"line": self.line, "character": self.char}}
        if self.server.kind == "devstral":
            params["context"] = {"triggerKind": 2}
        else:
            params["context"] = {"triggerKind": 1}
        return self.lsp.request(self.server.method(), params)

    async def key(self, text: str) -> Pending:
        if self.last is not None and not self.last.future.done():
            self.lsp.cancel(self.last.id)
        self.version += 1
        self.lsp.did_change(self.uri, self.version, self.line, self.char, text)
        if "\n" in text:
            self.line += text.count("\n")
            self.char = len(text.rsplit("\n", 1)[1])
        else:
            self.char += len(text)
        self.last = self.request()
        await self.lsp.flush()
        return self.last


async def one_run(server: Server, profile: Profile, backend: FakeBackend, tabby: FakeTabby,
                  root: Path) -> Run:
    # Each run starts with a cold provider cache (the repetitions type the same text).
    tabby_cache = PromptCache()
    backend.prompt_cache = PromptCache()
    t_start = len(tabby.requests)
    if server.kind == "devstral":
        paid = {"DEVSTRAL_PROVIDER": "mistral", "DEVSTRAL_MODEL": PAID_MODEL[0]} \
            if PROVIDER[0] == "mistral" else {}
        env = server_env(backend.base_url, DEVSTRAL_SPECULATE=SPECULATE[0], **paid)
        argv = None
        requests: Any = backend.completion_requests
    else:
        assert server.home is not None
        env = {"HOME": str(server.home), "PATH": os.environ.get("PATH", "")}
        argv = [shutil.which("node") or "node", str(server.home / "cli.js"), "--lsp", "--stdio"]
    settings: dict[str, Any] | None = None
    if server.kind == "devstral":
        settings = {"promptLayout": PROMPT_LAYOUT[0]}
        if CONTEXT_TOKENS[0] is not None:
            settings["contextTokens"] = CONTEXT_TOKENS[0]
    lsp = await LspClient.spawn(env, argv=argv, settings=settings)
    try:
        init_s, _ = await lsp.initialize("vscode-inline", root=root)
        path = root / "trace.py"
        uri = path.as_uri()
        text = path.read_text()
        lsp.did_open(uri, text)
        lines = text.split("\n")
        start = lines.index("    return scaled", len(lines) // 2)
        ed = Editor(lsp, server, uri, start, len(lines[start]))
        warm = ed.request()  # the first call pays imports and the connection: not measured
        await lsp.flush()
        await asyncio.wait_for(warm.future, 30)
        await asyncio.sleep(READ_PAUSE)
        run = Run(server.name, init_s * 1000, 0.0)
        before = await lsp.stats() if server.kind == "devstral" else {}
        for r in tabby.requests[t_start:]:  # the warm-up call fills the cache on both sides
            tabby_cache.hit("tabby", tabby_cache_text(r.body))
        for burst in trace():
            n0 = len(backend.completion_requests) if server.kind == "devstral" \
                else len(tabby.requests)
            t0 = time.monotonic()
            last: Pending | None = None
            for i, k in enumerate(burst.keys):
                await asyncio.sleep(max(0.0, t0 + i * INTERVAL - time.monotonic()))
                last = await ed.key(k)
            assert last is not None
            msg = await asyncio.wait_for(last.future, 30)
            got = suggestion_of(msg, server.kind)
            if got is None or burst.expect.split("\n")[0] not in got:
                run.wrong += 1
            (run.along_ms if burst.along else run.latencies_ms).append(last.elapsed_ms)
            await asyncio.sleep(READ_PAUSE)
            if server.kind == "devstral":
                requests = backend.completion_requests[n0:]
                run.calls.append(len(requests))
                usage = [(r.prompt_tokens if r.prompt_tokens is not None
                          else devstral_prompt_tokens(r), r.cached_tokens or 0)
                         for r in requests]
            else:
                treqs = tabby.requests[n0:]
                run.calls.append(len(treqs))
                usage = [(r.prompt_tokens, tabby_cache.hit("tabby", tabby_cache_text(r.body)))
                         for r in treqs]
            run.tokens.append(sum(p for p, _ in usage))
            run.cached.append(sum(c for _, c in usage))
            run.billed.append(sum(billed_equivalent(p, c, CACHED_RATIO) for p, c in usage))
        run.peak_rss_mb = rss_mb(lsp.pid, "VmHWM")
        if server.kind == "devstral":
            after = await lsp.stats()
            run.counters = {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in COUNTERS}
        return run
    finally:
        await lsp.close()


def tabby_home(base: Path, cli_js: Path, endpoint: str, mode: str) -> Path:
    home = base / f"tabby-{mode}"
    cfg = home / ".tabby-client" / "agent"
    cfg.mkdir(parents=True, exist_ok=True)
    interval = 100 if mode == "fixed" else 250
    (cfg / "config.toml").write_text(
        f'[server]\nendpoint = "{endpoint}"\n\n'
        f'[completion.debounce]\nmode = "{mode}"\ninterval = {interval}\n\n'
        '[logs]\nlevel = "silent"\n\n[anonymousUsageTracking]\ndisable = true\n')
    link = home / "cli.js"
    if not link.exists():
        link.symlink_to(cli_js)
    return home


async def run_profile(profile: Profile, reps: int, tabby_js: Path | None,
                      tabby_modes: list[str]) -> dict[str, list[Run]]:
    def devstral_reply(req: RecordedRequest) -> Reply:
        answer = model_answer(devstral_line_before(req))
        return Reply.text(answer, ttft=profile.ttft_s, tokens_per_s=profile.tokens_per_s,
                          prefill_s_per_token=profile.prefill_s_per_token)

    def tabby_delay(tokens: int, answer: str) -> float:
        return profile.answer_s(tokens, answer)

    out: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="devstral-vs-tabby-") as tmp, \
            FakeBackend(models=["devstral-small-latest", *PAID_MODEL],
                        usage_profile="mistral") as backend, \
            FakeTabby(lambda line, _prefix: model_answer(line), tabby_delay) as tabby:
        backend.default = devstral_reply
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "trace.py").write_text(python_source(600))
        servers = [Server("devstral-lsp", "devstral")]
        if tabby_js is not None:
            for mode in tabby_modes:
                home = tabby_home(Path(tmp), tabby_js, tabby.endpoint, mode)
                servers.append(Server(f"tabby-agent {mode}", "tabby", mode, home))
        for rep in range(reps):
            order = servers if rep % 2 == 0 else list(reversed(servers))
            for server in order:
                run = await one_run(server, profile, backend, tabby, root)
                out.setdefault(server.name, []).append(run)
                print(f"  [{profile.name} rep {rep + 1}/{reps}] {server.name:20s} "
                      f"latency {fmt_list(run.latencies_ms)} along {fmt_list(run.along_ms)} "
                      f"calls {run.calls} init {run.init_ms:.0f} ms "
                      f"rss {run.peak_rss_mb:.1f} MB wrong {run.wrong}", flush=True)
    return out


def fmt_list(values: list[float]) -> str:
    return "[" + " ".join(f"{v:.0f}" for v in values) + "]"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def summarize(runs: list[Run]) -> dict[str, Any]:
    lat = [v for r in runs for v in r.latencies_ms]
    along = [v for r in runs for v in r.along_ms]
    per_rep = [statistics.median(r.latencies_ms) for r in runs if r.latencies_ms]
    bursts = sum(len(r.calls) for r in runs)
    init = [r.init_ms for r in runs]
    rss = [r.peak_rss_mb for r in runs]
    counters = {k: sum(r.counters.get(k, 0) for r in runs) / bursts
                for k in COUNTERS} if any(r.counters for r in runs) else {}
    return {
        "counters_per_burst": counters,
        "latency_ms": {"p50": statistics.median(lat), "p90": pct(lat, 90),
                       "rep_medians_min": min(per_rep), "rep_medians_max": max(per_rep),
                       "n": len(lat)},
        "along_ms": {"p50": statistics.median(along) if along else float("nan"),
                     "n": len(along)},
        "calls_per_burst": sum(sum(r.calls) for r in runs) / bursts,
        "tokens_per_burst": sum(sum(r.tokens) for r in runs) / bursts,
        "cached_per_burst": sum(sum(r.cached) for r in runs) / bursts,
        "billed_per_burst": sum(sum(r.billed) for r in runs) / bursts,
        "init_ms": {"p50": statistics.median(init), "min": min(init), "max": max(init)},
        "peak_rss_mb": {"p50": statistics.median(rss), "min": min(rss), "max": max(rss)},
        "wrong": sum(r.wrong for r in runs),
        "reps": len(runs),
    }


def report(profile: str, res: dict[str, dict[str, Any]]) -> None:
    print(f"\n== profile {profile} ==")
    head = f"  {'server':20s} {'latency p50 / p90 (rep medians)':38s} {'along p50':>9s} " \
           f"{'calls/burst':>11s} {'tokens/burst':>12s} {'cached':>7s} {'billed':>7s} " \
           f"{'init p50 (min-max)':>20s} " \
           f"{'peak RSS p50 (min-max)':>24s} wrong"
    print(head)
    for name, s in res.items():
        lat, ini, rss = s["latency_ms"], s["init_ms"], s["peak_rss_mb"]
        print(f"  {name:20s} {lat['p50']:5.0f} / {lat['p90']:5.0f} ms "
              f"({lat['rep_medians_min']:.0f}-{lat['rep_medians_max']:.0f}, n={lat['n']})"
              f"{'':6s} {s['along_ms']['p50']:7.0f} ms {s['calls_per_burst']:11.2f} "
              f"{s['tokens_per_burst']:12.0f} {s['cached_per_burst']:7.0f} "
              f"{s['billed_per_burst']:7.0f} {ini['p50']:8.0f} ms ({ini['min']:.0f}-"
              f"{ini['max']:.0f}) {rss['p50']:10.1f} MB ({rss['min']:.1f}-{rss['max']:.1f})"
              f" {s['wrong']}")
    ours, ref = res.get("devstral-lsp"), res.get("tabby-agent fixed")
    if ours and ours["counters_per_burst"]:
        print("  devstral-lsp's counters per burst: " + ", ".join(
            f"{k} {v:.2f}" for k, v in ours["counters_per_burst"].items()))
    if ours and ref:
        ratio = ours["latency_ms"]["p50"] / ref["latency_ms"]["p50"]
        rss_ratio = ours["peak_rss_mb"]["p50"] / ref["peak_rss_mb"]["p50"]
        checks = [
            ("median latency ≤ 0.85 × tabby fixed", f"{ratio:.2f}×", ratio <= 0.85),
            ("model calls per burst ≤ tabby's",
             f"{ours['calls_per_burst']:.2f} vs {ref['calls_per_burst']:.2f}",
             ours["calls_per_burst"] <= ref["calls_per_burst"]),
            ("prompt tokens per burst ≤ tabby's (raw)",
             f"{ours['tokens_per_burst']:.0f} vs {ref['tokens_per_burst']:.0f}",
             ours["tokens_per_burst"] <= ref["tokens_per_burst"]),
            ("billed-equivalent input tokens ≤ tabby's",
             f"{ours['billed_per_burst']:.0f} vs {ref['billed_per_burst']:.0f}",
             ours["billed_per_burst"] <= ref["billed_per_burst"]),
            ("initialize no later than tabby's (p50)",
             f"{ours['init_ms']['p50']:.0f} vs {ref['init_ms']['p50']:.0f} ms",
             ours["init_ms"]["p50"] <= ref["init_ms"]["p50"]),
            ("peak RSS ≤ 0.8 × tabby's", f"{rss_ratio:.2f}×", rss_ratio <= 0.8),
        ]
        for label, value, ok in checks:
            print(f"  goal: {label:42s} {value:24s} {'met' if ok else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--profiles", default="flat,realistic")
    ap.add_argument("--tabby-modes", default="fixed,adaptive")
    ap.add_argument("--tabby-js", type=Path,
                    default=Path(os.environ.get("TABBY_AGENT_JS", DEFAULT_TABBY_JS)))
    ap.add_argument("--no-tabby", action="store_true", help="devstral-lsp only")
    ap.add_argument("--json", type=Path, help="write the summaries here")
    ap.add_argument("--speculate", choices=("auto", "never", "always"), default="auto",
                    help="devstral-lsp's early start (completion/speculation.py)")
    ap.add_argument("--provider", choices=("openai", "mistral"), default="openai",
                    help="devstral-lsp's preset: a local OpenAI-compatible server (bills "
                         "nothing) or Mistral (paid; its cost model keeps the debounce)")
    ap.add_argument("--context-tokens", type=int, default=None,
                    help="devstral-lsp's contextTokens setting (its prompt budget; default "
                         "4096): what a smaller prompt saves against what it costs in context")
    ap.add_argument("--prompt-layout", choices=("file", "suffixFirst"), default="file",
                    help="devstral-lsp's promptLayout setting (model/prompts.PromptLayout)")
    ap.add_argument("--paid-model", choices=("mistral-small-latest", "codestral-latest"),
                    default="mistral-small-latest",
                    help="with --provider mistral: the completion model (chat or FIM)")
    args = ap.parse_args(argv)
    PAID_MODEL[0] = args.paid_model
    CONTEXT_TOKENS[0] = args.context_tokens
    PROMPT_LAYOUT[0] = args.prompt_layout
    SPECULATE[0] = args.speculate
    PROVIDER[0] = args.provider
    tabby_js: Path | None = None if args.no_tabby else args.tabby_js
    if tabby_js is not None and not tabby_js.is_file():
        print(f"tabby-agent not found at {tabby_js}; install it with "
              "`npm install --prefix ~/.cache/devstral-bench tabby-agent@1.5.0` "
              "or pass --no-tabby", file=sys.stderr)
        return 2
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"load average at start: {' '.join(load)} (2 cores shared with other sessions); "
          f"devstral-lsp provider {args.provider}, speculate {args.speculate}, "
          f"contextTokens {args.context_tokens or 'default'}, promptLayout {args.prompt_layout}"
          + (f", model {args.paid_model}" if args.provider == "mistral" else ""))
    summaries: dict[str, dict[str, Any]] = {}
    for name in args.profiles.split(","):
        runs = asyncio.run(run_profile(PROFILES[name], args.reps, tabby_js,
                                       [m for m in args.tabby_modes.split(",") if m]))
        summaries[name] = {server: summarize(rs) for server, rs in runs.items()}
        report(name, summaries[name])
    with open("/proc/loadavg") as f:
        print(f"\nload average at end: {' '.join(f.read().split()[:3])}")
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
