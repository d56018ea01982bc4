"""Backend faults from the fake server, end to end over stdio (issue 8, item 1).

For every fault: the server stays up, answers every request within its deadline, shows at most
one `window/showMessage` per outage, backs off automatic requests (honouring `Retry-After`)
while requests the user invoked still reach the backend, recovers by itself within seconds of
the backend's return, and (for `devstral.editWorkspace`) applies no partial edit.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fake_backend import FakeBackend, Reply, RetryAfterDate
from tests.helpers.lsp import MODEL, TEST_KEY, fake_env, inline, open_doc, server_env

from .helpers import alive, errors, free_port, session, shown, stats, wait_for_stats

URI = "file:///tmp/devstral-reliability/f.py"
TEXT = "def add(a, b):\n    return a\n"
POS = (1, 12)
GOOD = Reply.text(" + b")
EXPECTED = "    return a + b"
TIMEOUT_MS = 600
SLACK_S = 2.0  # scheduling slack on a loaded 2-core CI machine
OPTS = {"debounceMs": 0, "timeoutMs": TIMEOUT_MS}

# name -> (reply, counts as a failed call that starts an outage)
FAULTS: dict[str, tuple[Reply, bool]] = {
    "timeout_no_headers": (Reply.hang(), True),
    "timeout_stalled_stream": (Reply.hang(after_chunks=2), True),
    "http_429_retry_after": (Reply.error(429, "slow down", retry_after=2), True),
    "http_500": (Reply.error(500, "internal error"), True),
    "http_503": (Reply.error(503, "overloaded"), True),
    "http_502_html": (Reply.raw(b"<html>Bad gateway</html>", status=502,
                                content_type="text/html"), True),
    "reset_before_response": (Reply.reset(after_chunks=0), True),
    "reset_mid_stream": (Reply.reset(after_chunks=2), True),
    "malformed_sse": (Reply.malformed_sse(after_chunks=1), True),
    "malformed_json": (Reply.malformed_json(), False),
    "empty_choices": (Reply.empty_choices(), False),
    "stream_error": (Reply.stream_error("model crashed", after_chunks=1), True),
    "slow_drip_past_deadline": (Reply.slow_drip(" + b + c + d + e + f", interval=0.25), True),
}


async def _timed_inline(lsp: LanguageClient, invoked: bool) -> tuple[list[str], float]:
    started = time.monotonic()
    got = await asyncio.wait_for(inline(lsp, URI, *POS, invoked=invoked),
                                 TIMEOUT_MS / 1000 + SLACK_S)
    assert got is not None
    return [str(i.insert_text) for i in got.items], time.monotonic() - started


async def _recover_automatically(lsp: LanguageClient) -> None:
    """Once the server's backoff is over (polled, not slept), the next automatic request
    reaches the backend again and gets the suggestion: nothing else has to happen first."""
    await wait_for_stats(lsp, lambda s: s["backoffRemainingS"] == 0, "out of backoff")
    items, _ = await _timed_inline(lsp, invoked=False)
    assert items == [EXPECTED]


async def _automatic_backs_off(lsp: LanguageClient, fake: FakeBackend, failed_at: float,
                               backoff_s: float) -> None:
    """An automatic request during the backoff is answered without a backend call.

    On a stalled machine the backoff may be over by the time the request arrives; the server
    then rightly asks the backend, which is only correct if the backoff had really elapsed.
    """
    calls = len(fake.completion_requests)
    skips = (await stats(lsp))["backoff_skips"]
    items, _ = await _timed_inline(lsp, invoked=False)
    assert items == []
    if (await stats(lsp))["backoff_skips"] == skips + 1:
        assert len(fake.completion_requests) == calls
    else:
        assert len(fake.completion_requests) == calls + 1
        assert time.monotonic() - failed_at >= backoff_s


@pytest.mark.parametrize("name", list(FAULTS))
async def test_completion_survives_fault(fake: FakeBackend, name: str) -> None:
    reply, is_failure = FAULTS[name]
    fake.default = reply
    async with session(fake_env(fake), init_options=OPTS) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        # 1. The user asks: answered (empty) within the deadline.
        items, took = await _timed_inline(lsp, invoked=True)
        failed_at = time.monotonic()
        assert items == [] and took < TIMEOUT_MS / 1000 + SLACK_S
        assert len(fake.completion_requests) == 1
        health = await stats(lsp)
        assert health["backendHealthy"] is not is_failure
        if is_failure:
            expected_backoff = 2.0 if "retry_after" in name else 1.0
            assert health["backoffS"] == expected_backoff
            assert 0 <= health["backoffRemainingS"] <= expected_backoff
            # 2. Automatic requests back off: answered, no backend call.
            await _automatic_backs_off(lsp, fake, failed_at, expected_backoff)
        # 3. At most one message for the outage, and it is an error.
        assert len(shown(lsp)) == (1 if is_failure else 0), shown(lsp)
        assert len(errors(lsp)) == len(shown(lsp))
        # 4. The backend comes back: automatic requests resume by themselves.
        fake.default = GOOD
        await _recover_automatically(lsp)
        after = await stats(lsp)
        assert after["backendHealthy"] and after["backoffRemainingS"] == 0
        assert len(shown(lsp)) == (1 if is_failure else 0)  # no popup for the recovery
        assert alive(lsp)
    if name.startswith("timeout") or name.startswith("slow_drip"):
        # The connection of a call cut at the deadline is closed, not left hanging.
        assert fake.completion_requests[0].wait_done().client_disconnected


async def test_invoked_requests_keep_trying_during_backoff(fake: FakeBackend) -> None:
    """Mixed faults in one outage: every invoked request reaches the backend, automatic ones
    do not, one message in all."""
    fake.enqueue(Reply.error(503, "overloaded"), Reply.hang(), Reply.reset(after_chunks=1),
                 Reply.error(429, "slow", retry_after=5), Reply.malformed_sse())
    async with session(fake_env(fake), init_options=OPTS) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        for n in range(1, 6):
            items, _ = await _timed_inline(lsp, invoked=True)
            assert items == [] and len(fake.completion_requests) == n
            items, _ = await _timed_inline(lsp, invoked=False)
            assert items == [] and len(fake.completion_requests) == n
        assert len(shown(lsp)) == 1
        fake.default = GOOD
        items, _ = await _timed_inline(lsp, invoked=True)
        assert items == [EXPECTED]
        items, _ = await _timed_inline(lsp, invoked=False)  # outage over: no more backoff
        assert items == [EXPECTED] and len(shown(lsp)) == 1


async def test_connection_refused_then_backend_starts() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    env = server_env({"DEVSTRAL_PROVIDER": "openai", "DEVSTRAL_BASE_URL": base,
                      "DEVSTRAL_MODEL": MODEL, "DEVSTRAL_API_KEY": TEST_KEY})  # nothing listens
    async with session(env, init_options=OPTS) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        for invoked in (True, False, True, False):
            items, took = await _timed_inline(lsp, invoked=invoked)
            assert items == [] and took < TIMEOUT_MS / 1000 + SLACK_S
        [message] = shown(lsp)
        assert "cannot reach" in message and base in message
        assert (await stats(lsp))["backoffS"] <= 8.0  # exponential: 1, 2, 4 (invoked calls)
        with FakeBackend(models=[MODEL], default=GOOD, port=port) as fb:
            await _recover_automatically(lsp)
            assert len(fb.completion_requests) >= 1
        assert len(shown(lsp)) == 1


async def test_retry_after_longer_than_exponential_backoff_is_honoured(
    fake: FakeBackend,
) -> None:
    """Retry-After 3 s (also as an HTTP date): automatic requests wait it out, invoked don't."""
    for as_date in (False, True):
        fake.reset()
        async with session(fake_env(fake), init_options=OPTS) as (lsp, _):
            # The date is written when the fake answers (whole seconds: up to 1 s is lost), so
            # neither the server's start nor a loaded machine eats into the wait.
            retry_after = RetryAfterDate(3.5) if as_date else 3
            fake.default = Reply.error(429, "rate limited", retry_after=retry_after)
            open_doc(lsp, URI, TEXT)
            await _timed_inline(lsp, invoked=True)
            failed_at = time.monotonic()
            backoff = (await stats(lsp))["backoffS"]
            if as_date:
                assert 2.0 < backoff <= 3.5, backoff
            else:
                assert backoff == 3.0
            # Past the exponential 1 s by the server's own clock, inside Retry-After.
            await wait_for_stats(lsp, lambda s, b=backoff: s["backoffRemainingS"] <= b - 1.2,
                                 "past the exponential backoff")
            await _automatic_backs_off(lsp, fake, failed_at, backoff)
            calls = len(fake.completion_requests)
            await _timed_inline(lsp, invoked=True)  # the user asks: tried
            assert len(fake.completion_requests) == calls + 1
            fake.default = GOOD
            await _recover_automatically(lsp)
            assert time.monotonic() - failed_at >= 2.0
            assert len(shown(lsp)) == 1


async def test_second_outage_gets_its_own_single_message(fake: FakeBackend) -> None:
    async with session(fake_env(fake), init_options=OPTS) as (lsp, _):
        for outage in (1, 2):
            uri = f"file:///tmp/devstral-reliability/outage{outage}.py"  # no cache hit
            open_doc(lsp, uri, TEXT)
            fake.default = Reply.error(503, f"down {outage}")
            for _ in range(3):
                got = await inline(lsp, uri, *POS, invoked=True)
                assert got is not None and not got.items
            assert len(errors(lsp)) == outage
            assert f"down {outage}" in errors(lsp)[-1]
            fake.default = GOOD
            got = await inline(lsp, uri, *POS, invoked=True)
            assert got is not None and [i.insert_text for i in got.items] == [EXPECTED]


async def test_many_concurrent_requests_during_outage_one_message(fake: FakeBackend) -> None:
    fake.default = Reply.error(500, "boom")
    async with session(fake_env(fake), init_options=OPTS) as (lsp, _):
        for i in range(10):
            open_doc(lsp, f"file:///tmp/devstral-reliability/c{i}.py", TEXT)
        results = await asyncio.wait_for(asyncio.gather(*(
            inline(lsp, f"file:///tmp/devstral-reliability/c{i}.py", *POS, invoked=i % 2 == 0)
            for i in range(10) for _ in range(3))), 10.0)
        assert all(r is not None and not r.items for r in results)
        assert len(shown(lsp)) == 1 and alive(lsp)


# ----------------------------------------------------------------------------- editWorkspace

A_TEXT = "def greet(name):\n    return 'hi ' + name\n"


def _ed(**args: Any) -> tuple[str, dict[str, Any]]:
    return ("str_replace_editor", args)


FINISH = Reply.tool_calls([("finish", {"message": "done", "task_completed": True})])
REPLACE = Reply.tool_calls([_ed(command="str_replace", path="/workspace/a.py",
                                old_str="'hi '", new_str="'Hi '")])
VIEW = Reply.tool_calls([_ed(command="view", path="/workspace/a.py")])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text(A_TEXT)
    return root


async def _edit(lsp: LanguageClient, timeout: float = 15.0) -> Any:
    return await asyncio.wait_for(lsp.workspace_execute_command_async(types.ExecuteCommandParams(
        command="devstral.editWorkspace", arguments=[{"instruction": "say Hi"}])), timeout)


def _tool_results(fake: FakeBackend) -> list[str]:
    last = fake.completion_requests[-1]
    return [m["content"] for m in last.body["messages"] if m["role"] == "tool"]


GARBAGE_ARGS = {
    "truncated_json": '{"command": "str_replace", "path": "/workspace/a.py", "old_',
    "not_json": "this is not json at all",
    "json_array": '["view", "/workspace/a.py"]',
    "wrong_types": '{"command": 7, "path": ["/workspace/a.py"], "insert_line": "x"}',
    "empty": "",
    "nul_bytes": '{"command": "view", "path": "/workspace/a\\u0000.py"}',
}


async def test_edit_garbage_tool_calls_are_tool_errors(fake: FakeBackend, ws: Path) -> None:
    fake.enqueue(Reply.tool_calls([("str_replace_editor", args) for args in GARBAGE_ARGS.values()]),
                 Reply.tool_calls([("rm_rf", {"path": "/"}), ("", "{}")]), FINISH)
    async with session(fake_env(fake), root=ws) as (lsp, _):
        out = await _edit(lsp)
        assert out["applied"] is False and lsp.applied_edits == []  # type: ignore[attr-defined]
        results = _tool_results(fake)
        assert len(results) == len(GARBAGE_ARGS) + 2
        assert all(r.startswith("ERROR") for r in results), results
        assert alive(lsp) and errors(lsp) == []
    assert (ws / "a.py").read_text() == A_TEXT


async def test_edit_model_that_never_finishes_stops_at_turn_limit(fake: FakeBackend,
                                                                  ws: Path) -> None:
    fake.default = VIEW
    async with session(fake_env(fake), root=ws, init_options={"editMaxTurns": 4}) as (lsp, _):
        out = await _edit(lsp)
        assert out["applied"] is False and lsp.applied_edits == []  # type: ignore[attr-defined]
        assert len(fake.completion_requests) == 4
        assert "turn limit" in out["summary"].lower()


@pytest.mark.parametrize("limit", ["turns", "wall_clock"])
async def test_edit_never_finished_applies_no_partial_edit(fake: FakeBackend, ws: Path,
                                                           limit: str) -> None:
    fake.enqueue(REPLACE)
    if limit == "turns":
        fake.default = VIEW
        opts: dict[str, Any] = {"editMaxTurns": 3}
    else:
        fake.default = Reply.hang()
        opts = {"editTimeoutMs": 1000}
    async with session(fake_env(fake), root=ws, init_options=opts) as (lsp, _):
        started = time.monotonic()
        out = await _edit(lsp)
        assert time.monotonic() - started < 1.0 + SLACK_S + 1.0
        assert alive(lsp)
        assert out["applied"] is False
        assert lsp.applied_edits == []  # type: ignore[attr-defined]
    assert (ws / "a.py").read_text() == A_TEXT


MID_LOOP_FAULTS = {
    "http_500": Reply.error(500, "boom"),
    "http_429": Reply.error(429, "slow down", retry_after=1),
    "reset": Reply.reset(after_chunks=0),
    "malformed_json": Reply.malformed_json(),
    "empty_choices": Reply.empty_choices(),
}


async def test_edit_backend_fault_after_a_change_applies_nothing(fake: FakeBackend,
                                                                 ws: Path) -> None:
    async with session(fake_env(fake), root=ws, client="vscode-inline") as (lsp, _):
        for n, fault in enumerate(MID_LOOP_FAULTS.values(), start=1):
            fake.enqueue(REPLACE, fault)
            out = await _edit(lsp)
            assert out["applied"] is False
            assert lsp.applied_edits == []  # type: ignore[attr-defined]
            assert len(errors(lsp)) == n  # one message per failed command
        # Still working afterwards.
        fake.enqueue(REPLACE, FINISH)
        out = await _edit(lsp)
        assert out["applied"] is True and len(lsp.applied_edits) == 1  # type: ignore[attr-defined]
    assert (ws / "a.py").read_text() == A_TEXT  # edits go through the editor, never the disk


async def test_edit_hanging_backend_cut_by_wall_clock_applies_nothing(fake: FakeBackend,
                                                                      ws: Path) -> None:
    fake.default = Reply.hang()
    async with session(fake_env(fake), root=ws, init_options={"editTimeoutMs": 1000}) as (
            lsp, _):
        started = time.monotonic()
        out = await _edit(lsp)
        assert time.monotonic() - started < 1.0 + SLACK_S
        assert out["applied"] is False and lsp.applied_edits == []  # type: ignore[attr-defined]
    [req] = fake.completion_requests
    assert req.wait_done().client_disconnected
