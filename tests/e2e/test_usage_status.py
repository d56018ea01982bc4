"""Prompt caching, the token/cost meter, the daily budget and `devstral/status`, over stdio
against the fake backend answering like the providers (usage only when asked, Mistral's cached
tokens per prompt_cache_key, no usage at all)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fake_backend import FakeBackend, Reply
from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import (
    REPO,
    TEST_KEY,
    inline,
    lsp_session,
    open_doc,
    server_env,
)
from tests.reliability.helpers import RawServer, init_params

MODEL = "mistral-small-latest"
# A long stable file: consecutive requests share a prefix of well over 64 tokens.
BODY = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n" for i in range(40))
TEXT = BODY + "def add(a, b):\n    return a\n"
LINE, COL = TEXT.count("\n") - 1, len("    return a")


def _env(fb: FakeBackend, state: Path, provider: str = "mistral") -> dict[str, str]:
    return server_env({"DEVSTRAL_PROVIDER": provider, "DEVSTRAL_BASE_URL": fb.base_url,
                       "DEVSTRAL_MODEL": MODEL, "DEVSTRAL_API_KEY": TEST_KEY,
                       "XDG_STATE_HOME": str(state)})


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _plain(obj: Any) -> Any:
    """pygls hands unknown results over as objects or dicts: make them plain JSON."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return [_plain(v) for v in obj]
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if hasattr(obj, "__dict__") and not isinstance(obj, (str, int, float, bool)):
        return {k: _plain(v) for k, v in vars(obj).items()}
    return obj


async def _usage(lsp: LanguageClient) -> dict[str, Any]:
    result = await lsp.protocol.send_request_async("devstral/usage", {})
    return _plain(result)  # type: ignore[no-any-return]


class Statuses:
    """Collects `devstral/status` notifications; tests wait for one, never for the clock."""

    def __init__(self, lsp: LanguageClient) -> None:
        self.seen: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

        @lsp.feature("devstral/status")
        def _on_status(params: Any) -> None:
            self.seen.append({k: _get(params, k) for k in ("kind", "state", "message", "busy")})
            self._changed.set()

    async def wait(self, pred: Callable[[dict[str, Any]], bool], start: int = 0
                   ) -> dict[str, Any]:
        async def first() -> dict[str, Any]:
            while True:
                for status in self.seen[start:]:
                    if pred(status):
                        return status
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(first(), 10.0)

    def states(self) -> list[str]:
        return [s["state"] for s in self.seen]


def _errors(lsp: LanguageClient) -> list[str]:
    return [m.message for m in lsp.messages if m.type == types.MessageType.Error]


async def test_prompt_cache_key_is_a_stable_hash_per_workspace_and_role(tmp_path: Path) -> None:
    root = tmp_path / "private-project"
    root.mkdir()
    uri = (root / "calc.py").as_uri()
    with FakeBackend(models=[MODEL]) as fb:
        fb.default = Reply.text(" + b")
        async with lsp_session(_env(fb, tmp_path / "state"), root=root) as (lsp, _):
            open_doc(lsp, uri, TEXT)
            await inline(lsp, uri, LINE, COL)
            await inline(lsp, uri, LINE - 4, 4)
            out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
                command="devstral.editWorkspace", arguments=[{"instruction": "rename add"}]))
            assert out is not None
        bodies = [r.body for r in fb.completion_requests]
        completion_keys = {b["prompt_cache_key"] for b in bodies if b.get("stream")}
        agent_keys = {b["prompt_cache_key"] for b in bodies if b.get("tools")}
        assert len(completion_keys) == 1 and len(agent_keys) == 1
        assert completion_keys != agent_keys
        for key in completion_keys | agent_keys:
            assert key.startswith("dlsp-") and len(key) == 37
            assert "private" not in key and "/" not in key and TEST_KEY not in key
        assert all(b["stream_options"] == {"include_usage": True} for b in bodies
                   if b.get("stream"))
        # The same workspace gets the same key in a new session (the cache outlives it).
        async with lsp_session(_env(fb, tmp_path / "state"), root=root) as (lsp, _):
            open_doc(lsp, uri, TEXT)
            await inline(lsp, uri, LINE, COL - 1)
        assert fb.completion_requests[-1].body["prompt_cache_key"] in completion_keys


async def test_local_runtimes_get_no_cache_key(tmp_path: Path) -> None:
    with FakeBackend(models=[MODEL]) as fb:
        fb.default = Reply.text(" + b")
        async with lsp_session(_env(fb, tmp_path, provider="ollama"), root=tmp_path) as (lsp, _):
            open_doc(lsp, (tmp_path / "a.py").as_uri(), TEXT)
            await inline(lsp, (tmp_path / "a.py").as_uri(), LINE, COL)
        [req] = fb.completion_requests
        assert "prompt_cache_key" not in req.body and "cache_prompt" not in req.body
        assert req.body["stream_options"] == {"include_usage": True}


async def _complete_and_measure(state: Path, profile: str, columns: list[int]
                                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Invoked completions at `columns` of the last line against a fake reporting usage as
    `profile`; the server's `devstral/usage` answer and the bodies the fake received."""
    with FakeBackend(models=[MODEL], usage_profile=profile) as fb:
        fb.default = Reply.text(" + b")
        async with lsp_session(_env(fb, state), root=state.parent) as (lsp, _):
            uri = (state.parent / "calc.py").as_uri()
            open_doc(lsp, uri, TEXT)
            for col in columns:
                await inline(lsp, uri, LINE, col)
            usage = await _usage(lsp)
        return usage, [r.body for r in fb.completion_requests]


async def test_reported_usage_with_cached_tokens_is_priced(tmp_path: Path) -> None:
    usage, bodies = await _complete_and_measure(tmp_path / "state", "mistral", [COL, COL - 1])
    session = usage["session"]
    completion = session["byFeature"]["completion"]
    assert completion["requests"] == 2 and session["requests"] == 2
    assert session["estimated"] is False
    assert completion["tokensCached"] > 0 and completion["tokensCached"] % 64 == 0
    assert completion["tokensCached"] < completion["tokensIn"]
    fresh = completion["tokensIn"] - completion["tokensCached"]
    expected = (fresh * 0.15 + completion["tokensCached"] * 0.015
                + completion["tokensOut"] * 0.60) / 1e6
    assert session["usd"] == pytest.approx(expected, rel=1e-6)
    assert usage["today"]["requests"] == 2 and usage["dailyBudgetUsd"] is None
    assert usage["budgetReached"] is False
    # What the fake reported is what was counted.
    assert completion["tokensIn"] == sum(_fake_prompt_tokens(b) for b in bodies)


def _fake_prompt_tokens(body: dict[str, Any]) -> int:
    from tests.fake_backend import wire

    return wire.estimate_tokens(wire.prompt_text("chat", body))


async def test_no_reported_usage_is_estimated_with_tekken(tmp_path: Path) -> None:
    usage, _bodies = await _complete_and_measure(tmp_path / "state", "none", [COL])
    completion = usage["session"]["byFeature"]["completion"]
    assert usage["session"]["estimated"] is True and completion["estimated"] is True
    assert completion["tokensCached"] == 0 and completion["tokensOut"] >= 1
    # Tekken counts the whole prompt: far more than the file's last line, fewer than chars.
    assert len(TEXT) // 8 < completion["tokensIn"] < len(TEXT)
    assert usage["session"]["usd"] > 0


async def test_daily_budget_pauses_automatic_and_refuses_invoked(tmp_path: Path) -> None:
    with FakeBackend(models=[MODEL]) as fb:
        fb.default = Reply.text(" + b")
        async with lsp_session(_env(fb, tmp_path / "state"), root=tmp_path,
                               init_options={"dailyBudgetUsd": 0.00001, "debounceMs": 0}
                               ) as (lsp, _):
            statuses = Statuses(lsp)
            uri = (tmp_path / "calc.py").as_uri()
            open_doc(lsp, uri, TEXT)
            got = await inline(lsp, uri, LINE, COL)  # spends more than the budget
            assert got is not None and got.items
            assert len(fb.completion_requests) == 1
            for col in (COL - 1, COL - 2):
                got = await inline(lsp, uri, LINE, col, invoked=False)
                assert got is not None and not got.items
            paused = await statuses.wait(lambda s: s["state"] == "paused")
            assert paused["kind"] == "Warning" and "budget" in paused["message"]
            errors = _errors(lsp)
            assert len(errors) == 1 and "budget of $0.00 is reached" in errors[0]
            got = await inline(lsp, uri, LINE, COL - 3, invoked=True)
            assert got is not None and not got.items
            assert len(_errors(lsp)) == 2  # an invoked request says so, each time
            out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
                command="devstral.editWorkspace", arguments=[{"instruction": "rename add"}]))
            assert out is None or not _get(out, "applied")
            assert any("budget" in m for m in _errors(lsp)[2:])
            assert len(fb.completion_requests) == 1  # nothing more was asked
            usage = await _usage(lsp)
            assert usage["budgetReached"] is True and usage["dailyBudgetUsd"] == 0.00001
            assert usage["today"]["usd"] >= 0.00001


async def test_status_across_an_outage_and_recovery(tmp_path: Path) -> None:
    with FakeBackend(models=[MODEL]) as fb:
        # Retry-After holds automatic requests back long enough for the test not to race it.
        fb.enqueue(Reply.error(503, "overloaded", retry_after=60))
        async with lsp_session(_env(fb, tmp_path / "state"), root=tmp_path,
                               init_options={"debounceMs": 0}) as (lsp, _):
            statuses = Statuses(lsp)
            uri = (tmp_path / "calc.py").as_uri()
            open_doc(lsp, uri, TEXT)
            await inline(lsp, uri, LINE, COL, invoked=False)
            error = await statuses.wait(lambda s: s["state"] == "error")
            assert error["kind"] == "Error" and "503" in error["message"]
            assert TEST_KEY not in error["message"] and error["busy"] is False
            mark = len(statuses.seen)
            await inline(lsp, uri, LINE, COL - 1, invoked=False)  # backing off
            paused = await statuses.wait(lambda s: s["state"] == "paused", mark)
            assert "503" in paused["message"]
            fb.enqueue(Reply.text(" + b"))
            mark = len(statuses.seen)
            got = await inline(lsp, uri, LINE, COL, invoked=True)
            assert got is not None and got.items
            ready = await statuses.wait(lambda s: s["state"] == "ready", mark)
            assert ready == {"kind": "Normal", "state": "ready", "message": "", "busy": False}
            assert statuses.states()[mark:] == ["busy", "ready"]
            assert statuses.states()[0] == "ready"  # announced once after `initialized`
            assert statuses.states().count("ready") == 2


async def test_first_status_comes_once_start_up_is_done(tmp_path: Path) -> None:
    """Clients show "ready" on the first `devstral/status`: the server sends it only once its
    start-up is over (settings pulled, file watching registered and answered). In VS Code a key
    typed while the watcher registration was still being handled got no inline completion."""
    with FakeBackend(models=[MODEL]) as fb:
        raw = await RawServer.start(_env(fb, tmp_path / "state"))
        raw.hold = {"client/registerCapability"}
        try:
            resp = await raw.request(1, "initialize", init_params("vscode-inline", tmp_path),
                                     timeout=WAIT_GUARD_S)
            assert "result" in resp, resp
            raw.notify("initialized", {})
            reg = await raw.incoming("client/registerCapability")
            [watch] = reg["params"]["registrations"]
            assert watch["method"] == "workspace/didChangeWatchedFiles"
            # The server answers meanwhile; a status sent before this answer would precede it
            # on the wire.
            assert "result" in await raw.request(2, "devstral/usage", {}, timeout=WAIT_GUARD_S)
            methods = [m.get("method") for m in raw.notifications]
            assert "devstral/status" not in methods, methods
            assert methods.index("workspace/configuration") < methods.index(
                "client/registerCapability")
            raw.send({"jsonrpc": "2.0", "id": reg["id"], "result": None})
            status = await raw.incoming("devstral/status")
            assert status["params"] == {"kind": "Normal", "state": "ready", "message": "",
                                        "busy": False}
        finally:
            await raw.close()


async def test_status_inactive_for_a_secret_file(tmp_path: Path) -> None:
    with FakeBackend(models=[MODEL]) as fb:
        async with lsp_session(_env(fb, tmp_path / "state"), root=tmp_path) as (lsp, _):
            statuses = Statuses(lsp)
            secret = tmp_path / ".env"
            open_doc(lsp, secret.as_uri(), "API_KEY=sk-do-not-send-0123456789\n", "dotenv")
            await inline(lsp, secret.as_uri(), 0, 8)
            inactive = await statuses.wait(lambda s: s["state"] == "inactive")
            assert inactive["kind"] == "Inactive" and inactive["message"]
        assert fb.completion_requests == []


async def test_usage_cli_reads_what_the_server_stored(tmp_path: Path) -> None:
    state = tmp_path / "state"
    usage, _bodies = await _complete_and_measure(state, "mistral", [COL])
    served = usage["today"]
    env = server_env({"XDG_STATE_HOME": str(state), "DEVSTRAL_PROVIDER": "mistral"})
    out = subprocess.run([sys.executable, "-m", "lsp_server", "usage", "--json"], env=env,
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["today"] == served and data["today"]["requests"] == 1
    assert data["session"] is None and data["budgetReached"] is False
    text = subprocess.run([sys.executable, "-m", "lsp_server", "usage"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and "completion" in text.stdout and "USD" in text.stdout
    usage_file = state / "devstral-lsp" / "usage.json"
    assert oct(usage_file.stat().st_mode & 0o777) == "0o600"
    assert oct(usage_file.parent.stat().st_mode & 0o777) == "0o700"


async def _fresh_tokens_while_typing(state: Path, layout: str, model: str = MODEL,
                                     keys: str = "x = 1", context_tokens: int = 4096,
                                     ) -> tuple[int, int, list[str]]:
    """Type `keys` on a new line above 40 functions, asking at each key, against a fake
    caching like Mistral; the uncached and cached input tokens the server's meter counted after
    the first (cold) request, and the user prompts (chat) or suffixes (FIM) sent."""
    from tests.helpers.lsp import change_doc

    text = "def add(a, b):\n    return a\n\n" + BODY
    with FakeBackend(models=[model], usage_profile="mistral") as fb:
        fb.default = Reply.text("0  # z")  # never what is typed next: one call per key
        env = {**_env(fb, state), "DEVSTRAL_MODEL": model}
        async with lsp_session(env, root=state.parent,
                               init_options={"promptLayout": layout,
                                             "contextTokens": context_tokens}) as (lsp, _):
            uri = (state.parent / "calc.py").as_uri()
            open_doc(lsp, uri, text)
            change_doc(lsp, uri, 2, (1, 12), (1, 12), "\n    ")
            line, col = 2, 4
            for n, ch in enumerate(keys):
                change_doc(lsp, uri, 3 + n, (line, col), (line, col), ch)
                line, col = (line + 1, 0) if ch == "\n" else (line, col + 1)
                await inline(lsp, uri, line, col)
            completion = (await _usage(lsp))["session"]["byFeature"]["completion"]
        prompts = [m["content"] for r in fb.completion_requests
                   for m in r.body.get("messages", []) if m["role"] == "user"]
        prompts += [r.body["suffix"] for r in fb.completion_requests if "suffix" in r.body]
        cold = fb.completion_requests[0]
    assert completion["requests"] == len(keys) and cold.cached_tokens == 0
    fresh = completion["tokensIn"] - completion["tokensCached"] - (cold.prompt_tokens or 0)
    return fresh, completion["tokensCached"], prompts


async def test_suffix_first_layout_bills_the_code_below_the_cursor_once(tmp_path: Path) -> None:
    """promptLayout: the same keys, the same context; the provider's cache (as the fake
    reports it, and the server's meter counts it) keeps the code below the cursor only when
    it comes before the typed line."""
    file_fresh, file_cached, file_prompts = await _fresh_tokens_while_typing(
        tmp_path / "a" / "state", "file")
    first_fresh, first_cached, first_prompts = await _fresh_tokens_while_typing(
        tmp_path / "b" / "state", "suffixFirst")
    assert "right after the cursor" in first_prompts[-1]
    assert "right after the cursor" not in file_prompts[-1]
    # both show the whole document
    assert all("helper_39" in p for p in file_prompts + first_prompts)
    assert first_cached > file_cached
    assert first_fresh * 3 < file_fresh, (first_fresh, file_fresh)


async def test_codestral_fim_on_mistral_keeps_the_suffix_cached_while_typing(
        tmp_path: Path) -> None:
    """The Mistral preset's completion model, Codestral, by FIM: Mistral reads the suffix
    first (`[SUFFIX]…[PREFIX]…`), so the server keeps the suffix's bottom in place and each
    key costs the cache at most the 64-token block the typed text falls in."""
    fresh, cached, suffixes = await _fresh_tokens_while_typing(
        tmp_path / "state", "file", model="codestral-latest")
    assert len(suffixes) == 5 and len(set(suffixes)) == 1  # the same suffix on every call
    assert "helper_" in suffixes[0]
    assert cached > 0 and fresh <= 4 * 64, (fresh, cached)
