"""Just enough HTTP/1.1 on asyncio streams for the fake backend.

Hand-written instead of using ``http.server`` or a framework because the tests need
exact control over the transport: when each byte leaves, aborting with an RST in the
middle of a chunked body, and noticing *within milliseconds* that the client hung up
(the LSP server must close its HTTP stream promptly when a request is cancelled).

The connection keeps its own receive buffer so that, while a response is being written,
a watcher task can keep reading the socket: EOF or a reset there means the client went
away, and any bytes read (a pipelined request) are kept for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["BadRequest", "ClientGone", "Connection", "RequestHead", "status_line"]

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
_READ_SIZE = 65536


class BadRequest(Exception):
    """The bytes received are not a request we can parse; answer 400 and close."""


class ClientGone(Exception):
    """The client closed or reset the connection; ``at`` is when we noticed (monotonic)."""

    def __init__(self, at: float) -> None:
        super().__init__(f"client disconnected at {at:.6f}")
        self.at = at


@dataclass(slots=True)
class RequestHead:
    """Parsed request line and headers (header names lower-cased, repeats comma-joined)."""

    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")


class Connection:
    """One accepted TCP connection: buffered request reading and fault-aware writing."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.id = conn_id
        self._buf = bytearray()
        self.eof = False
        self.aborted = False

    # ------------------------------------------------------------------ reading

    async def _fill(self) -> bool:
        """Read more bytes into the buffer; False at EOF (or reset)."""
        if self.eof:
            return False
        try:
            data = await self.reader.read(_READ_SIZE)
        except ConnectionError:
            data = b""
        if not data:
            self.eof = True
            return False
        self._buf += data
        return True

    async def _read_until(self, sep: bytes, limit: int) -> bytes | None:
        start = 0
        while True:
            idx = self._buf.find(sep, start)
            if idx >= 0:
                out = bytes(self._buf[:idx])
                del self._buf[: idx + len(sep)]
                return out
            if len(self._buf) > limit:
                raise BadRequest("header section too large")
            start = max(0, len(self._buf) - len(sep) + 1)
            if not await self._fill():
                return None

    async def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not await self._fill():
                raise BadRequest("connection closed inside the request body")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def read_head(self) -> RequestHead | None:
        """Next request's head, or None if the client closed an idle connection."""
        # Tolerate stray CRLFs between requests (RFC 9112 §2.2).
        while self._buf[:2] == b"\r\n":
            del self._buf[:2]
        raw = await self._read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
        if raw is None:
            if self._buf.strip():
                raise BadRequest("connection closed inside the request head")
            return None
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(f"bad request line {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest(f"bad header line {line!r}")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return RequestHead(method=parts[0], target=parts[1], version=parts[2], headers=headers)

    async def read_body(self, head: RequestHead) -> bytes:
        """The request body: Content-Length or chunked; ``Expect: 100-continue`` honoured."""
        if head.headers.get("expect", "").lower() == "100-continue":
            await self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        te = head.headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            return await self._read_chunked()
        length_text = head.headers.get("content-length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
        except ValueError as exc:
            raise BadRequest(f"bad content-length {length_text!r}") from exc
        if length < 0 or length > MAX_BODY_BYTES:
            raise BadRequest("content-length out of range")
        return await self._read_exact(length)

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = await self._read_until(b"\r\n", 1024)
            if size_line is None:
                raise BadRequest("connection closed inside a chunked body")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise BadRequest("bad chunk size") from exc
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = await self._read_until(b"\r\n", MAX_HEAD_BYTES)
                    if not trailer:
                        return bytes(body)
            body += await self._read_exact(size)
            await self._read_exact(2)
            if len(body) > MAX_BODY_BYTES:
                raise BadRequest("body too large")

    async def watch_for_disconnect(self) -> float:
        """Read until EOF/reset while a response is being produced; return when it happened.

        Bytes that arrive meanwhile (a pipelined request) are kept in the buffer.  Run as a
        task and cancel it when the response is complete.
        """
        while await self._fill():
            pass
        return time.monotonic()

    # ------------------------------------------------------------------ writing

    async def send(self, data: bytes) -> None:
        """Write and drain; raise :class:`ClientGone` if the peer is gone."""
        if self.aborted or self.writer.is_closing():
            raise ClientGone(time.monotonic())
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ClientGone(time.monotonic()) from exc
        if self.writer.is_closing():
            raise ClientGone(time.monotonic())

    async def send_chunk(self, data: bytes) -> None:
        """One ``Transfer-Encoding: chunked`` chunk (empty data is skipped, not a terminator)."""
        if data:
            await self.send(b"%x\r\n%b\r\n" % (len(data), data))

    async def end_chunks(self) -> None:
        await self.send(b"0\r\n\r\n")

    def abort(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), discarding unsent data."""
        self.aborted = True
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        """Graceful close (FIN) unless already aborted."""
        if self.aborted:
            return
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), timeout=1.0)
