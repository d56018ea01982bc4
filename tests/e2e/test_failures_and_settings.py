"""Backend failures, missing configuration and the settings layers, end to end."""

from __future__ import annotations

import time

from lsprotocol import types

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import (
    TEST_KEY,
    fake_env,
    inline,
    lsp_session,
    open_doc,
    server_env,
    stats,
    wait_for_configuration_pull,
    wait_for_stats,
)

URI = "file:///tmp/devstral-e2e/f.py"
TEXT = "def add(a, b):\n    return a\n"


def _errors(lsp) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.message for m in lsp.messages if m.type == types.MessageType.Error]


async def test_no_key_says_exactly_what_to_set(fake: FakeBackend) -> None:
    async with lsp_session(server_env({})) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        for _ in range(3):
            got = await inline(lsp, URI, 1, 12)
            assert got is not None and not got.items
        errors = _errors(lsp)
        assert len(errors) == 1
        assert "DEVSTRAL_API_KEY" in errors[0] and "MISTRAL_API_KEY" in errors[0]
    assert fake.requests == []


async def test_generic_provider_without_endpoint_names_the_variable() -> None:
    async with lsp_session(server_env({"DEVSTRAL_PROVIDER": "openai"})) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and not got.items
        [error] = _errors(lsp)
        assert "DEVSTRAL_BASE_URL" in error


async def test_outage_one_message_backoff_invoked_still_tries_then_recovers(
    fake: FakeBackend,
) -> None:
    fake.enqueue(Reply.error(503, "overloaded"), Reply.error(503, "overloaded"))
    async with lsp_session(fake_env(fake), init_options={"debounceMs": 0}) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        assert (await inline(lsp, URI, 1, 12, invoked=False)).items == ()  # type: ignore[union-attr]
        # Automatic requests back off: no backend call.
        assert (await inline(lsp, URI, 1, 12, invoked=False)).items == ()  # type: ignore[union-attr]
        assert len(fake.completion_requests) == 1
        # An explicit request always tries the backend (and fails again: no second popup).
        assert (await inline(lsp, URI, 1, 12, invoked=True)).items == ()  # type: ignore[union-attr]
        assert len(fake.completion_requests) == 2
        fake.enqueue(Reply.text(" + b"))
        got = await inline(lsp, URI, 1, 12, invoked=True)
        assert got is not None and got.items[0].insert_text == "    return a + b"
        errors = _errors(lsp)
        assert len(errors) == 1 and "503" in errors[0]
        logs = " ".join(m.message for m in lsp.log_messages)
        assert "answers again" in logs
        assert TEST_KEY not in logs and TEST_KEY not in " ".join(errors)


async def test_retry_after_is_honoured_for_automatic_requests(fake: FakeBackend) -> None:
    fake.enqueue(Reply.error(429, "slow down", retry_after=1))
    async with lsp_session(fake_env(fake), init_options={"debounceMs": 0}) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        await inline(lsp, URI, 1, 12, invoked=False)
        await inline(lsp, URI, 1, 12, invoked=False)
        assert len(fake.completion_requests) == 1
        assert (await stats(lsp))["backoffS"] == 1.0  # the Retry-After, not a guess
        await wait_for_stats(lsp, lambda s: s["backoffRemainingS"] == 0, "out of backoff")
        fake.enqueue(Reply.text(" + b"))
        got = await inline(lsp, URI, 1, 12, invoked=False)
        assert got is not None and got.items and len(fake.completion_requests) == 2


async def test_hanging_backend_is_cut_at_the_deadline(fake: FakeBackend) -> None:
    fake.enqueue(Reply.hang())
    async with lsp_session(fake_env(fake), init_options={"timeoutMs": 400}, warm=True) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        started = time.monotonic()
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and not got.items
        assert time.monotonic() - started < 3.0
        [error] = _errors(lsp)
        assert "did not answer in time" in error
    [req] = fake.requests
    assert req.wait_done().client_disconnected


async def test_reset_and_malformed_stream_give_empty_results(fake: FakeBackend) -> None:
    fake.enqueue(Reply.reset(after_chunks=1), Reply.malformed_sse(), Reply.empty_choices())
    async with lsp_session(fake_env(fake)) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        for _ in range(3):
            got = await inline(lsp, URI, 1, 12)
            assert got is not None and not got.items
        fake.enqueue(Reply.text(" + b"))
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and got.items[0].insert_text == "    return a + b"


async def test_settings_precedence_and_invalid_values(fake: FakeBackend) -> None:
    env = fake_env(fake, DEVSTRAL_MODEL="from-env")
    async with lsp_session(
        env,
        init_options={"model": "from-init", "maxTokens": "lots", "temperature": 0.05},
        configuration={"model": "from-config"},
    ) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        fake.enqueue(Reply.text(" + b"))
        await inline(lsp, URI, 1, 12)
        warnings = [m.message for m in lsp.messages if m.type == types.MessageType.Warning]
        assert any("maxTokens" in w for w in warnings)
        body = fake.completion_requests[-1].body
        assert body["model"] == "from-config"
        assert body["temperature"] == 0.05
        assert body["max_tokens"] == 128  # the default survives the invalid value

        # didChangeConfiguration pulls the section again.
        lsp.set_configuration({"model": "changed", "maxTokens": 32}, section="devstral")
        pulls = lsp.configuration_pulls  # type: ignore[attr-defined]
        lsp.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=None))
        await wait_for_configuration_pull(lsp, pulls)
        await wait_for_stats(lsp, lambda s: s["model"] == "changed", "the pulled model applied")
        fake.enqueue(Reply.text(" + b"))
        await inline(lsp, URI, 1, 12)
        body = fake.completion_requests[-1].body
        assert body["model"] == "changed" and body["max_tokens"] == 32


async def test_init_options_beat_environment(fake: FakeBackend) -> None:
    env = fake_env(fake, DEVSTRAL_MODEL="from-env")
    async with lsp_session(env, client="neovim-0.7.2",
                           init_options={"model": "from-init"}) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        fake.enqueue(Reply.text(" + b"))
        await inline(lsp, URI, 1, 12)
    assert fake.completion_requests[-1].body["model"] == "from-init"


async def test_project_file_cannot_redirect_the_users_key(fake: FakeBackend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".devstral.json").write_text(
        '{"baseUrl": "http://127.0.0.1:9/v1", "apiKey": "sk-repo-key-0000000000", '
        '"maxTokens": 40}')
    fake.enqueue(Reply.text(" + b"))
    async with lsp_session(fake_env(fake), root=tmp_path) as (lsp, _):
        uri = (tmp_path / "f.py").as_uri()
        open_doc(lsp, uri, TEXT)
        got = await inline(lsp, uri, 1, 12)
        assert got is not None and got.items
        warnings = " ".join(m.message for m in lsp.messages
                            if m.type == types.MessageType.Warning)
        assert "'baseUrl' is refused" in warnings and "'apiKey' is refused" in warnings
    [req] = fake.completion_requests
    assert req.authorization == f"Bearer {TEST_KEY}"
    assert req.body["max_tokens"] == 40  # harmless project settings still apply
