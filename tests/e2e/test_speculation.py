"""A call started before the typing pause (local endpoint, after a word boundary) is kept
while the user types along it, across VS Code's cancellation of each previous request, and
closed as soon as the text diverges (completion/speculation.py, completion/pipeline.py)."""

from __future__ import annotations

import asyncio

from lsprotocol import types

from tests.fake_backend import FakeBackend, Reply
from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import (
    cancel_request,
    change_doc,
    fake_env,
    inline_params,
    lsp_session,
    open_doc,
    send_cancellable,
)

URI = "file:///tmp/devstral-e2e/spec.py"
SOURCE = "def add(a, b):\n    r1\n"


async def test_typing_along_a_started_call_sends_nothing_new(fake: FakeBackend) -> None:
    # A slow first token keeps the call open while the keys arrive (if it finished first,
    # the typed-through cache must answer just the same).
    fake.enqueue(Reply.text("= a + b", ttft=1.0))
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, _):
        open_doc(lsp, URI, SOURCE)
        version, col, previous = 1, 6, None
        for key in (" ", "=", " "):
            if previous is not None:
                cancel_request(lsp, previous)  # what VS Code does on every keystroke
            version += 1
            change_doc(lsp, URI, version, (1, col), (1, col), key)
            col += 1
            previous, future = send_cancellable(
                lsp, types.TEXT_DOCUMENT_INLINE_COMPLETION,
                inline_params(URI, 1, col, invoked=False))
            if key == " " and col == 7:
                await fake.wait_for_requests_async(1)  # started before the pause
        result = await asyncio.wait_for(future, WAIT_GUARD_S)
        assert result is not None and result.items[0].insert_text == "    r1 = a + b"
        [req] = fake.completion_requests
        await req.wait_done_async()
        assert not req.client_disconnected
        stats = await lsp.protocol.send_request_async("devstral/stats", {})
        starts = (stats["speculative_starts"] if isinstance(stats, dict)
                  else stats.speculative_starts)
        assert starts >= 1


async def test_a_started_call_is_dropped_when_the_text_diverges(fake: FakeBackend) -> None:
    # The started call predicts "= a + b"; the user types "(" instead. Whether the server
    # sees the first streamed chunk before the keystroke (the call is closed at once) or
    # after (it waits for the answer and finds it does not fit), the suggestion shown is the
    # one of a new call for the text as typed.
    fake.enqueue(Reply.text("= a + b", ttft=0.05, tokens_per_s=4))
    fake.default = Reply.text("a, b)")
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, _):
        open_doc(lsp, URI, SOURCE)
        change_doc(lsp, URI, 2, (1, 6), (1, 6), " ")
        first, _future = send_cancellable(
            lsp, types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(URI, 1, 7, invoked=False))
        [req] = await fake.wait_for_requests_async(1)
        while req.t_first_chunk is None and not req.done:
            await asyncio.sleep(0.01)  # polls an event (the first chunk), not a duration
        cancel_request(lsp, first)
        change_doc(lsp, URI, 3, (1, 7), (1, 7), "(")
        _second, later = send_cancellable(
            lsp, types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(URI, 1, 8, invoked=False))
        result = await asyncio.wait_for(later, WAIT_GUARD_S)
        assert result is not None and result.items[0].insert_text == "    r1 (a, b)"
        assert len(fake.completion_requests) == 2
