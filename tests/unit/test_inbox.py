"""Messages in transit between the stdio reader thread and the handlers (lsp_server/inbox.py)."""

from __future__ import annotations

import asyncio
import io

from lsp_server.bootstrap import Replayed
from lsp_server.inbox import INBOX, Inbox


async def test_nothing_in_transit_returns_at_once() -> None:
    inbox = Inbox()
    assert inbox.in_transit() == 0
    assert await inbox.drained(timeout_s=10) is True


async def test_waits_until_the_started_messages_are_handled() -> None:
    inbox = Inbox()
    inbox.note_started()
    inbox.note_started()
    loop = asyncio.get_running_loop()
    waiter = asyncio.ensure_future(inbox.drained(timeout_s=10))
    await asyncio.sleep(0.01)
    assert not waiter.done() and inbox.in_transit() == 2
    inbox.note_handled()
    await asyncio.sleep(0.01)
    assert not waiter.done()
    loop.call_soon(inbox.note_handled)
    assert await waiter is True and inbox.in_transit() == 0


async def test_a_message_that_never_arrives_is_waited_for_once() -> None:
    inbox = Inbox()
    inbox.note_started()  # e.g. a body pygls could not parse: no handler ever runs
    assert await inbox.drained(timeout_s=0.01) is False
    assert inbox.in_transit() == 0
    assert await inbox.drained(timeout_s=10) is True


def test_the_stdio_reader_counts_each_message_it_starts() -> None:
    body = b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}'
    msg = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    head, rest = msg[:30], msg[30:] + b"content-length: 2\r\nContent-Type: x\r\n\r\n{}"
    reader = Replayed(head, io.BytesIO(rest))
    before = INBOX.started
    assert reader.readline().startswith(b"Content-Length")
    assert INBOX.started == before + 1
    assert reader.readline() == b"\r\n"
    assert reader.read(len(body)) == body
    assert INBOX.started == before + 1
    for _ in range(3):
        reader.readline()
    assert INBOX.started == before + 2  # header names are case-insensitive; others not counted
