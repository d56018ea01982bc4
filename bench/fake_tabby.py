"""A fake Tabby server on loopback, for running tabby-agent side by side with devstral-lsp.

tabby-agent (npm, 1.5.0) talks to a Tabby server: ``GET /v1/health`` when it starts (405 makes
it retry with POST), ``POST /v1/completions`` with ``{language, segments: {prefix, suffix,
filepath, declarations, relevant_snippets_from_changed_files, clipboard}}`` answered by
``{id, choices: [{index, text}]}`` (not streamed), and ``POST /v1/events`` for telemetry of
shown/accepted suggestions. A health answer with a version below 0.9 keeps it from asking
for ``/v1beta/server_setting``.

The answer text and its delay come from the bench, so both servers under comparison get the
same suggestion after the same model time (see `bench/bench_vs_tabby.py`). Every completion
request is recorded with its estimated prompt tokens (4 characters per token, the estimate the
OpenAI-compatible fake uses for ``usage.prompt_tokens``) and whether the client hung up.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHARS_PER_TOKEN = 4


@dataclass
class TabbyRequest:
    """One `/v1/completions` call as the fake saw it."""

    body: dict[str, Any]
    prompt_tokens: int
    t_received: float
    t_finished: float | None = None
    client_disconnected: bool = False


Answer = Callable[[str, str], str]
"""(text of the cursor line before the cursor, whole prefix) → the completion text."""
Delay = Callable[[int, str], float]
"""(prompt tokens, answer text) → seconds from the request to the complete answer."""


def prompt_text(body: dict[str, Any]) -> str:
    """Everything of a Tabby request the model would read: prefix, suffix and snippets."""
    seg = body.get("segments") or {}
    parts = [str(seg.get("prefix") or ""), str(seg.get("suffix") or "")]
    for key in ("declarations", "relevant_snippets_from_changed_files"):
        for snip in seg.get(key) or []:
            if isinstance(snip, dict):
                parts.append(str(snip.get("body") or ""))
    clip = seg.get("clipboard")
    if isinstance(clip, str):
        parts.append(clip)
    return "".join(parts)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass
class FakeTabby:
    """`with FakeTabby(answer, delay) as ft: ft.endpoint` — serves until the block ends."""

    answer: Answer
    delay: Delay
    requests: list[TabbyRequest] = field(default_factory=list)
    events: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeTabby:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n) if n else b"{}"
                try:
                    body = json.loads(raw)
                except ValueError:
                    return {}
                return body if isinstance(body, dict) else {}

            def do_GET(self) -> None:
                if self.path.startswith("/v1/health"):
                    self._send(200, fake.health())
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self._body()
                if self.path.startswith("/v1/completions"):
                    self._complete(body)
                elif self.path.startswith("/v1/events"):
                    with fake._lock:
                        fake.events += 1
                    self._send(200, {})
                elif self.path.startswith("/v1/health"):
                    self._send(200, fake.health())
                else:
                    self._send(404, {"error": "not found"})

            def _complete(self, body: dict[str, Any]) -> None:
                t0 = time.monotonic()
                text = prompt_text(body)
                rec = TabbyRequest(body, estimate_tokens(text), t0)
                with fake._lock:
                    fake.requests.append(rec)
                prefix = str((body.get("segments") or {}).get("prefix") or "")
                answer = fake.answer(prefix.rsplit("\n", 1)[-1], prefix)
                time.sleep(max(0.0, t0 + fake.delay(rec.prompt_tokens, answer)
                               - time.monotonic()))
                try:
                    self._send(200, {"id": f"cmpl-{len(fake.requests)}",
                                     "choices": [{"index": 0, "text": answer}]})
                except OSError:
                    rec.client_disconnected = True  # the agent aborted the fetch
                rec.t_finished = time.monotonic()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @staticmethod
    def health() -> dict[str, Any]:
        return {"model": "fake/devstral-small", "device": "cpu", "arch": "x86_64",
                "cpu_info": "fake", "cpu_count": 2, "cuda_devices": [],
                "version": {"build_date": "2026-12-02", "build_timestamp": "",
                            "git_sha": "0", "git_describe": "v0.8.0"}}
