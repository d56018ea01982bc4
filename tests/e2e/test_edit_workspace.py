"""`devstral.editWorkspace` end to end: a scripted tool loop becomes one WorkspaceEdit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.fake_backend import FakeBackend, Reply
from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import (
    cancel_request,
    encoding_of,
    fake_env,
    lsp_session,
    open_doc,
    send_cancellable,
    stats,
)

from .test_actions import apply_like_client

A_DISK = "def greet(name):\n    return 'hi ' + name\n"
A_OPEN = "def greet(name):\n    return 'hello ' + name\n"  # unsaved buffer text


def ed(**args: Any) -> tuple[str, dict[str, Any]]:
    return ("str_replace_editor", args)


def tool_messages(req: Any) -> list[str]:
    return [m["content"] for m in req.body["messages"] if m["role"] == "tool"]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text(A_DISK)
    (root / "pkg" / "b.py").write_text("x = 1\nx = 1\n")
    return root


async def test_view_replace_create_finish(fake: FakeBackend, ws: Path) -> None:
    a_uri = (ws / "pkg" / "a.py").as_uri()
    c_uri = (ws / "pkg" / "c.py").as_uri()
    fake.enqueue(
        Reply.tool_calls([ed(command="view", path="/workspace/pkg/a.py")]),
        Reply.tool_calls([ed(command="str_replace", path="/workspace/pkg/a.py",
                             old_str="'hello '", new_str="'Hello, '")]),
        Reply.tool_calls([ed(command="create", path="/workspace/pkg/c.py",
                             file_text="from pkg.a import greet\n")]),
        Reply.tool_calls([("finish", {"message": "Capitalised the greeting.",
                                      "task_completed": True})]),
    )
    async with lsp_session(fake_env(fake), root=ws, client="vscode-inline") as (lsp, result):
        open_doc(lsp, a_uri, A_OPEN, version=4)
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.editWorkspace",
            arguments=[{"instruction": "Capitalise the greeting", "uri": a_uri}]))
        assert out == {"applied": True, "files": [a_uri, c_uri],
                       "summary": "Capitalised the greeting."}
        [params] = lsp.applied_edits  # type: ignore[attr-defined]
        assert params.label == "Devstral: Capitalise the greeting"
        edit = params.edit
        a_edit, create, c_edit = edit.document_changes or []
        assert isinstance(a_edit, types.TextDocumentEdit)
        assert a_edit.text_document.uri == a_uri and a_edit.text_document.version == 4
        assert [e.new_text for e in a_edit.edits] == ["Hello,"]  # minimal, not the whole file
        assert all(isinstance(e, types.AnnotatedTextEdit) for e in a_edit.edits)
        assert isinstance(create, types.CreateFile) and create.uri == c_uri
        assert create.options is not None and create.options.overwrite is False
        assert isinstance(c_edit, types.TextDocumentEdit) and c_edit.text_document.version is None
        [(ann_id, ann)] = (edit.change_annotations or {}).items()
        assert ann.needs_confirmation is True and ann.label == params.label
        assert create.annotation_id == ann_id
        applied = apply_like_client(edit, {a_uri: A_OPEN}, {a_uri: 4}, encoding_of(result))
        assert applied == {a_uri: "def greet(name):\n    return 'Hello, ' + name\n",
                           c_uri: "from pkg.a import greet\n"}
        assert lsp.progress_reports, "no progress"
        [reports] = list(lsp.progress_reports.values())
        messages = [r.message for r in reports if isinstance(r, types.WorkDoneProgressReport)]
        assert any("a.py" in (m or "") for m in messages)
    # The model saw the unsaved buffer, not the disk; nothing was written to disk.
    assert "'hello '" in tool_messages(fake.completion_requests[1])[0]
    assert (ws / "pkg" / "a.py").read_text() == A_DISK and not (ws / "pkg" / "c.py").exists()


async def test_escapes_and_non_unique_old_str_are_tool_errors(fake: FakeBackend,
                                                              ws: Path) -> None:
    fake.enqueue(
        Reply.tool_calls([ed(command="view", path="/workspace/../etc/passwd")]),
        Reply.tool_calls([ed(command="str_replace", path="/workspace/pkg/b.py",
                             old_str="x = 1", new_str="x = 2")]),
        Reply.tool_calls([("finish", {"message": "Gave up.", "task_completed": False})]),
    )
    async with lsp_session(fake_env(fake), root=ws, client="neovim-0.11.4") as (lsp, _):
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.editWorkspace", arguments=[{"instruction": "change x"}]))
        assert out == {"applied": False, "files": [], "summary": "Gave up."}
        assert lsp.applied_edits == []  # type: ignore[attr-defined]
    reqs = fake.completion_requests
    assert len(reqs) == 3
    [escape] = tool_messages(reqs[1])
    assert escape.startswith("ERROR:") and "outside the workspace" in escape
    unique = tool_messages(reqs[2])[-1]
    assert unique.startswith("ERROR:") and "Multiple occurrences of old_str `x = 1`" in unique
    assert "[1, 2]" in unique


async def test_todo_text_is_the_instruction_and_missing_instruction_asks(
        fake: FakeBackend, ws: Path) -> None:
    b_uri = (ws / "pkg" / "b.py").as_uri()
    fake.enqueue(Reply.tool_calls([("finish", {"message": "Nothing to do.",
                                               "task_completed": True})]))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        open_doc(lsp, b_uri, "# TODO: rename x to count everywhere\nx = 1\n")
        rng = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.editWorkspace",
            arguments=[{"instruction": "", "uri": b_uri, "range": rng}]))
        assert out["applied"] is False
        rng = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.editWorkspace", arguments=[{"uri": b_uri, "range": rng}]))
        assert out == {"applied": False, "files": [], "summary": "No instruction given."}
        assert any("needs an instruction" in m.message for m in lsp.messages)
    [req] = fake.completion_requests
    assert "rename x to count everywhere" in req.body["messages"][1]["content"]


async def test_cancel_mid_loop_applies_nothing(fake: FakeBackend, ws: Path) -> None:
    fake.enqueue(
        Reply.tool_calls([ed(command="str_replace", path="/workspace/pkg/a.py",
                             old_str="'hi '", new_str="'Hi '")]),
        Reply.hang(),
    )
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        msg_id, future = send_cancellable(lsp, types.WORKSPACE_EXECUTE_COMMAND,
                                          types.ExecuteCommandParams(
                                              command="devstral.editWorkspace",
                                              arguments=[{"instruction": "say Hi"}]))
        reqs = await fake.wait_for_requests_async(2)
        cancel_request(lsp, msg_id)
        await reqs[1].wait_done_async()
        assert reqs[1].client_disconnected
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(future, WAIT_GUARD_S)
        # Barrier: an applyEdit the cancelled run sent would reach us before this reply.
        await stats(lsp)
        assert lsp.applied_edits == []  # type: ignore[attr-defined]
    assert (ws / "pkg" / "a.py").read_text() == A_DISK


async def test_backend_failure_applies_nothing(fake: FakeBackend, ws: Path) -> None:
    fake.enqueue(Reply.error(503, "overloaded"))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.editWorkspace", arguments=[{"instruction": "x"}]))
        assert out["applied"] is False and lsp.applied_edits == []  # type: ignore[attr-defined]
        [msg] = lsp.messages
        assert msg.type == types.MessageType.Error and "503" in msg.message
