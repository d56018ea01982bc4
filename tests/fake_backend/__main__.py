"""Run the fake backend as a process: ``python -m tests.fake_backend --port 0 ...``.

Real-editor tests start a language server in a separate process tree, so they need the
backend as a process too.  Prints ``READY http://127.0.0.1:PORT/v1`` on stdout once it
listens (parents wait for that line) and serves until SIGTERM/SIGINT.

``--script FILE.json`` holds either a list of reply objects (consumed in order) or
``{"replies": [...], "default": {...}}``; each reply object is what
``Reply.from_dict`` accepts, e.g. ``{"kind": "error", "status": 429, "retry_after": 1}``.
``--reply-text`` (default ``"pass"``) answers once the script is exhausted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .replies import Reply
from .server import FakeBackend, RecordedRequest


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_backend", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = ephemeral)")
    parser.add_argument(
        "--reply-text", default="pass", help="default answer when the script is empty"
    )
    parser.add_argument("--script", type=Path, help="JSON file with scripted replies")
    parser.add_argument("--model", action="append", dest="models", help="model id (repeatable)")
    parser.add_argument(
        "--no-echo-prefix", action="store_true", help="do not echo Mistral prefixes"
    )
    parser.add_argument(
        "--ttft", type=float, default=0.0, help="time to first token of the default reply"
    )
    parser.add_argument(
        "--tokens-per-s", type=float, default=None, help="token rate of the default reply"
    )
    parser.add_argument(
        "--usage-profile", choices=("openai", "mistral", "none"), default="openai",
        help="how usage is reported (mistral: with prompt-cache hits; none: never)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log each request to stderr")
    return parser.parse_args(argv)


def _load_script(path: Path) -> tuple[list[Reply], Reply | None]:
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [Reply.from_dict(d) for d in data], None
    if isinstance(data, dict):
        replies = [Reply.from_dict(d) for d in data.get("replies", [])]
        default = Reply.from_dict(data["default"]) if "default" in data else None
        return replies, default
    raise SystemExit(f"{path}: expected a JSON list or object")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    default = Reply.text(args.reply_text, ttft=args.ttft, tokens_per_s=args.tokens_per_s)
    scripted: list[Reply] = []
    if args.script is not None:
        scripted, script_default = _load_script(args.script)
        default = script_default or default

    def choose(req: RecordedRequest) -> Reply:
        if args.verbose:
            print(
                f"{req.method} {req.path} stream={req.stream} model={req.model}",
                file=sys.stderr,
                flush=True,
            )
        return default

    backend = FakeBackend(
        models=args.models or ["devstral-small-latest"],
        echo_prefix=not args.no_echo_prefix,
        default=choose,
        port=args.port,
        usage_profile=args.usage_profile,
    )
    backend.enqueue(*scripted)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with backend:
        print(f"READY {backend.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
