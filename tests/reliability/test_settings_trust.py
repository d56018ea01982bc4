"""Issue 12 defect 1 over stdio: one schema and one spelling for every settings layer; a project
file is an allow-list that cannot redirect requests, carry a key, raise costs or fail
`initialize`. Each test failed on the code before the fix (aliases were accepted, a remote
project URL was used without a key, a deeply nested file failed initialize, debounceMs 0 from
a repository applied)."""

from __future__ import annotations

import json
from pathlib import Path

from lsprotocol import types

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import MODEL, TEST_KEY, fake_env, inline, open_doc, server_env

from .helpers import session

ALIAS_KEY = "sk-alias-" + "B" * 24 + "4c4c"
TEXT = "def add(a, b):\n    return a\n"


def _messages(lsp, kind: types.MessageType | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.message for m in lsp.messages if kind is None or m.type == kind]


async def test_snake_case_key_in_initialization_options_is_refused(fake: FakeBackend) -> None:
    fake.default = Reply.text(" + b")
    env = {k: v for k, v in fake_env(fake).items() if k != "DEVSTRAL_API_KEY"}
    async with session(env, init_options={"api_key": ALIAS_KEY, "max_tokens": 16}) as (lsp, _):
        open_doc(lsp, "file:///tmp/trust/a.py", TEXT)
        await inline(lsp, "file:///tmp/trust/a.py", 1, 12)
        shown = _messages(lsp, types.MessageType.Warning)
    for req in fake.completion_requests:
        assert ALIAS_KEY not in (req.authorization or "")
        assert req.body["max_tokens"] != 16
    [warning] = shown
    assert "initializationOptions" in warning and "'api_key'" in warning
    assert "'apiKey'" in warning and ALIAS_KEY not in warning


async def test_project_file_aliases_cannot_redirect_the_users_key(
        fake: FakeBackend, tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    with FakeBackend(models=["evil"], default=Reply.text(" + b")) as attacker:
        (root / ".devstral.json").write_text(json.dumps({
            "base_url": attacker.base_url, "api_key": ALIAS_KEY, "provider": "openai"}))
        fake.default = Reply.text(" + b")
        async with session(fake_env(fake), root=root) as (lsp, _):
            uri = (root / "a.py").as_uri()
            open_doc(lsp, uri, TEXT)
            got = await inline(lsp, uri, 1, 12)
            shown = " ".join(_messages(lsp))
        assert attacker.requests == []
    assert got is not None and got.items
    assert {r.authorization for r in fake.completion_requests} == {f"Bearer {TEST_KEY}"}
    for key in ("base_url", "api_key", "provider"):
        assert f"'{key}'" in shown
    assert str(root / ".devstral.json") in shown and ALIAS_KEY not in shown


async def test_project_file_cannot_send_buffers_to_a_remote_url_without_a_key(
        tmp_path: Path) -> None:
    """No user key: the repository would still receive the user's buffers from every project."""
    root = tmp_path / "cloned"
    root.mkdir()
    (root / ".devstral.json").write_text(json.dumps({
        "provider": "openai", "baseUrl": "http://collector.example:8000/v1", "model": "x"}))
    async with session(server_env({}), root=root) as (lsp, _):
        uri = (root / "a.py").as_uri()
        open_doc(lsp, uri, TEXT)
        got = await inline(lsp, uri, 1, 12)
        warnings = _messages(lsp, types.MessageType.Warning)
    assert got is None or not got.items
    [refusal] = [w for w in warnings if "baseUrl" in w]
    assert "trustedEndpoints" in refusal and ".devstral.json" in refusal


async def test_project_url_the_user_trusts_is_used(tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    with FakeBackend(models=[MODEL], default=Reply.text(" + b")) as team:
        # Loopback is allowed anyway; a trusted URL is the user's explicit confirmation.
        (root / ".devstral.json").write_text(json.dumps({
            "provider": "vllm", "baseUrl": team.base_url, "model": MODEL}))
        async with session(server_env({}), root=root,
                           init_options={"trustedEndpoints": [team.base_url]}) as (lsp, _):
            uri = (root / "a.py").as_uri()
            open_doc(lsp, uri, TEXT)
            got = await inline(lsp, uri, 1, 12)
        assert got is not None and got.items and len(team.completion_requests) == 1


async def test_hostile_project_file_costs_one_message_never_initialize(
        fake: FakeBackend, tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    (root / ".devstral.json").write_text("[" * 30_000 + "]" * 30_000)
    fake.default = Reply.text(" + b")
    async with session(fake_env(fake), root=root) as (lsp, result):
        assert result.capabilities is not None
        uri = (root / "a.py").as_uri()
        open_doc(lsp, uri, TEXT)
        got = await inline(lsp, uri, 1, 12)
        shown = _messages(lsp, types.MessageType.Warning)
    assert got is not None and got.items
    assert len(shown) == 1 and ".devstral.json" in shown[0]


async def test_project_file_only_moves_costs_the_cheaper_way(
        fake: FakeBackend, tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    (root / ".devstral.json").write_text(json.dumps({
        "maxTokens": 4096, "contextTokens": 512, "debounceMs": 0}))
    fake.default = Reply.text(" + b")
    async with session(fake_env(fake), root=root) as (lsp, _):
        uri = (root / "a.py").as_uri()
        open_doc(lsp, uri, TEXT)
        await inline(lsp, uri, 1, 12)
        [shown] = _messages(lsp, types.MessageType.Warning)
    assert fake.completion_requests[-1].body["max_tokens"] <= 128
    assert "'maxTokens'" in shown and "'debounceMs'" in shown and "contextTokens" not in shown
