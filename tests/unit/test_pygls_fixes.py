"""One test per pygls workaround in `lsp_server/pygls_fixes.py`, in-process.

Each test shows the behaviour the workaround exists for; after a pygls upgrade, remove a
workaround, run its test: if it still passes, pygls fixed it and the workaround can go.
"""

from __future__ import annotations

import asyncio
import json
import typing
from typing import Any

from lsp_server.app import create_server
from lsp_server.pygls_fixes import link_request_cancel
from lsp_server.server import DevstralServer


class Capture:
    """A writer for the protocol: the JSON messages the server sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        body = data.decode().split("\r\n\r\n", 1)[1]
        self.sent.append(json.loads(body))


def _server() -> tuple[DevstralServer, Capture]:
    server = create_server()
    out = Capture()
    server.protocol.set_writer(out)
    return server, out


def _send(server: DevstralServer, message: dict[str, Any]) -> None:
    proto = server.protocol
    proto.handle_message(proto.structure_message({"jsonrpc": "2.0", **message}))


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_1_invalid_params_are_answered_with_the_request_id() -> None:
    server, out = _server()
    _send(server, {"id": 41, "method": "textDocument/hover",
                   "params": {"textDocument": 7, "position": "nowhere"}})
    await _settle()
    [reply] = out.sent
    assert reply["id"] == 41 and reply["error"]["code"] == -32602
    _send(server, {"method": "textDocument/didOpen", "params": {"textDocument": None}})
    await _settle()
    assert len(out.sent) == 1  # a bad notification is dropped, not answered


async def test_2_notifications_leave_no_futures_behind() -> None:
    """pygls 2.1 kept a done Future per generator/async notification under a fresh uuid."""
    server, _ = _server()
    uri = "file:///tmp/devstral-fixes/x.py"
    _send(server, {"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}})
    for version in range(2, 102):
        _send(server, {"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": f"x = {version}\n"}]}})
    await _settle()
    assert server.documents.get(uri) is not None  # the notifications did run
    assert len(server.protocol._request_futures) == 0


async def test_3_cancel_request_reaches_a_command_task() -> None:
    server, _ = _server()
    started = asyncio.Event()
    outcome: list[str] = []

    @server.command("devstral.test.wait")
    async def wait(ls: DevstralServer, *args: Any) -> str:
        link_request_cancel(ls)
        started.set()
        try:
            await asyncio.Event().wait()  # a model call that never answers
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return "never"

    _send(server, {"id": 7, "method": "workspace/executeCommand",
                   "params": {"command": "devstral.test.wait", "arguments": []}})
    await asyncio.wait_for(started.wait(), 10)
    _send(server, {"method": "$/cancelRequest", "params": {"id": 7}})
    await _settle()
    assert outcome == ["cancelled"]


async def test_4_document_sync_bypasses_pyglss_store() -> None:
    server, _ = _server()
    _send(server, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
    await _settle()
    uri = "file:///tmp/devstral-fixes/y.py"
    _send(server, {"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": "a\nb\n"}}})
    _send(server, {"method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": {"line": 1, "character": 0},
                                      "end": {"line": 1, "character": 1}}, "text": "c"}]}})
    await _settle()
    doc = server.documents.get(uri)
    assert doc is not None and doc.text == "a\nc\n" and doc.version == 2
    assert uri not in server.workspace.text_documents  # no second, O(file)-per-edit copy


def test_5_every_command_handler_annotation_resolves_at_run_time() -> None:
    """pygls evaluates a command handler's annotations to structure its arguments."""
    server = create_server()
    commands = server.protocol.fm.commands
    assert any(name.startswith("devstral.") for name in commands)
    for name, handler in commands.items():
        # pygls does this (on `handler.func` for partials); NameError for a TYPE_CHECKING name
        typing.get_type_hints(getattr(handler, "func", handler))
        assert name


async def test_6_shutdown_with_a_command_still_running_is_answered() -> None:
    """pygls 2.1 failed `shutdown` ("dictionary changed size during iteration") here."""
    server, out = _server()
    started = asyncio.Event()

    @server.command("devstral.test.hang")
    async def hang(ls: DevstralServer, *args: Any) -> str:
        started.set()
        await asyncio.Event().wait()  # a model call that never answers
        return "never"

    _send(server, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
    _send(server, {"id": 7, "method": "workspace/executeCommand",
                   "params": {"command": "devstral.test.hang", "arguments": []}})
    await asyncio.wait_for(started.wait(), 10)
    _send(server, {"id": 8, "method": "shutdown"})
    await _settle()
    [reply] = [m for m in out.sent if m.get("id") == 8]
    assert "error" not in reply and reply["result"] is None
