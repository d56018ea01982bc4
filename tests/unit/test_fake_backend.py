"""Tests of the fake OpenAI-compatible backend, driven by the real ``openai`` client.

Every other HTTP-level test trusts this server to look like Mistral/vLLM on the wire and
to report disconnects precisely, so these tests pin that down with the same client the
language server uses (``openai.AsyncOpenAI`` over ``httpx2``), never a mock.  They also
document what the real client does with each fault, which is what the language server's
error handling has to cope with.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.fake_backend.server import WAIT_GUARD_S

MODEL = "devstral-small-latest"
USER: list[Any] = [{"role": "user", "content": "complete this"}]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fb() -> Iterator[FakeBackend]:
    with FakeBackend(models=[MODEL, "codestral-latest"], echo_prefix=True) as backend:
        yield backend


@pytest.fixture
async def client(fb: FakeBackend) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fb.base_url, api_key="test", max_retries=0)
    yield c
    await c.close()


async def _collect(stream: openai.AsyncStream[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return [chunk async for chunk in stream]


def _content(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --------------------------------------------------------------------------- basics


async def test_non_streamed_text_and_recording(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.text("return a + b\n"))
    resp = await client.chat.completions.create(model=MODEL, messages=USER, temperature=0.2)

    assert resp.object == "chat.completion"
    assert resp.model == MODEL
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == "return a + b\n"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 4

    [req] = fb.requests
    await req.wait_done_async()
    assert (req.method, req.path, req.endpoint) == ("POST", "/v1/chat/completions", "chat")
    assert req.body["temperature"] == 0.2 and req.messages == USER and not req.stream
    assert json.loads(req.raw_body) == req.body
    assert req.authorization == "Bearer test"
    assert req.headers["content-type"] == "application/json"
    assert req.status == 200 and req.t_finished is not None and req.t_finished >= req.t_received
    assert not req.client_disconnected and req.t_disconnected is None
    assert req.reply is not None and req.reply.kind == "text"


async def test_a_held_reply_waits_for_release(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.hold()
    fb.enqueue(Reply.text("held", ttft=0.0), Reply.text("later"))
    pending = asyncio.ensure_future(
        client.chat.completions.create(model=MODEL, messages=USER))
    [req] = await fb.wait_for_requests_async(1)
    # Recorded but unanswered while held: a second request round-trips past it.
    other = await client.models.list()
    assert other.data and not pending.done() and req.status is None
    fb.release()
    resp = await asyncio.wait_for(pending, WAIT_GUARD_S)
    assert resp.choices[0].message.content == "held"
    resp = await client.chat.completions.create(model=MODEL, messages=USER)
    assert resp.choices[0].message.content == "later"  # released for good


async def test_streamed_text_follows_openai_chunk_protocol(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.text("def add(a, b):\n    return a + b\n", chunk_chars=5))
    stream = await client.chat.completions.create(
        model=MODEL, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = await _collect(stream)

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    first, finish, usage = chunks[0], chunks[-2], chunks[-1]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert [len(c.choices[0].delta.content or "") for c in chunks[1:-2]] == [5] * 6 + [2]
    assert _content(chunks) == "def add(a, b):\n    return a + b\n"
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert usage.choices == [] and usage.usage is not None and usage.usage.completion_tokens == 8
    assert fb.requests[0].stream and fb.requests[0].chunks_sent == len(chunks)


async def test_usage_chunk_only_when_requested(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.text("x"))
    chunks = await _collect(
        await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_keep_alive_reuses_one_connection(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.default = Reply.text("pass")
    await client.chat.completions.create(model=MODEL, messages=USER)
    await _collect(await client.chat.completions.create(model=MODEL, messages=USER, stream=True))
    await client.chat.completions.create(model=MODEL, messages=USER)
    assert len({r.connection_id for r in fb.requests}) == 1


async def test_stop_sequences_and_max_tokens(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    text = "x = 1\ny = 2\n\ndef f():\n    pass\n"
    fb.enqueue(Reply.text(text), Reply.text(text), Reply.text(text), Reply.text(text))

    resp = await client.chat.completions.create(model=MODEL, messages=USER, stop=["\n\n", "def"])
    assert resp.choices[0].message.content == "x = 1\ny = 2"
    assert resp.choices[0].finish_reason == "stop"

    chunks = await _collect(
        await client.chat.completions.create(model=MODEL, messages=USER, stop="y", stream=True)
    )
    assert _content(chunks) == "x = 1\n"
    assert chunks[-1].choices[0].finish_reason == "stop"

    resp = await client.chat.completions.create(model=MODEL, messages=USER, max_tokens=2)
    assert resp.choices[0].message.content == text[:8]
    assert resp.choices[0].finish_reason == "length"

    resp = await client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=100, stop=["nothing-matches"]
    )
    assert resp.choices[0].message.content == text and resp.choices[0].finish_reason == "stop"


async def test_mistral_prefix_is_echoed_vllm_continue_is_not(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    prefix_msg: Any = {
        "role": "assistant",
        "content": "def add(a, b):\n",
        "prefix": True,
    }
    fb.enqueue(Reply.text("    return a + b\n"), Reply.text("    return a + b\n"))

    resp = await client.chat.completions.create(model=MODEL, messages=[*USER, prefix_msg])
    assert resp.choices[0].message.content == "def add(a, b):\n    return a + b\n"

    chunks = await _collect(
        await client.chat.completions.create(model=MODEL, messages=[*USER, prefix_msg], stream=True)
    )
    assert _content(chunks) == "def add(a, b):\n    return a + b\n"

    fb.echo_prefix = False
    fb.enqueue(Reply.text("    return a + b\n"))
    resp = await client.chat.completions.create(model=MODEL, messages=[*USER, prefix_msg])
    assert resp.choices[0].message.content == "    return a + b\n"

    fb.echo_prefix = True
    fb.enqueue(Reply.text("    return a + b\n"))
    vllm_msg: Any = {"role": "assistant", "content": "def add(a, b):\n"}
    resp = await client.chat.completions.create(
        model=MODEL,
        messages=[*USER, vllm_msg],
        extra_body={"continue_final_message": True, "add_generation_prompt": False},
    )
    assert resp.choices[0].message.content == "    return a + b\n"

    reqs = fb.requests
    assert [r.assistant_prefix for r in reqs] == ["def add(a, b):\n"] * 3 + [None]
    assert [r.continue_final_message for r in reqs] == [False, False, False, True]


# --------------------------------------------------------------------------- tool calls


async def test_streamed_tool_calls_reassemble(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    reply = Reply.tool_calls(
        [
            ("str_replace_editor", {"command": "view", "path": "/workspace/a.py"}),
            ("finish", '{"message": "done", "trunc'),  # garbage JSON is passed through
        ],
        chunk_chars=7,
    )
    fb.enqueue(reply)
    chunks = await _collect(
        await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    )

    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            if delta.id:
                assert not slot["id"], "id must only appear in the first delta of a call"
                slot["id"] = delta.id
                assert delta.function is not None and delta.function.name
                slot["name"] = delta.function.name
            if delta.function is not None and delta.function.arguments:
                slot["arguments"] += delta.function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert [calls[0]["name"], calls[1]["name"]] == ["str_replace_editor", "finish"]
    assert json.loads(calls[0]["arguments"]) == {"command": "view", "path": "/workspace/a.py"}
    assert calls[1]["arguments"] == '{"message": "done", "trunc'
    assert [calls[0]["id"], calls[1]["id"]] == [c.id for c in reply.calls]
    assert all(re.fullmatch(r"[A-Za-z0-9]{9}", c["id"]) for c in calls.values())
    # Arguments arrive in fragments, as OpenAI streams them.
    assert sum(1 for c in chunks if c.choices[0].delta.tool_calls) > 4


async def test_non_streamed_tool_calls(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(
        Reply.tool_calls([("str_replace_editor", {"command": "view"})], content="Let me look.")
    )
    resp = await client.chat.completions.create(model=MODEL, messages=USER)
    msg = resp.choices[0].message
    assert resp.choices[0].finish_reason == "tool_calls"
    assert msg.content == "Let me look."
    assert msg.tool_calls is not None and len(msg.tool_calls) == 1
    call = msg.tool_calls[0]
    assert call.type == "function" and call.function.name == "str_replace_editor"
    assert json.loads(call.function.arguments) == {"command": "view"}
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call.id)


# --------------------------------------------------------------------------- HTTP errors


async def test_429_with_retry_after(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.error(429, "Too many requests", retry_after=7))
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=USER)
    err = info.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "7"
    assert err.code == "rate_limit_exceeded" and "Too many requests" in err.message
    assert fb.requests[0].status == 429


async def test_500_and_custom_error_body(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.error(500, "boom"), Reply.error(502, body="<html>Bad Gateway</html>"))
    with pytest.raises(openai.InternalServerError) as info:
        await _collect(
            await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        )
    assert info.value.status_code == 500 and info.value.type == "server_error"

    with pytest.raises(openai.InternalServerError) as info:
        await client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 502 and "Bad Gateway" in str(info.value.body)


async def test_unscripted_request_fails_loudly(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="no scripted reply"):
        await client.chat.completions.create(model=MODEL, messages=USER)


async def test_default_may_be_a_callable(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.default = lambda req: Reply.text(f"you said {req.messages[-1]['content']}")
    fb.enqueue(Reply.text("scripted first"))
    first = await client.chat.completions.create(model=MODEL, messages=USER)
    second = await client.chat.completions.create(model=MODEL, messages=USER)
    assert first.choices[0].message.content == "scripted first"
    assert second.choices[0].message.content == "you said complete this"
    assert fb.pending == 0


async def test_non_json_body_gets_400_without_consuming_a_reply(fb: FakeBackend) -> None:
    fb.enqueue(Reply.text("kept"))
    async with httpx2.AsyncClient() as http:
        resp = await http.post(fb.base_url + "/chat/completions", content=b"{nope")
    assert resp.status_code == 400 and "error" in resp.json()
    assert fb.pending == 1 and fb.requests[0].body is None


# --------------------------------------------------------------------------- disconnects


async def test_hang_until_client_timeout_records_disconnect(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.hang())
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model=MODEL, messages=USER, timeout=0.2)
    t_raised = time.monotonic()
    req = await fb.requests[0].wait_done_async()
    assert req.client_disconnected and req.t_disconnected is not None
    assert req.status is None  # not even a status line was sent
    assert 0.15 < req.t_disconnected - t0 and req.t_disconnected - t_raised < 0.05


async def test_stalled_stream_times_out_after_first_chunks(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.hang(after_chunks=2))
    got: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APITimeoutError):
        stream = await client.chat.completions.create(
            model=MODEL, messages=USER, stream=True, timeout=0.2
        )
        async for chunk in stream:
            got.append(chunk)
    assert len(got) == 2
    req = await fb.requests[0].wait_done_async()
    assert req.client_disconnected and req.status == 200 and req.chunks_sent == 2


async def test_cancelling_a_streaming_task_closes_the_stream_fast(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.slow_drip("0123456789" * 10, interval=0.02))
    first_delta = asyncio.Event()

    async def consume() -> None:
        stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), 2.0)
    t_cancel = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    req = await fb.requests[0].wait_done_async(timeout=1.0)
    assert req.client_disconnected and req.t_disconnected is not None
    assert req.t_disconnected - t_cancel < 0.05
    assert req.t_finished is None
    assert req.t_first_chunk is not None and req.t_first_chunk >= req.t_received


async def test_leaving_the_stream_context_early_closes_the_stream_fast(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.text("y" * 400, tokens_per_s=200))
    stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        t_close = time.monotonic()
    req = await fb.requests[0].wait_done_async(timeout=1.0)
    assert req.client_disconnected and req.t_disconnected is not None
    assert req.t_disconnected - t_close < 0.05


async def test_reset_mid_stream(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.reset(after_chunks=3))
    got: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError) as info:
        stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        async for chunk in stream:
            got.append(chunk)
    assert not isinstance(info.value, openai.APITimeoutError)
    assert isinstance(info.value.__cause__, httpx2.TransportError)
    assert len(got) == 3
    req = await fb.requests[0].wait_done_async()
    assert req.chunks_sent == 3 and not req.client_disconnected  # the server hung up


async def test_reset_before_any_response_byte(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.reset(after_chunks=0))
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=USER)


# --------------------------------------------------------------------------- malformed data


async def test_malformed_sse_surfaces_as_json_decode_error(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    """The openai client does not wrap a bad ``data:`` payload: callers see JSONDecodeError."""
    fb.enqueue(Reply.malformed_sse(after_chunks=2, content="abcd"))
    got: list[ChatCompletionChunk] = []
    stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            got.append(chunk)
    assert _content(got) == "abcd"


async def test_malformed_json_surfaces_as_json_decode_error(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.malformed_json())
    with pytest.raises(json.JSONDecodeError):
        await client.chat.completions.create(model=MODEL, messages=USER)


async def test_in_band_stream_error_raises_api_error(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.stream_error("engine died", after_chunks=1))
    stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(openai.APIError, match="engine died") as info:
        await _collect(stream)
    assert not isinstance(info.value, openai.APIStatusError)


async def test_empty_choices_are_passed_through(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    """The client accepts ``choices: []``; indexing ``choices[0]`` is the caller's problem."""
    fb.enqueue(Reply.empty_choices(), Reply.empty_choices())
    resp = await client.chat.completions.create(model=MODEL, messages=USER)
    assert resp.choices == []
    with pytest.raises(IndexError):
        _ = resp.choices[0]

    chunks = await _collect(
        await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    )
    assert chunks and all(c.choices == [] for c in chunks)


# --------------------------------------------------------------------------- other endpoints


async def test_models_and_unknown_routes(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL, "codestral-latest"]
    assert (await client.models.retrieve(MODEL)).id == MODEL
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gpt-4")
    with pytest.raises(openai.NotFoundError, match="Unknown route"):
        await client.embeddings.create(model=MODEL, input="x")
    assert fb.pending == 0 and all(r.endpoint is None for r in fb.requests)


async def test_legacy_completions_with_suffix(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.text("a + b"), Reply.text("a + b\n\nprint(1)", chunk_chars=2))
    resp = await client.completions.create(
        model=MODEL, prompt="def add(a, b):\n    return ", suffix="\n\nadd(1, 2)\n", max_tokens=16
    )
    assert resp.object == "text_completion"
    assert resp.choices[0].text == "a + b" and resp.choices[0].finish_reason == "stop"

    stream = await client.completions.create(
        model=MODEL, prompt="def add(a, b):\n    return ", suffix="\n", stream=True, stop=["\n\n"]
    )
    chunks = [c async for c in stream]
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks) == "a + b"
    assert chunks[-1].choices[0].finish_reason == "stop"

    first, second = fb.requests
    assert first.endpoint == "completion" and first.path == "/v1/completions"
    assert first.prompt == "def add(a, b):\n    return " and first.suffix == "\n\nadd(1, 2)\n"
    assert second.stream and second.suffix == "\n"


async def test_mistral_fim_endpoint(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.text("a + b"), Reply.text("a + b"))
    body = {"model": "codestral-latest", "prompt": "return ", "suffix": "\n", "max_tokens": 8}
    resp = await client.post("/fim/completions", body=body, cast_to=ChatCompletion)
    assert resp.choices[0].message.content == "a + b" and resp.model == "codestral-latest"

    stream = await client.post(
        "/fim/completions",
        body={**body, "stream": True},
        cast_to=ChatCompletionChunk,
        stream=True,
        stream_cls=openai.AsyncStream[ChatCompletionChunk],
    )
    chunks = [c async for c in stream]
    assert _content(chunks) == "a + b"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None  # Mistral puts usage on the last chunk
    reqs = fb.requests
    assert [r.endpoint for r in reqs] == ["fim", "fim"]
    assert reqs[0].prompt == "return " and reqs[0].suffix == "\n"


async def test_queue_is_shared_by_completion_endpoints(
    fb: FakeBackend, client: openai.AsyncOpenAI
) -> None:
    fb.enqueue(Reply.text("one"), Reply.text("two"))
    legacy = await client.completions.create(model=MODEL, prompt="p")
    chat = await client.chat.completions.create(model=MODEL, messages=USER)
    assert (legacy.choices[0].text, chat.choices[0].message.content) == ("one", "two")


# --------------------------------------------------------------------------- pacing


async def test_ttft_and_token_rate(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    # 10 chunks of 4 chars = 10 tokens at 200 tok/s: 45 ms after a 100 ms ttft.
    fb.enqueue(Reply.text("abcd" * 10, ttft=0.1, tokens_per_s=200))
    t0 = time.monotonic()
    stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    arrivals: list[float] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) == 10
    assert 0.09 < arrivals[0] - t0 < 0.5
    assert arrivals[-1] - arrivals[0] < 0.3
    # The pacing itself, timed where it happens: the client's reads may coalesce two chunks
    # that the server sent 5 ms apart, which made a client-side lower bound flaky. The schedule
    # is absolute from the request (a late first chunk lets the next ones catch up), so the
    # bound is too: the last delta is never sent before ttft + 9 gaps (within the event
    # loop's clock resolution).
    req = await fb.requests[0].wait_done_async()
    assert req.t_first_chunk is not None and req.t_finished is not None
    assert req.t_finished - req.t_received > 0.1 + 9 * 0.005 - 0.002


def test_prefill_cost_grows_with_the_prompt() -> None:
    # The realistic bench profile: ttft 150 ms + 0.02 ms per prompt token.
    reply = Reply.from_dict({"kind": "text", "content": "x", "ttft": 0.15,
                             "prefill_s_per_token": 0.02e-3})
    assert reply.first_token_delay(0) == 0.15
    assert abs(reply.first_token_delay(4000) - 0.23) < 1e-9
    assert Reply.text("x", ttft=0.2).first_token_delay(4000) == 0.2


async def test_prefill_delays_the_first_chunk(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.text("abcd", ttft=0.0, prefill_s_per_token=0.001))
    content = "word " * 400  # 2,000 characters = 500 estimated prompt tokens
    await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}])
    req = await fb.requests[0].wait_done_async()
    assert req.t_finished is not None
    # The server sleeps until its schedule: a lower bound that cannot flake.
    assert req.t_finished - req.t_received >= 0.5


async def test_slow_drip_trips_a_short_timeout(fb: FakeBackend, client: openai.AsyncOpenAI) -> None:
    fb.enqueue(Reply.slow_drip("abc", interval=0.5))
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model=MODEL, messages=USER, timeout=0.1)
    req = await fb.requests[0].wait_done_async()
    assert req.client_disconnected


# --------------------------------------------------------------------------- sync and threads


def test_sync_client_and_waiting_from_another_thread() -> None:
    with FakeBackend(default=Reply.text("pass")) as fb:
        results: list[str | None] = []

        def worker() -> None:
            with openai.OpenAI(base_url=fb.base_url, api_key="k", max_retries=0) as c:
                resp = c.chat.completions.create(model=MODEL, messages=USER)
                results.append(resp.choices[0].message.content)

        thread = threading.Thread(target=worker)
        thread.start()
        [req] = fb.wait_for_requests(1, timeout=5.0)
        assert isinstance(req, RecordedRequest) and req.authorization == "Bearer k"
        thread.join(5.0)
        assert results == ["pass"]
        with pytest.raises(TimeoutError):
            fb.wait_for_requests(2, timeout=0.05)
        fb.reset()
        assert fb.requests == []
    with pytest.raises(RuntimeError):
        _ = fb.base_url  # stopped


async def test_async_context_manager_and_no_auth_recorded() -> None:
    async with FakeBackend() as fb:
        assert fb.base_url.startswith("http://127.0.0.1:")
        async with httpx2.AsyncClient() as http:
            resp = await http.get(fb.base_url + "/models")
        assert resp.status_code == 200 and resp.json()["object"] == "list"
        [req] = await fb.wait_for_requests_async(1)
        assert req.authorization is None


def test_reply_from_dict() -> None:
    reply = Reply.from_dict({"kind": "tool_calls", "calls": [["view", {"path": "a.py"}]]})
    assert reply.calls[0].name == "view" and reply.calls[0].parsed_arguments() == {"path": "a.py"}
    assert Reply.from_dict({"kind": "error", "status": 429, "retry_after": 1}).retry_after == 1
    with pytest.raises(ValueError):
        Reply.from_dict({"kind": "nope"})


def test_cli_prints_ready_and_serves(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"kind": "text", "content": "scripted"}]))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.fake_backend", "--port", "0"),
            *("--reply-text", "fallback", "--script", str(script)),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"READY (http://127\.0\.0\.1:\d+/v1)\n", line)
        assert match, line
        with openai.OpenAI(base_url=match.group(1), api_key="k", max_retries=0) as c:
            answers = [
                c.chat.completions.create(model=MODEL, messages=USER).choices[0].message.content
                for _ in range(2)
            ]
        assert answers == ["scripted", "fallback"]
    finally:
        proc.terminate()
        proc.wait(5.0)
        if proc.stdout is not None:
            proc.stdout.close()
