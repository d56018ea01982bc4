"""Shared helpers of the reliability suite: sessions with CLI args, a raw JSON-RPC pipe, /proc.

Imported by the tests in this package and by `bench/soak.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import REPO, STATS, lsp_session, stats, wait_for_stats, wait_until

__all__ = ["STATS", "stats", "wait_for_stats"]  # re-exported for the tests and bench/soak.py


@asynccontextmanager
async def session(
    env: dict[str, str],
    *,
    args: list[str] | None = None,
    client: str = "neovim-0.11.4",
    init_options: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    root: Path | None = None,
    warm: bool = True,
) -> AsyncIterator[tuple[LanguageClient, types.InitializeResult]]:
    """`lsp_session` with extra command-line `args`, entered warm unless told otherwise:
    reliability tests time requests against deadlines (see `lsp_session`)."""
    async with lsp_session(env, args=args, client=client, init_options=init_options,
                           configuration=configuration, root=root, warm=warm) as (lsp, result):
        yield lsp, result


def server_pid(lsp: LanguageClient) -> int:
    proc = lsp._server  # pygls keeps the subprocess here
    assert proc is not None
    return int(proc.pid)


def alive(lsp: LanguageClient) -> bool:
    proc = lsp._server
    return proc is not None and proc.returncode is None


def errors(lsp: LanguageClient) -> list[str]:
    return [m.message for m in lsp.messages if m.type == types.MessageType.Error]


def shown(lsp: LanguageClient) -> list[str]:
    """Every `window/showMessage` text."""
    return [m.message for m in lsp.messages]


def free_port() -> int:
    """A loopback port nobody listens on (closed right after it was found free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------- /proc


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _socket_inodes(pid: int) -> set[str]:
    out: set[str] = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def backend_sockets(pid: int, port: int) -> int:
    """Established TCP sockets of `pid` whose remote end is 127.0.0.1:`port`."""
    mine = _socket_inodes(pid)
    count = 0
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            cols = row.split()
            remote, state, inode = cols[2], cols[3], cols[9]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port and inode in mine:
                count += 1
    return count


# ----------------------------------------------------------------------------- raw JSON-RPC


class RawServer:
    """The server over a bare pipe: framing and payloads exactly as the test writes them."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.notifications: list[dict[str, Any]] = []
        self._responses: dict[Any, dict[str, Any]] = {}
        self.hold: set[str] = set()
        """Methods of server requests left unanswered: the test answers them (`send`)."""
        self._reader = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def start(cls, env: dict[str, str]) -> RawServer:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lsp_server", env=env, cwd=str(REPO),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        return cls(proc)

    async def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = await out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            msg = json.loads(await out.readexactly(length))
            if "id" in msg and "method" not in msg:
                self._responses[msg["id"]] = msg
            else:
                self.notifications.append(msg)
                if "id" in msg and msg.get("method") not in self.hold:
                    # a request from the server: answer like a plain client
                    result: Any = None
                    if msg.get("method") == "workspace/configuration":
                        result = [None] * len(msg.get("params", {}).get("items", []))
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    def send_bytes(self, payload: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(payload)

    def send(self, msg: dict[str, Any] | bytes) -> None:
        body = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, msg_id: int | str, method: str, params: Any,
                      timeout: float = WAIT_GUARD_S) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await self.response(msg_id, timeout)

    async def response(self, msg_id: int | str, timeout: float = WAIT_GUARD_S) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while msg_id not in self._responses:
            if loop.time() > deadline:
                raise TimeoutError(f"no response to {msg_id!r} in {timeout}s")
            if self.proc.returncode is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            await asyncio.sleep(0.005)
        return self._responses.pop(msg_id)

    async def incoming(self, method: str) -> dict[str, Any]:
        """The first notification or request from the server with this method (waits)."""
        def seen() -> list[dict[str, Any]]:
            return [m for m in self.notifications if m.get("method") == method]

        await wait_until(lambda: bool(seen()) or self.proc.returncode is not None,
                         f"{method} received from the server")
        assert seen(), f"the server exited with {self.proc.returncode} before sending {method}"
        return seen()[0]

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def close(self, timeout: float = WAIT_GUARD_S) -> int | None:
        """shutdown + exit; kill if it does not leave. Returns the exit code."""
        if self.proc.returncode is None:
            try:
                await self.request("shutdown-raw", "shutdown", None, timeout=timeout)
                self.notify("exit", None)
                await asyncio.wait_for(self.proc.wait(), timeout)
            except (TimeoutError, RuntimeError, ConnectionError):
                if self.proc.returncode is None:
                    self.proc.kill()
                    await self.proc.wait()
        self._reader.cancel()
        return self.proc.returncode


def init_params(client: str = "neovim-0.11.4", root: Path | None = None) -> dict[str, Any]:
    caps = json.loads((REPO / "tests" / "data" / "client-capabilities" / f"{client}.json")
                      .read_text())
    return {"processId": None, "rootUri": root.as_uri() if root else None,
            "capabilities": caps.get("capabilities", caps),
            "clientInfo": {"name": client}}
