"""The model gateway against the fake backend: one parsed reply type, usage per call (reported
or estimated), the observer's events, the budget refusal and the one key masker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lsp_server.model.client import BackendError, ModelClient
from lsp_server.model.endpoint import Endpoint
from lsp_server.model.prompts import ModelRequest
from lsp_server.model.tool_calls import ToolCall
from tests.fake_backend import FakeBackend, Reply

KEY = "sk-gateway-test-0123456789abcdef"


class Recorder:
    def __init__(self, refuse: str | None = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.refuse = refuse

    def refusal(self, feature: str) -> str | None:
        return self.refuse

    def call_started(self, feature: str) -> None:
        self.events.append(("started", feature))

    def call_finished(self, feature: str) -> None:
        self.events.append(("finished", feature))

    def model_answered(self, feature: str, model: str, usage: Any, provider: str) -> None:
        self.events.append(("answered", feature, model, usage, provider))

    def model_failed(self, feature: str, error: BackendError) -> None:
        self.events.append(("failed", feature, error.kind))


@pytest.fixture
def fb() -> Iterator[FakeBackend]:
    with FakeBackend(models=["m"]) as backend:
        yield backend


def gateway(fb: FakeBackend, observer: Recorder, provider: str = "mistral") -> ModelClient:
    return ModelClient(Endpoint(provider=provider, base_url=fb.base_url, model="m", api_key=KEY),
                       observer=observer, cache_scope=lambda: "/ws")


async def test_chat_parses_tool_calls_and_reports_usage(fb: FakeBackend) -> None:
    rec = Recorder()
    fb.enqueue(Reply.tool_calls([("str_replace_editor", {"command": "view", "path": "/w"})]),
               Reply.text('[TOOL_CALLS]finish[ARGS]{"message": "ok"}'))
    client = gateway(fb, rec)
    first = await client.chat(messages=[{"role": "user", "content": "hi"}], timeout_s=10,
                              tools=[{"type": "function", "function": {"name": "x"}}],
                              tool_choice="auto", feature="agent")
    [call] = first.tool_calls
    assert call.name == "str_replace_editor" and json.loads(call.arguments)["command"] == "view"
    assert call.id is not None and not first.usage.estimated and first.usage.prompt_tokens > 0
    second = await client.chat(messages=[{"role": "user", "content": "go"}], timeout_s=10)
    assert second.tool_calls == [ToolCall("finish", '{"message": "ok"}')]
    assert rec.events[0] == ("started", "agent") and rec.events[2] == ("finished", "agent")
    assert rec.events[1][:3] == ("answered", "agent", "m") and rec.events[1][4] == "mistral"
    body = fb.requests[0].body
    assert body["tool_choice"] == "auto" and body["prompt_cache_key"].startswith("dlsp-")
    assert "stream_options" not in body  # only streams ask for usage chunks
    await client.aclose()


async def test_stream_without_reported_usage_is_estimated(fb: FakeBackend) -> None:
    rec = Recorder()
    fb.usage_profile = "none"
    fb.enqueue(Reply.text("return a + b"))
    client = gateway(fb, rec, provider="ollama")
    request = ModelRequest("chat", {"model": "m", "messages": [
        {"role": "user", "content": "def add(a, b):\n    "}]})
    result = await client.stream_completion(request, timeout_s=10)
    assert result.text == "return a + b"
    assert result.usage.estimated and result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert fb.requests[0].body["stream_options"] == {"include_usage": True}
    assert "prompt_cache_key" not in fb.requests[0].body
    await client.aclose()


async def test_refusal_sends_nothing_and_errors_are_masked(fb: FakeBackend) -> None:
    client = gateway(fb, Recorder(refuse="budget reached"))
    with pytest.raises(BackendError) as refused:
        await client.chat(messages=[{"role": "user", "content": "x"}], timeout_s=10)
    assert refused.value.kind == "budget" and fb.requests == []
    rec = Recorder()
    client = gateway(fb, rec)
    fb.enqueue(Reply.error(401, f"invalid key {KEY}"))
    with pytest.raises(BackendError) as failed:
        await client.chat(messages=[{"role": "user", "content": "x"}], timeout_s=10)
    assert failed.value.kind == "auth" and KEY not in failed.value.message
    assert "***" in failed.value.message
    assert rec.events == [("started", "action"), ("failed", "action", "auth"),
                          ("finished", "action")]
    await client.aclose()
