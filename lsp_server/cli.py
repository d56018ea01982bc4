"""Command line: `serve` (the default), `complete`, `prompt`, `doctor` and `usage`.

`complete` and `prompt` run the very pipeline the language server runs, so what a user sees
here is what their editor gets; `prompt` shows the exact request body without sending it.
Only this module writes to stdout; the server itself never does (stdout is the protocol).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import __version__

EXIT_CONFIG = 2
EXIT_BACKEND = 3


def _parse_location(spec: str) -> tuple[Path, int, int]:
    """`FILE:LINE:COL` with 1-based line and column (code points), like compilers print."""
    try:
        file_part, line_s, col_s = spec.rsplit(":", 2)
        line, col = int(line_s), int(col_s)
    except ValueError:
        raise SystemExit(f"devstral-lsp: expected FILE:LINE:COL (1-based), got {spec!r}") from None
    if line < 1 or col < 1:
        raise SystemExit("devstral-lsp: LINE and COL are 1-based")
    return Path(file_part), line, col


class _StderrUser:
    """The CLI's user channel: messages go to stderr, once each."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def show_error(self, message: str) -> None:
        if message not in self.shown:
            self.shown.append(message)
            print(message, file=sys.stderr)

    def show_warning(self, message: str) -> None:
        self.show_error(message)

    def show_info(self, message: str) -> None:
        self.show_error(message)


_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".jsx": "javascriptreact", ".ts": "typescript",
    ".tsx": "typescriptreact", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cpp": "cpp",
    ".hpp": "cpp", ".java": "java", ".rb": "ruby", ".lua": "lua", ".sh": "shellscript",
    ".md": "markdown", ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
    ".cs": "csharp", ".php": "php", ".kt": "kotlin", ".swift": "swift", ".zig": "zig",
}


def language_of(path: Path) -> str:
    return _LANGUAGES.get(path.suffix.lower(), path.suffix.lstrip(".").lower() or "plaintext")


def _offline_server(path: Path, *, index: bool = True, discover: bool = False
                    ) -> tuple[Any, Any, str, list[str]]:
    """A server object (not connected) with `path` open, settings from the environment and
    the project file, plus the settings problems (not shown yet: the caller prints each once).

    With `index`, the symbol index is built first (as the editor's would be by the time the
    user types), so `complete` and `prompt` show what the server would really send. Outside a
    project only the file's own folder is read, shallowly: a file in /tmp or ~ must not make
    the CLI walk thousands of unrelated files before it answers. With `discover`, the
    endpoints' models are listed (or the local runtimes probed) first; without it, only when
    there is no model to use otherwise.
    """
    from .app import create_server
    from .positions import PositionEncoding

    server = create_server()
    user = _StderrUser()
    # The CLI prints to stderr instead of window/showMessage: same methods, another class.
    server.user = user  # type: ignore[assignment]
    server.pipeline.user = user
    root, in_project = _project_root(path)
    server.roots = [root]
    server.load_project_config()
    problems = server.settings_problems()
    if discover or not server.completion_endpoint.model:
        import asyncio  # not at the top: `serve` answers `initialize` before heavy imports

        asyncio.run(server.discover_now())
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    uri = path.resolve().as_uri()
    doc = server.documents.open(uri, text, 0, language_of(path))
    server.encoding = PositionEncoding.UTF32
    server.context.on_open(uri, text, doc.language_id)
    if index:
        _index(server, root, in_project)
    return server, doc, uri, problems


def _user_problems(server: Any, problems: list[str]) -> list[str]:
    """Problems in the user's own settings (a refused project key is only a note)."""
    return [p for p in problems if not p.startswith(server.project_source)]


def _print_problems(problems: list[str]) -> None:
    for problem in problems:
        print(f"devstral-lsp settings: {problem}", file=sys.stderr)


def _index(server: Any, root: Path, in_project: bool) -> None:
    engine = server.context.engine
    if in_project:
        server.context.start([root])
        engine.wait_until_indexed(timeout=20.0)
        return
    engine.set_roots([root])
    for n, sibling in enumerate(sorted(p for p in root.iterdir() if p.is_file())):
        if n >= _SHALLOW_FILES:
            break
        engine.index.update(sibling)


_SHALLOW_FILES = 200


def _project_root(path: Path) -> tuple[Path, bool]:
    """The project holding `path` (by .git or pyproject.toml), or its folder and False."""
    here = path.resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists() or (candidate / "pyproject.toml").exists():
            return candidate, True
    return here, False


def _offset(doc: Any, line: int, col: int) -> int:
    from .positions import PositionEncoding

    return int(doc.offset_at(line - 1, col - 1, PositionEncoding.UTF32))


def cmd_complete(args: argparse.Namespace) -> int:
    path, line, col = _parse_location(args.location)
    if not path.is_file():
        print(f"devstral-lsp: no such file: {path}", file=sys.stderr)
        return EXIT_CONFIG
    server, doc, uri, problems = _offline_server(path, index=False)
    _print_problems(problems)
    if _user_problems(server, problems):
        return EXIT_CONFIG
    if (reason := server.context.blocked_reason(uri)) is not None:
        print(f"devstral-lsp: not sent: {reason}", file=sys.stderr)
        return 0
    if (problem := server.completion_endpoint.problem()) is not None:
        print(problem, file=sys.stderr)
        return EXIT_CONFIG
    _index(server, *_project_root(path))

    import asyncio

    async def run() -> Any:
        try:
            return await server.pipeline.complete(
                uri, doc.text_range, _offset(doc, line, col), invoked=True
            )
        finally:
            await server.aclose_clients()
            server.usage.flush()  # the CLI's calls count towards the day too

    suggestion = asyncio.run(run())
    if suggestion is None:
        if server.pipeline.stats.model_calls_failed:
            return EXIT_BACKEND
        print("(the model suggested nothing at this position)", file=sys.stderr)
        return 0
    print(suggestion.text)
    return 0


def cmd_prompt(args: argparse.Namespace) -> int:
    path, line, col = _parse_location(args.location)
    if not path.is_file():
        print(f"devstral-lsp: no such file: {path}", file=sys.stderr)
        return EXIT_CONFIG
    server, doc, uri, problems = _offline_server(path)
    _print_problems(problems)
    offset = _offset(doc, line, col)
    ctx = server.build_completion_context(uri, offset)
    if ctx is None:
        reason = (server.context.blocked_reason(uri)
                  or "this file is excluded from what is sent to the model")
        print(f"devstral-lsp: nothing would be sent: {reason}", file=sys.stderr)
        return 0
    endpoint = server.completion_endpoint
    request, _multiline = server.pipeline.prepare_request(ctx, doc.text_range, offset)
    out = {
        "url": f"{endpoint.base_url}{request.path}" if endpoint.base_url else request.path,
        # Exactly what the gateway sends: provider fields (prompt cache key, usage) included.
        "body": server.model_client().wire_body(request.body, "completion", stream=True),
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    notes = [f"tokens: {json.dumps(ctx.token_counts)}" if ctx.token_counts else "",
             *(f"dropped: {d}" for d in ctx.dropped),
             *(f"redacted: {r}" for r in ctx.redactions)]
    for note in filter(None, notes):
        print(note, file=sys.stderr)
    print(f"completions: {endpoint.describe()}; code actions and the agent: "
          f"{server.endpoint.describe()}", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    # Any file will do: only the settings matter, so no index either.
    server, _doc, _uri, problems = _offline_server(Path(__file__), index=False)
    return run_doctor(server, problems, _user_problems(server, problems),
                      timeout_s=args.timeout, version=__version__)


def cmd_usage(args: argparse.Namespace) -> int:
    """Today's totals (every editor session of this user) and the last days, from the state
    file; `--json` prints the `devstral/usage` shape (`session` is null: no server runs)."""
    import datetime
    import os

    from .config import build_settings
    from .usage.meter import Totals
    from .usage.store import UnsafeStateDir, UsageStore, state_dir

    settings, _problems = build_settings(os.environ)
    store = UsageStore(state_dir())
    try:
        days = store.days()
    except (UnsafeStateDir, OSError) as exc:
        print(f"devstral-lsp: cannot read the usage file: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    today = datetime.date.today().isoformat()
    totals = days.get(today, Totals.empty())
    budget = settings.daily_budget_usd
    reached = budget is not None and totals.all.usd >= budget
    if args.json:
        recent = sorted(days)[-args.days:]
        print(json.dumps({"today": totals.to_wire(), "session": None, "dailyBudgetUsd": budget,
                          "budgetReached": reached,
                          "days": {d: days[d].to_wire() for d in recent}}, indent=2))
        return 0
    print(f"usage file: {store.path}")
    header = f"{'':12} {'requests':>8} {'tokens in':>10} {'cached':>9} {'out':>9} {'USD':>10}"
    print(header)

    def row(name: str, t: Any) -> None:
        mark = " (estimated)" if t.estimated else ""
        print(f"{name:12} {t.requests:>8} {t.tokens_in:>10} {t.tokens_cached:>9} "
              f"{t.tokens_out:>9} {t.usd:>10.4f}{mark}")

    print(f"today ({today}):")
    row("  all", totals.all)
    for name, tally in totals.by_feature.items():
        if tally.requests:
            row(f"  {name}", tally)
    for day in sorted(days)[-args.days:]:
        if day != today:
            row(day, days[day].all)
    if budget is not None:
        state = "REACHED" if reached else f"${budget - totals.all.usd:.4f} left"
        print(f"daily budget: ${budget:.2f} ({state})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .logging_setup import configure

    configure(verbose=args.verbose, log_file=args.log_file, level=_env_level())
    server: Any
    if args.tcp:
        from .app import create_server
        from .tcp import serve_tcp

        server = create_server()
        host, _, port = args.tcp.rpartition(":")
        token = _tcp_token(args)
        generated = token is None
        if token is None:
            from .tcp import new_token

            token = new_token()

        def listening(bound_host: str, bound_port: int) -> None:
            print(f"devstral-lsp: listening on {bound_host}:{bound_port} for one client",
                  file=sys.stderr)
            if generated:
                print(f"devstral-lsp: token: {token}  (set initializationOptions.tcpToken to "
                      "it; or give your own with DEVSTRAL_TCP_TOKEN or --tcp-token-file)",
                      file=sys.stderr)
            sys.stderr.flush()

        serve_tcp(server, host or "127.0.0.1", int(port), token, on_listening=listening)
    else:
        # stdio: `initialize` is answered before pygls is imported (see bootstrap.py).
        from .bootstrap import serve_stdio

        server = serve_stdio(_create_server, sys.stdin.buffer, sys.stdout.buffer)
    return int(getattr(server, "exit_code", 0))


def _create_server() -> Any:
    from .app import create_server

    return create_server()


def _tcp_token(args: argparse.Namespace) -> str | None:
    """The user's TCP token: `--tcp-token-file`, else `DEVSTRAL_TCP_TOKEN`, else None."""
    import os

    from .tcp import TOKEN_ENV

    path = getattr(args, "tcp_token_file", None)
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(f"devstral-lsp: cannot read --tcp-token-file: {exc}") from None
        if not token:
            raise SystemExit("devstral-lsp: --tcp-token-file is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def _env_level() -> str | None:
    import os

    return os.environ.get("DEVSTRAL_LOG_LEVEL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devstral-lsp",
        description="Devstral Small in every LSP editor: inline completions, completion "
        "items, code actions and multi-file edits over any OpenAI-compatible endpoint.",
    )
    parser.add_argument("--version", action="version", version=f"devstral-lsp {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    common.add_argument("--log-file", metavar="PATH", help="also write the log to PATH")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", parents=[common], help="run the language server (default)")
    # Clients such as vscode-languageclient append --stdio; stdio is the default anyway.
    serve.add_argument("--stdio", action="store_true", help="talk LSP over stdio (the default)")
    serve.add_argument("--tcp", metavar="HOST:PORT",
                       help="listen on TCP instead of stdio: one client, which must send the "
                       "token as initializationOptions.tcpToken")
    serve.add_argument("--tcp-token-file", metavar="PATH",
                       help="read the TCP token from PATH (default: DEVSTRAL_TCP_TOKEN, else a "
                       "new token printed to stderr)")
    serve.set_defaults(func=cmd_serve)
    complete = sub.add_parser("complete", parents=[common],
                              help="print the completion at FILE:LINE:COL (1-based)")
    complete.add_argument("location", metavar="FILE:LINE:COL")
    complete.set_defaults(func=cmd_complete)
    prompt = sub.add_parser("prompt", parents=[common],
                            help="print the exact request that would be sent, without sending")
    prompt.add_argument("location", metavar="FILE:LINE:COL")
    prompt.set_defaults(func=cmd_prompt)
    doctor = sub.add_parser("doctor", parents=[common],
                            help="show resolved settings, check the endpoint and the model")
    doctor.add_argument("--timeout", type=float, default=10.0)
    doctor.set_defaults(func=cmd_doctor)
    usage = sub.add_parser("usage", parents=[common],
                           help="tokens and USD today (all sessions) and the last days")
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    usage.add_argument("--days", type=int, default=7, help="how many past days to list")
    usage.set_defaults(func=cmd_usage)
    # Bare `devstral-lsp [--tcp …] [-v] [--log-file …]` means `serve`.
    parser.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)
    parser.add_argument("--log-file", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--tcp", metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tcp-token-file", metavar="PATH", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.func = cmd_serve
    elif args.command != "serve":
        from .logging_setup import configure

        configure(verbose=args.verbose, log_file=args.log_file,
                  level="debug" if args.verbose else "warning", pinned=True)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
