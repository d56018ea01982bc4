"""Shared helpers for the latency, startup and memory benchmarks.

The benchmarks drive the real server (`python -m lsp_server`) over stdio with a minimal
JSON-RPC client written here: it frames messages itself, stamps every send and receive with
`time.monotonic()` (the clock the fake backend uses too), answers the few server→client
requests the server makes, and never converts to lsprotocol types, so the client adds well
under a millisecond per message. The fake OpenAI-compatible backend (`tests/fake_backend`)
runs in this process on its own thread, on loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CAPS_DIR = REPO / "tests" / "data" / "client-capabilities"
MODEL = "devstral-small-latest"
BENCH_KEY = "sk-bench-0123456789abcdef0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_SCRUB = ("MISTRAL_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENROUTER_API_KEY",
          "BAZAARLINK_API_KEY")


# ----- environment ----------------------------------------------------------------------------
def server_env(base_url: str | None, **extra: str) -> dict[str, str]:
    """This process's environment minus real keys/endpoints, pointed at `base_url`."""
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUB and not k.startswith("DEVSTRAL_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if base_url is not None:
        env.update({
            "DEVSTRAL_PROVIDER": "openai",
            "DEVSTRAL_BASE_URL": base_url,
            "DEVSTRAL_MODEL": MODEL,
            "DEVSTRAL_API_KEY": BENCH_KEY,
        })
    env.update(extra)
    return env


def load_capabilities(name: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((CAPS_DIR / f"{name}.json").read_text())
    caps: dict[str, Any] = raw.get("capabilities", raw)
    return caps


# ----- /proc ----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (resolution 1/CLK_TCK)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def cpu_ns(pid: int) -> int:
    """CPU time of all threads of a process in ns, from /proc/<pid>/task/*/schedstat."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """A memory figure from /proc/<pid>/status in MB (VmRSS, VmHWM, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----- statistics -----------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p99, max, mean of a sample (NaN when empty)."""
    if not values:
        nan = float("nan")
        return {"n": 0, "p50": nan, "p99": nan, "max": nan, "mean": nan}
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def fmt_ms(s: dict[str, float]) -> str:
    return (f"p50 {s['p50']:7.2f} ms  p99 {s['p99']:7.2f} ms  max {s['max']:7.2f} ms"
            f"  (n={int(s['n'])})")


def verdict(value: float, target: float, *, lower_is_better: bool = True) -> str:
    """'ok' or 'MISSED by X' for a figure against its target."""
    if value != value:  # NaN
        return "n/a"
    ok = value <= target if lower_is_better else value >= target
    if ok:
        return "ok"
    return f"MISSED by {abs(value - target):.2f} ({value / target:.1f}x target)" if target else \
        "MISSED"


# ----- sample source text ---------------------------------------------------------------------
def python_source(lines: int, seed: int = 1) -> str:
    """Plausible Python: functions of a few lines each, about 40 chars per line."""
    out: list[str] = ["import math\nimport os\n\n\n"]
    n = 4
    i = 0
    while n < lines:
        out.append(f"def compute_{i}(alpha, beta):\n")
        out.append(f"    total = alpha * {i % 97} + beta\n")
        out.append(f"    scaled = math.sqrt(abs(total)) + {seed}\n")
        out.append("    return scaled\n\n\n")
        n += 6
        i += 1
    return "".join(out)


# ----- the JSON-RPC client --------------------------------------------------------------------
@dataclass
class Pending:
    """One request sent by the client."""

    id: int
    method: str
    t_sent: float
    future: asyncio.Future[dict[str, Any]]
    t_received: float | None = None

    @property
    def elapsed_ms(self) -> float:
        return ((self.t_received or float("nan")) - self.t_sent) * 1000


@dataclass
class LspClient:
    """A minimal LSP client over a subprocess's stdio."""

    proc: asyncio.subprocess.Process
    t_spawn: float
    settings: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    _pending: dict[int, Pending] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(cls, env: dict[str, str], *, settings: dict[str, Any] | None = None,
                    argv: Sequence[str] | None = None, stderr: Path | None = None
                    ) -> LspClient:
        cmd = list(argv or [sys.executable, "-m", "lsp_server"])
        err: Any = asyncio.subprocess.DEVNULL
        if stderr is not None:
            err = stderr.open("wb")
        t0 = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
            env=env, cwd=str(REPO), limit=64 * 1024 * 1024,
        )
        if stderr is not None:
            err.close()
        client = cls(proc=proc, t_spawn=t0, settings=settings or {})
        client._reader = asyncio.ensure_future(client._read_loop())
        return client

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- wire
    def _write(self, msg: dict[str, Any]) -> float:
        body = json.dumps(msg, separators=(",", ":")).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        return time.monotonic()

    async def flush(self) -> None:
        assert self.proc.stdin is not None
        await self.proc.stdin.drain()

    async def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = -1
            while True:
                line = await out.readline()
                if not line:
                    self._fail_all(ConnectionError("server closed stdout"))
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = await out.readexactly(length)
            now = time.monotonic()
            msg = json.loads(body)
            if "id" in msg and "method" not in msg:
                pending = self._pending.pop(msg["id"], None)
                if pending is not None and not pending.future.done():
                    pending.t_received = now
                    pending.future.set_result(msg)
            elif "id" in msg:
                self._answer(msg)
            else:
                if len(self.notifications) < 10_000:
                    self.notifications.append(msg)

    def _fail_all(self, exc: BaseException) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(exc)
        self._pending.clear()

    def _answer(self, msg: dict[str, Any]) -> None:
        method = msg["method"]
        result: Any = None
        if method == "workspace/configuration":
            items = msg.get("params", {}).get("items", [])
            result = [self.settings if it.get("section") == "devstral" else None for it in items]
        elif method == "workspace/applyEdit":
            result = {"applied": False}
        self._write({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    # -- API
    def request(self, method: str, params: Any) -> Pending:
        msg_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        pending = Pending(msg_id, method, 0.0, fut)
        self._pending[msg_id] = pending
        pending.t_sent = self._write(
            {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return pending

    async def call(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        pending = self.request(method, params)
        await self.flush()
        msg = await asyncio.wait_for(pending.future, timeout)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result")

    def notify(self, method: str, params: Any) -> float:
        return self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def cancel(self, msg_id: int) -> float:
        return self.notify("$/cancelRequest", {"id": msg_id})

    async def initialize(self, client: str = "vscode-inline", root: Path | None = None
                         ) -> tuple[float, dict[str, Any]]:
        """initialize + initialized; returns (spawn→initialize-reply seconds, result)."""
        params = {
            "processId": os.getpid(),
            "clientInfo": {"name": client},
            "rootUri": root.as_uri() if root else None,
            "capabilities": load_capabilities(client),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}] if root else None,
        }
        pending = self.request("initialize", params)
        await self.flush()
        msg = await asyncio.wait_for(pending.future, 30)
        assert pending.t_received is not None
        elapsed = pending.t_received - self.t_spawn
        self.notify("initialized", {})
        await self.flush()
        return elapsed, msg["result"]

    def did_open(self, uri: str, text: str, language_id: str = "python", version: int = 1
                 ) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": language_id, "version": version, "text": text}})

    def did_change(self, uri: str, version: int, line: int, char: int, text: str,
                   end: tuple[int, int] | None = None) -> None:
        end_line, end_char = end or (line, char)
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": char},
                                          "end": {"line": end_line, "character": end_char}},
                                "text": text}]})

    def inline(self, uri: str, line: int, char: int, *, invoked: bool = False) -> Pending:
        return self.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": char},
            "context": {"triggerKind": 1 if invoked else 2},
        })

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("devstral/stats", None)
        return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.call("shutdown", None, timeout=5)
            self.notify("exit", None)
            await self.flush()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


def inline_text(msg: dict[str, Any]) -> str | None:
    """insertText of the first inline item of a response, None when empty/error/cancelled."""
    result = msg.get("result")
    if not isinstance(result, dict):
        return None
    items = result.get("items") or []
    if not items:
        return None
    text = items[0].get("insertText")
    return text if isinstance(text, str) else None


def print_table(rows: Iterable[tuple[str, str, str, str]]) -> None:
    """figure | measured | target | verdict."""
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
