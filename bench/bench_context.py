"""Context engine benchmark on a real project (default: the CPython standard library).

Prints: index build time and file/definition counts, `build()` latency (p50/p95), the token
counts of the assembled prompts, how often a call site of a function defined in another file
gets that definition within the budget, and the shared-prefix ratio of the request bodies
(`build_completion_request`, as sent) of consecutive completions while typing (prompt caching).

    python bench/bench_context.py [--root DIR ...] [--budget 4096] [--samples 300]
                                  [--typing-sites 30]
"""

from __future__ import annotations

import argparse
import builtins
import dataclasses
import json
import random
import re
import statistics
import sys
import sysconfig
import time
from pathlib import Path

# this checkout, not whatever an editable install of the package points at
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsp_server.context.definitions import Definition
from lsp_server.context.engine import ContextEngine
from lsp_server.context.recent import EditHistory
from lsp_server.context.sticky import shared_prefix_ratio
from lsp_server.context.types import PromptContext
from lsp_server.model.prompts import (
    HOLE_MARKER,
    CompletionOptions,
    PromptLayout,
    build_completion_request,
)

CALL_RE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]{3,})\(")
FROM_IMPORT_RE = re.compile(r"^from (\.*[\w.]*) import ([\w, ]+)$", re.M)
BUILTINS = frozenset(dir(builtins))


def shows(engine: ContextEngine, ctx: PromptContext, d: Definition) -> bool:
    """Whether the prompt has a definition snippet of exactly `d` (its file and line)."""
    label = engine.label(d.path)
    return any(
        s.kind == "definition" and s.path == label and s.start_line == d.start_line
        for s in ctx.snippets
    )


def module_file(engine: ContextEngine, here: Path, module: str) -> set[Path]:
    """Indexed files a `from <module> import` statement in `here` refers to."""
    dots = len(module) - len(module.lstrip("."))
    parts = [p for p in module[dots:].split(".") if p]
    if dots:
        base = here.parent
        for _ in range(dots - 1):
            base = base.parent
        bases = [base]
    else:
        bases = list(engine.roots)
    out = set()
    for base in bases:
        for cand in (
            base.joinpath(*parts).with_suffix(".py"),
            base.joinpath(*parts, "__init__.py"),
        ):
            if parts or cand.name == "__init__.py":
                if engine.index.file(cand) is not None:
                    out.add(cand)
    return out


OPTS = CompletionOptions(
    model="devstral-small-latest", mode="prefix", multiline=False, prefix_style="mistral"
)
"""The default preset's request (Mistral API, assistant prefix)."""
LAYOUT: list[PromptLayout] = ["file"]  # --prompt-layout


def stable_suffix() -> bool:
    """What the server passes the engine for the layout (`LiveContext.build`)."""
    return LAYOUT[0] == "suffixFirst"


def request_text(ctx: PromptContext) -> str:
    """The request body the server would send for `ctx`, serialised as on the wire."""
    opts = dataclasses.replace(OPTS, layout=LAYOUT[0])
    return json.dumps(build_completion_request(ctx, opts).body, ensure_ascii=False)


def hole_at(body: str) -> int:
    """Where the current file's hole is in a rendered body (the last marker is the task's)."""
    return body.rfind(HOLE_MARKER, 0, body.rfind(HOLE_MARKER))


class Clock:
    """A settable clock for the edit history, so pauses in typing take no real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def typing_session(
    engine: ContextEngine,
    clock: Clock,
    path: Path,
    text: str,
    offset: int,
    typed: str,
    pause_every: int = 0,
) -> tuple[list[float], list[float], PromptContext]:
    """Type `typed` at `offset` one character at a time (0.1 s apart, a 3 s pause after every
    `pause_every` characters, so recent edits get committed) and build a request after each.

    Returns, per consecutive pair of requests, the shared-prefix ratio of the whole body and
    the share of the body before the cursor that they share (1.0 = everything the cursor
    position allows), and the last request's context.
    """
    uri = path.as_uri()
    engine.on_open(uri, text, "python")
    ratios: list[float] = []
    reach: list[float] = []
    prev: str | None = None
    ctx = PromptContext(path="", language_id="python", prefix="", suffix="")
    for i in range(1, len(typed) + 1):
        clock.now += 3.0 if pause_every and i > 1 and (i - 1) % pause_every == 0 else 0.1
        new_text = text[:offset] + typed[:i] + text[offset:]
        engine.on_change(uri, new_text)
        ctx = engine.build(uri=uri, text=new_text, offset=offset + i, language_id="python",
                           stable_suffix=stable_suffix())
        body = request_text(ctx)
        if prev is not None:
            ratio = shared_prefix_ratio(prev, body)
            ratios.append(ratio)
            common = ratio * max(len(prev), len(body))
            reach.append(min(1.0, common / hole_at(prev)))
        prev = body
    engine.on_close(uri)
    return ratios, reach, ctx


def retype_site(text: str, offset: int, limit: int = 60) -> tuple[str, int, str] | None:
    """The text with the call's line emptied after its indentation, the offset there, and the
    line's text up to and including the call's `(` (at most `limit` characters): retyping it
    is what a user writing that call does."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    line = text[start:end]
    indent = len(line) - len(line.lstrip())
    typed = text[start + indent : offset]
    if not 4 <= len(typed) <= limit:
        return None
    return text[: start + indent] + text[end:], start + indent, typed


HELDOUT_LANGS = {".py": "python", ".ts": "typescript", ".rs": "rust"}
_COMMENT_STARTS = ("#", "//", "/*", "*")


def heldout(root: Path, budget: int) -> int:
    """Call sites listed in ROOT/sites.json: does the prompt show the callee's signature?"""
    root = root.resolve()
    sites = json.loads((root / "sites.json").read_text())
    engine = ContextEngine(roots=[root], budget_tokens=budget)
    engine.start()
    engine.wait_until_indexed()
    by_cause: dict[str, list[int]] = {}
    for site in sites:
        path = root / site["file"]
        text = path.read_text(encoding="utf-8")
        call = site["call"]
        offset = text.index(call) + call.index("(") + 1
        ctx = engine.build(uri=path.as_uri(), text=text, offset=offset,
                           language_id=HELDOUT_LANGS[path.suffix], open_documents={},
                           stable_suffix=stable_suffix())
        want = [d for d in engine.index.lookup(site["name"])
                if d.path == root / site["def"] and d.container == site.get("container")]
        assert len(want) == 1, (site, want)
        d = want[0]
        source = (root / site["def"]).read_text(encoding="utf-8").split("\n")
        sig = next(line.strip() for line in source[d.start_line:]
                   if site["name"] in line and not line.strip().startswith(_COMMENT_STARTS))
        label = engine.label(d.path)
        hit = any(s.kind == "definition" and s.path == label and sig in s.text
                  for s in ctx.snippets)
        by_cause.setdefault(site["cause"], []).append(int(hit))
        print(f"{'hit ' if hit else 'MISS'} {site['cause']:22} {site['file']}: {call}")
    engine.stop()
    total = [h for hits in by_cause.values() for h in hits]
    for cause, hits in by_cause.items():
        print(f"{cause:22} {sum(hits)}/{len(hits)}")
    print(f"callee signature in the prompt: {sum(total)}/{len(total)}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", action="append", type=Path)
    ap.add_argument("--budget", type=int, default=4096)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--max-files", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--typing-sites", type=int, default=30)
    ap.add_argument("--prompt-layout", choices=("file", "suffixFirst"), default="file",
                    help="the promptLayout setting the request bodies are rendered with")
    ap.add_argument("--heldout", type=Path,
                    help="only measure the held-out call sites in DIR (DIR/sites.json)")
    args = ap.parse_args()
    LAYOUT[0] = args.prompt_layout
    if args.heldout:
        return heldout(args.heldout, args.budget)
    roots = args.root or [Path(sysconfig.get_paths()["stdlib"])]

    engine = ContextEngine(roots=roots, budget_tokens=args.budget, max_index_files=args.max_files)
    t0 = time.perf_counter()
    engine.start()
    engine.wait_until_indexed()
    wall = time.perf_counter() - t0
    st = engine.index_stats
    print(f"roots: {', '.join(map(str, roots))}")
    print(
        f"index: {st.files} files, {st.definitions} definitions, {st.skipped} skipped, "
        f"build {st.seconds:.2f} s (wall incl. thread start {wall:.2f} s)"
    )

    # Call sites of names defined exactly once, in another file (not Python builtins: a call
    # of `enumerate(` is not a call of some test file's `def enumerate`).
    rng = random.Random(args.seed)
    files = sorted(
        {d.path for name in list(engine.index._by_name)[:20000] for d in engine.index.lookup(name)}
    )
    rng.shuffle(files)
    sites: list[tuple[Path, str, int, Definition]] = []
    # Call sites of an ambiguous name (defined in 2+ files) that the file imports with
    # `from m import name`, where m is an indexed file defining it: the right one must be shown.
    imported: list[tuple[Path, str, int, Definition]] = []
    for path in files:
        if len(sites) >= args.samples and len(imported) >= args.samples // 2:
            break
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = []
        for m in CALL_RE.finditer(text):
            defs = engine.index.lookup(m.group(1))
            if (
                len(defs) == 1
                and defs[0].path != path
                and defs[0].kind in ("function", "class")
                and m.group(1) not in BUILTINS
            ):
                found.append((path, text, m.end(), defs[0]))
        if found and len(sites) < args.samples:
            sites.append(rng.choice(found))
        names: dict[str, str] = {}
        for m in FROM_IMPORT_RE.finditer(text):
            for n in m.group(2).split(","):
                names[n.strip()] = m.group(1)
        amb = []
        for m in CALL_RE.finditer(text):
            name = m.group(1)
            if name not in names or text[m.start() - 1 : m.start()] == ".":
                continue
            defs = [d for d in engine.index.lookup(name) if d.kind in ("function", "class")]
            if len({d.path for d in defs}) < 2:
                continue
            targets = module_file(engine, path, names[name])
            right = [d for d in defs if d.path in targets]
            if len(right) == 1:
                amb.append((path, text, m.end(), right[0]))
        if amb and len(imported) < args.samples // 2:
            imported.append(rng.choice(amb))

    latencies: list[float] = []
    counts: dict[str, list[int]] = {"prefix": [], "suffix": [], "snippets": [], "total": []}
    n_defs: list[int] = []
    hits = 0
    over = 0
    for path, text, offset, d in sites:
        uri = path.as_uri()
        started = time.perf_counter()
        ctx = engine.build(
            uri=uri, text=text, offset=offset, language_id="python", open_documents={},
            stable_suffix=stable_suffix(),
        )
        latencies.append((time.perf_counter() - started) * 1e3)
        for k in counts:
            counts[k].append(ctx.token_counts[k])
        over += ctx.token_counts["total"] > args.budget
        n_defs.append(sum(s.kind == "definition" for s in ctx.snippets))
        hits += shows(engine, ctx, d)
    imp_hits = 0
    for path, text, offset, d in imported:
        ctx = engine.build(
            uri=path.as_uri(), text=text, offset=offset, language_id="python", open_documents={},
            stable_suffix=stable_suffix(),
        )
        over += ctx.token_counts["total"] > args.budget
        imp_hits += shows(engine, ctx, d)

    latencies.sort()
    n = len(latencies)
    print(
        f"build(): {n} call sites, p50 {latencies[n // 2]:.2f} ms, "
        f"p95 {latencies[int(n * 0.95)]:.2f} ms, max {latencies[-1]:.2f} ms"
    )
    for k, v in counts.items():
        print(f"tokens {k:8s}: mean {statistics.mean(v):7.1f}  max {max(v)}")
    print(f"definition snippets per prompt: mean {statistics.mean(n_defs):.1f}, max {max(n_defs)}")
    print(f"over budget: {over}/{n + len(imported)}")
    print(
        "definition of the called cross-file function in the prompt: "
        f"{hits}/{n} ({hits / max(1, n):.0%})"
    )
    print(
        "the imported definition of an ambiguous called name in the prompt: "
        f"{imp_hits}/{len(imported)} ({imp_hits / max(1, len(imported)):.0%})"
    )

    # Prompt caching: type at call sites and compare the request bodies of consecutive
    # completions (the real rendered body, as sent). The edit history runs on a fake clock.
    clock = Clock()
    engine.history = EditHistory(clock=clock)
    path, text, offset, _def = sites[0]
    ratios, reach, _ctx = typing_session(
        engine, clock, path, text, offset, "result = compute_value(x)"
    )
    print(
        f"shared-prefix ratio while typing ({len(ratios)} steps): "
        f"mean {statistics.mean(ratios):.3f}, min {min(ratios):.3f}; "
        f"share of the body before the cursor: mean {statistics.mean(reach):.3f}"
    )
    all_ratios: list[float] = []
    all_reach: list[float] = []
    sessions = 0
    typed_hits = 0
    for path, text, offset, d in sites:
        if sessions >= args.typing_sites:
            break
        site = retype_site(text, offset)
        if site is None:
            continue
        sessions += 1
        r, c, last = typing_session(
            engine, clock, path, site[0], site[1], site[2], pause_every=8
        )
        all_ratios += r
        all_reach += c
        typed_hits += shows(engine, last, d)
    full = sum(c >= 0.999 for c in all_reach)
    print(
        f"retyping call lines at {sessions} sites, pausing every 8 characters "
        f"({len(all_ratios)} steps): shared-prefix ratio mean {statistics.mean(all_ratios):.3f}; "
        f"share of the body before the cursor: mean {statistics.mean(all_reach):.3f}, "
        f"all of it in {full}/{len(all_reach)} ({full / max(1, len(all_reach)):.0%}); "
        f"the called definition in the prompt once its `(` is typed: {typed_hits}/{sessions}"
    )
    engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
