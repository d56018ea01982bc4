"""Fake OpenAI-compatible backend for devstral-lsp tests and benchmarks.

Devstral Small cannot be reached from CI, so tests point the real ``openai`` client at
this stdlib-only HTTP/1.1 server on ``127.0.0.1``.  It speaks the OpenAI / Mistral / vLLM
wire format (chat, legacy completions, Mistral FIM, models) and can misbehave on cue:
HTTP errors with ``Retry-After``, hangs, TCP resets mid-stream, malformed SSE/JSON, empty
choices, slow drips, in-band stream errors.  It records every request, including when
the client hung up.  See :mod:`tests.fake_backend.server` for the full reference.

Sync (or from another thread)::

    with FakeBackend(default=Reply.text("pass")) as fb:
        client = openai.OpenAI(base_url=fb.base_url, api_key="k", max_retries=0)
        fb.enqueue(Reply.text("return a + b\\n"))
        ...
        fb.wait_for_requests(1)

Async::

    async with FakeBackend() as fb:
        fb.enqueue(Reply.tool_calls([("str_replace_editor", {"command": "view"})]))
        ...
        [req] = await fb.wait_for_requests_async(1)
        await req.wait_done_async()

CLI (for editor tests and manual tries)::

    python -m tests.fake_backend --port 0 --reply-text "return a + b"
    # prints "READY http://127.0.0.1:PORT/v1" and serves until killed
"""

from .replies import Reply, RetryAfterDate, ToolCall, make_tool_call_id
from .server import FakeBackend, RecordedRequest, ReplySource

__all__ = [
    "FakeBackend",
    "RecordedRequest",
    "Reply",
    "ReplySource",
    "RetryAfterDate",
    "ToolCall",
    "make_tool_call_id",
]
