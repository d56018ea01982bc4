"""The edit agent's tool loop against the fake OpenAI-compatible backend, with the real client."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lsp_server.edits.agent import (
    AgentError,
    AgentLimits,
    context_note_for,
    run_edit_agent,
)
from lsp_server.edits.overlay import Overlay
from lsp_server.edits.workspace_edit import EditCapabilities, build_workspace_edit
from lsp_server.model.client import ModelClient
from lsp_server.model.endpoint import Endpoint
from lsp_server.textdiff import apply_text_edits
from tests.fake_backend import FakeBackend, Reply
from tests.helpers.disk import snapshot

ID_RE = re.compile(r"^[A-Za-z0-9]{9}$")
A_OPEN = "def foo():\n    return 1\n\n\ndef bar():\n    return foo()\n"


@pytest.fixture
def fb() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def foo():\n    return 0\n")  # the buffer is unsaved
    (root / "pkg" / "b.py").write_text("from pkg.a import foo\n\nprint(foo())\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    return root


def client(fb: FakeBackend) -> ModelClient:
    """The model gateway the server gives the agent, against the fake."""
    return ModelClient(Endpoint(provider="vllm", base_url=fb.base_url, model="m", api_key="test"))


def overlay(ws: Path, **kw: Any) -> Overlay:
    return Overlay([("proj", ws)], {ws / "pkg" / "a.py": (A_OPEN, 4)}, **kw)


def ed(**args: Any) -> tuple[str, dict[str, Any]]:
    return ("str_replace_editor", args)


def check_history(messages: list[dict[str, Any]]) -> None:
    """Mistral's rules: 9-char ids, every tool call answered, in order, before the next turn."""
    i = 0
    seen: set[str] = set()
    while i < len(messages):
        m = messages[i]
        if m["role"] == "assistant" and m.get("tool_calls"):
            ids = [tc["id"] for tc in m["tool_calls"]]
            for tc in m["tool_calls"]:
                assert ID_RE.match(tc["id"]), tc["id"]
                assert tc["type"] == "function"
                json.loads(tc["function"]["arguments"])  # valid JSON in the history
            assert not (set(ids) & seen), "ids must be unique in the conversation"
            seen.update(ids)
            answers = messages[i + 1 : i + 1 + len(ids)]
            assert [a["role"] for a in answers] == ["tool"] * len(ids)
            assert [a["tool_call_id"] for a in answers] == ids
            assert [a["name"] for a in answers] == [
                tc["function"]["name"] for tc in m["tool_calls"]
            ]
            i += 1 + len(ids)
        else:
            assert m["role"] != "tool", "orphan tool message"
            i += 1


async def test_view_replace_create_finish(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(
        Reply.tool_calls([ed(command="view", path="/workspace/pkg/a.py")]),
        Reply.tool_calls(
            [
                ed(
                    command="str_replace",
                    path="/workspace/pkg/a.py",
                    old_str="def foo():\n    return 1",
                    new_str="def foo():\n    return 2",
                )
            ],
            content="I'll change the return value.",
        ),
        Reply.tool_calls(
            [ed(command="create", path="/workspace/pkg/c.py", file_text="from pkg.a import foo\n")]
        ),
        Reply.tool_calls([("finish", {"message": "Changed foo.", "task_completed": "true"})]),
    )
    before = snapshot(ws)
    ov = overlay(ws)
    steps: list[str] = []
    result = await run_edit_agent(
        client(fb),
        model="devstral-small-latest",
        instruction="Make foo return 2 and add c.py",
        overlay=ov,
        limits=AgentLimits(),
        on_step=steps.append,
        context_note=context_note_for(ov, ws / "pkg" / "a.py", 0, 1),
    )
    assert result.stop_reason == "finished"
    assert result.completed is True
    assert result.summary == "Changed foo."
    assert result.turns == 4 and result.tool_calls == 4
    assert result.total_tokens > 0
    assert steps == ["viewing pkg/a.py", "editing pkg/a.py", "creating pkg/c.py", "finishing"]
    assert result.changed == {
        ws / "pkg" / "a.py": (A_OPEN, A_OPEN.replace("return 1", "return 2")),
        ws / "pkg" / "c.py": (None, "from pkg.a import foo\n"),
    }
    assert snapshot(ws) == before  # nothing written

    reqs = fb.requests
    assert len(reqs) == 4
    first = reqs[0].body
    assert first["model"] == "devstral-small-latest"
    assert first["tool_choice"] == "auto" and first["temperature"] == pytest.approx(0.1)
    assert [t["function"]["name"] for t in first["tools"]] == [
        "str_replace_editor",
        "search",
        "think",
        "finish",
    ]
    assert first["messages"][0]["role"] == "system"
    assert "/workspace" in first["messages"][0]["content"]
    user = first["messages"][1]["content"]
    assert "Make foo return 2" in user
    assert "/workspace/pkg/a.py, with lines 1-2 selected" in user
    last = reqs[3].body["messages"]
    check_history(last)
    tool_msgs = [m for m in last if m["role"] == "tool"]
    assert len(tool_msgs) == 3
    assert tool_msgs[0]["content"].startswith(
        "Here's the result of running `cat -n` on /workspace/pkg/a.py:"
    )
    assert "return 1" in tool_msgs[0]["content"]  # the unsaved buffer, not the disk
    assert tool_msgs[1]["content"].startswith("The file /workspace/pkg/a.py has been edited.")
    assert tool_msgs[2]["content"] == "File created successfully at: /workspace/pkg/c.py"
    assert last[4]["content"] == "I'll change the return value."  # assistant text kept

    # The edit the server would send, applied like a client, yields the expected files.
    built = build_workspace_edit(result.file_changes, EditCapabilities(), label="Devstral")
    assert built.edit is not None and built.edit.document_changes is not None
    files = {(ws / "pkg" / "a.py").as_uri(): A_OPEN}
    for change in built.edit.document_changes:
        if hasattr(change, "kind"):
            files[change.uri] = ""
        else:
            assert change.text_document.version in (4, None)
            uri = change.text_document.uri
            files[uri] = apply_text_edits(files[uri], list(change.edits))  # type: ignore[arg-type]
    assert files == {
        (ws / "pkg" / "a.py").as_uri(): A_OPEN.replace("return 1", "return 2"),
        (ws / "pkg" / "c.py").as_uri(): "from pkg.a import foo\n",
    }


async def test_errors_are_tool_messages(fb: FakeBackend, ws: Path) -> None:
    os.symlink(ws.parent / "secret.txt", ws / "link.txt")
    fb.enqueue(
        Reply.tool_calls(
            [
                ed(
                    command="str_replace", path="/workspace/pkg/a.py", old_str="return", new_str="x"
                ),
                ed(command="view", path="/workspace/../secret.txt"),
                ed(command="view", path="/etc/passwd"),
                ed(command="view", path="/workspace/link.txt"),
                ed(command="create", path="/workspace/pkg/b.py", file_text="x"),
                ("str_replace_editor", '{"command": "view", "path": "/workspace/pk'),
                ("bash", {"command": "rm -rf /"}),
            ]
        ),
        Reply.tool_calls([("finish", {"message": "gave up", "task_completed": "false"})]),
    )
    ov = overlay(ws)
    result = await run_edit_agent(
        client(fb), model="m", instruction="do it", overlay=ov, limits=AgentLimits()
    )
    assert result.stop_reason == "finished" and result.completed is False
    assert result.changed == {}
    msgs = fb.requests[1].body["messages"]
    check_history(msgs)
    tools = [m["content"] for m in msgs if m["role"] == "tool"]
    assert tools[0] == (
        "ERROR:\nNo replacement was performed. Multiple occurrences of old_str `return` in lines "
        "[2, 6]. Please ensure it is unique."
    )
    assert tools[1].startswith("ERROR:") and "outside the workspace" in tools[1]
    assert tools[2].startswith("ERROR:") and "outside the workspace" in tools[2]
    assert tools[3].startswith("ERROR:") and "symbolic link" in tools[3]
    assert tools[4].startswith("ERROR:\nFile already exists at: /workspace/pkg/b.py")
    assert tools[5].startswith("ERROR:\nThe tool call arguments are not valid JSON")
    assert tools[6].startswith("ERROR:\nUnknown tool `bash`")
    assert all("top secret" not in t for t in tools)
    # Garbage arguments are replaced by {} in the history sent back.
    assistant = next(m for m in msgs if m["role"] == "assistant")
    assert assistant["tool_calls"][5]["function"]["arguments"] == "{}"


async def test_foreign_tool_call_ids_are_normalised(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(
        Reply.tool_calls(
            [("think", {"thought": "a"}), ("think", {"thought": "b"})],
            ids=["call_0", "call_1"],
        ),
        Reply.tool_calls([("think", {"thought": "c"})], ids=["call_0"]),  # reused id
        Reply.tool_calls([("think", {"thought": "d"})], ids=["abcDEF123"]),  # already valid
        Reply.tool_calls([("finish", {"message": "ok", "task_completed": "true"})], ids=[""]),
    )
    result = await run_edit_agent(
        client(fb), model="m", instruction="think", overlay=overlay(ws), limits=AgentLimits()
    )
    assert result.stop_reason == "finished"
    msgs = fb.requests[3].body["messages"]
    check_history(msgs)
    ids = [tc["id"] for m in msgs if m["role"] == "assistant" for tc in m.get("tool_calls", [])]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert ids[3] == "abcDEF123"
    # The history is stable: the same ids are sent on every later request.
    earlier = fb.requests[2].body["messages"]
    assert [tc["id"] for m in earlier if m["role"] == "assistant" for tc in m["tool_calls"]] == ids[
        :3
    ]


async def test_no_tool_calls_nudges_once_then_stops(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(Reply.text("I think you should rename it."), Reply.text("Really, rename it."))
    result = await run_edit_agent(
        client(fb), model="m", instruction="rename", overlay=overlay(ws), limits=AgentLimits()
    )
    assert result.stop_reason == "no_tool_calls"
    assert result.summary == "Really, rename it."
    assert result.completed is False and result.changed == {}
    assert len(fb.requests) == 2
    second = fb.requests[1].body["messages"]
    assert second[-2] == {"role": "assistant", "content": "I think you should rename it."}
    assert second[-1]["role"] == "user" and "finish" in second[-1]["content"]


async def test_turn_limit(fb: FakeBackend, ws: Path) -> None:
    fb.default = Reply.tool_calls([("think", {"thought": "hmm"})])
    result = await run_edit_agent(
        client(fb),
        model="m",
        instruction="x",
        overlay=overlay(ws),
        limits=AgentLimits(max_turns=3),
    )
    assert result.stop_reason == "turn_limit" and result.turns == 3
    assert len(fb.requests) == 3
    assert "turn limit" in result.summary


async def test_token_budget(fb: FakeBackend, ws: Path) -> None:
    fb.default = Reply.tool_calls([("think", {"thought": "hmm"})])
    result = await run_edit_agent(
        client(fb),
        model="m",
        instruction="x",
        overlay=overlay(ws),
        limits=AgentLimits(max_total_tokens=50),
    )
    assert result.stop_reason == "token_budget"
    assert len(fb.requests) == 1


async def test_wall_clock_limit_ends_cleanly_and_disconnects(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(
        Reply.tool_calls(
            [ed(command="str_replace", path="/workspace/pkg/a.py", old_str="return 1", new_str="r")]
        ),
        Reply.hang(),
    )
    result = await run_edit_agent(
        client(fb),
        model="m",
        instruction="x",
        overlay=overlay(ws),
        limits=AgentLimits(wall_clock_s=1.0),
    )
    assert result.stop_reason == "time_limit"
    assert ws / "pkg" / "a.py" in result.changed  # the caller decides whether to offer it
    req = fb.requests[1]
    await req.wait_done_async()
    assert req.client_disconnected


async def test_cancel_mid_loop_propagates(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(Reply.tool_calls([ed(command="view", path="/workspace/pkg/a.py")]), Reply.hang())
    steps: list[str] = []
    before = snapshot(ws)
    task = asyncio.create_task(
        run_edit_agent(
            client(fb),
            model="m",
            instruction="x",
            overlay=overlay(ws),
            limits=AgentLimits(),
            on_step=steps.append,
        )
    )
    await fb.wait_for_requests_async(2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    req = fb.requests[1]
    await req.wait_done_async()
    assert req.client_disconnected
    assert steps == ["viewing pkg/a.py"]
    assert snapshot(ws) == before


async def test_endpoint_failures_raise_agent_error(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(Reply.error(401, "bad key"))
    with pytest.raises(AgentError, match="HTTP 401"):
        await run_edit_agent(
            client(fb), model="m", instruction="x", overlay=overlay(ws), limits=AgentLimits()
        )
    fb.enqueue(Reply.empty_choices())
    with pytest.raises(AgentError, match="empty response"):
        await run_edit_agent(
            client(fb), model="m", instruction="x", overlay=overlay(ws), limits=AgentLimits()
        )
    fb.enqueue(Reply.malformed_json())
    with pytest.raises(AgentError):
        await run_edit_agent(
            client(fb), model="m", instruction="x", overlay=overlay(ws), limits=AgentLimits()
        )


async def test_raw_mistral_tool_calls_in_content(fb: FakeBackend, ws: Path) -> None:
    call = json.dumps(
        [{"name": "str_replace_editor", "arguments": {"command": "view", "path": "/workspace"}}]
    )
    fb.enqueue(
        Reply.text("[TOOL_CALLS]" + call),
        Reply.text('[TOOL_CALLS]finish[ARGS]{"message": "done", "task_completed": "true"}'),
    )
    result = await run_edit_agent(
        client(fb), model="m", instruction="x", overlay=overlay(ws), limits=AgentLimits()
    )
    assert result.stop_reason == "finished" and result.summary == "done"
    msgs = fb.requests[1].body["messages"]
    check_history(msgs)
    assert msgs[-1]["content"].startswith("Here's the files and directories")


async def test_create_refused_when_client_cannot_create(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(
        Reply.tool_calls([ed(command="create", path="/workspace/n.py", file_text="x")]),
        Reply.tool_calls([("finish", {"message": "ok", "task_completed": "true"})]),
    )
    result = await run_edit_agent(
        client(fb),
        model="m",
        instruction="x",
        overlay=overlay(ws, allow_create=False),
        limits=AgentLimits(),
    )
    assert result.changed == {}
    first = fb.requests[0].body
    assert "cannot create new files" in first["messages"][0]["content"]
    tool_msg = fb.requests[1].body["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"].startswith("ERROR:")


async def test_extra_body_and_failing_progress_callback(fb: FakeBackend, ws: Path) -> None:
    fb.enqueue(Reply.tool_calls([("finish", {"message": "ok", "task_completed": "true"})]))

    def boom(_: str) -> None:
        raise RuntimeError("progress sink broke")

    result = await run_edit_agent(
        client(fb),
        model="m",
        instruction="x",
        overlay=overlay(ws),
        limits=AgentLimits(),
        on_step=boom,
        extra_body={"safe_prompt": False},
    )
    assert result.stop_reason == "finished"
    assert fb.requests[0].body["safe_prompt"] is False


def test_context_note_hides_refused_paths(ws: Path, tmp_path: Path) -> None:
    ov = overlay(ws, is_allowed=lambda p: "secret" if p.name == ".env" else None)
    assert context_note_for(ov, tmp_path / "secret.txt") == ""
    assert context_note_for(ov, ws / ".env", 1, 2) == ""
    assert context_note_for(ov, None) == ""
    assert context_note_for(ov, ws / "pkg" / "b.py", 2, 2) == (
        "The user is currently in the file /workspace/pkg/b.py, at line 3."
    )
