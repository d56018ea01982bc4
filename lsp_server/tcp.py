"""`serve --tcp`: one editor, proven by a secret token, on a loopback port.

pygls' own TCP server accepts any number of connections and rewires its single session to the
newest one, so another local account could connect, answer `workspace/configuration` with its own
`baseUrl` and receive the user's key and buffers. Here:

* the first message of a connection must be `initialize` carrying the token in
  `initializationOptions.tcpToken` (compared in constant time; removed before the server sees
  the options); anything else closes the connection before a single message is processed;
* the first connection that proves the token becomes the session and the listening socket is
  closed, so nobody else can connect (or take over) until the server exits;
* the token comes from `DEVSTRAL_TCP_TOKEN` or `--tcp-token-file` (both private to the user,
  unlike a command-line argument, which every local account can read in `ps`), or is generated
  and printed to stderr for the user to paste into the editor's settings.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import threading
from typing import Any

log = logging.getLogger(__name__)

TOKEN_OPTION = "tcpToken"
TOKEN_ENV = "DEVSTRAL_TCP_TOKEN"
AUTH_TIMEOUT_S = 30.0
"""How long a connection may take to send its `initialize` before it is dropped."""
MAX_FIRST_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_HEADER_LINES = 16

_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE)


class Refused(Exception):
    """The connection did not prove the token; `str(exc)` goes to the log."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """One framed message body, with bounded headers and size."""
    length: int | None = None
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readline()
        if not line:
            raise Refused("connection closed before a message")
        if not line.strip():
            break
        if (m := _LENGTH.match(line.strip())) is not None:
            length = int(m.group(1))
    else:
        raise Refused("too many header lines")
    if length is None or length > MAX_FIRST_MESSAGE_BYTES:
        raise Refused("missing or oversized Content-Length")
    return await reader.readexactly(length)


def check_first_message(body: bytes, token: str) -> dict[str, Any]:
    """The `initialize` request with the token removed; `Refused` unless it carries `token`."""
    try:
        msg = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused("first message is not JSON") from None
    if not isinstance(msg, dict) or msg.get("method") != "initialize":
        raise Refused("first message is not initialize")
    params = msg.get("params")
    opts = params.get("initializationOptions") if isinstance(params, dict) else None
    given = opts.get(TOKEN_OPTION) if isinstance(opts, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("utf-8", "replace"), token.encode("utf-8")
    ):
        raise Refused("wrong or missing token")
    assert isinstance(opts, dict) and isinstance(params, dict)
    rest = {k: v for k, v in opts.items() if k != TOKEN_OPTION}
    params["initializationOptions"] = rest or None
    return msg


class _Replay:
    """A reader that yields one already-read message before the connection's stream."""

    def __init__(self, first: bytes, reader: asyncio.StreamReader) -> None:
        self._buf = first
        self._reader = reader

    async def readline(self) -> bytes:
        if self._buf:
            i = self._buf.find(b"\n")
            line, self._buf = self._buf[: i + 1], self._buf[i + 1 :]
            return line
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        if self._buf:
            head, self._buf = self._buf[:n], self._buf[n:]
            if len(head) < n:
                head += await self._reader.readexactly(n - len(head))
            return head
        return await self._reader.readexactly(n)


def serve_tcp(server: Any, host: str, port: int, token: str,
              on_listening: Any = None) -> None:
    """Serve one authenticated client, then return (the server exits with its session)."""
    asyncio.run(_serve(server, host, port, token, on_listening))


async def _serve(server: Any, host: str, port: int, token: str, on_listening: Any) -> None:
    from pygls.exceptions import JsonRpcException
    from pygls.io_ import run_async

    stop_event = threading.Event()
    server._stop_event = stop_event
    done = asyncio.Event()
    claimed = False
    listener: asyncio.Server | None = None

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal claimed
        peer = writer.get_extra_info("peername")
        try:
            if claimed:
                raise Refused("a client is already connected")
            body = await asyncio.wait_for(_read_message(reader), AUTH_TIMEOUT_S)
            msg = check_first_message(body, token)
            if claimed:
                raise Refused("a client is already connected")
        except (Refused, TimeoutError, asyncio.IncompleteReadError, OSError) as exc:
            log.warning("refused TCP connection from %s: %s", peer, exc or type(exc).__name__)
            writer.close()
            return
        claimed = True
        if listener is not None:
            listener.close()  # exactly one client: nobody else can connect from now on
        log.info("TCP client %s authenticated", peer)
        data = json.dumps(msg).encode("utf-8")
        first = b"Content-Length: %d\r\n\r\n" % len(data) + data
        server.protocol.set_writer(writer)

        def on_error(exc: Exception, kind: type[JsonRpcException]) -> None:
            server.report_server_error(exc, kind)

        try:
            await run_async(stop_event=stop_event, reader=_Replay(first, reader),
                            protocol=server.protocol, logger=log, error_handler=on_error)
        finally:
            done.set()

    listener = await asyncio.start_server(on_connection, host, port)
    bound = listener.sockets[0].getsockname()
    if on_listening is not None:
        on_listening(bound[0], bound[1])
    async with listener:
        await done.wait()
    server.shutdown()
