"""The early `initialize` reply (lsp_server/bootstrap.py) is the one the full server computes.

The bootstrap answers from plain dicts before pygls is imported; pygls then computes its own
reply, which is swallowed. These tests compute both for every captured client, with the
settings layers that change the reply, so a feature or command added to the server without
updating the bootstrap fails here rather than in an editor.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from lsp_server import bootstrap, config
from lsp_server.app import create_server

CAPS_DIR = Path(__file__).resolve().parent.parent / "data" / "client-capabilities"
CLIENTS = sorted(p.stem for p in CAPS_DIR.glob("*.json"))


def capabilities(name: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((CAPS_DIR / f"{name}.json").read_text())
    caps: dict[str, Any] = raw.get("capabilities", raw)
    return caps


class Capture:
    def __init__(self) -> None:
        self.out: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.out.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def server_result(params: dict[str, Any]) -> Any:
    """What pygls + our handlers answer to `initialize` with these params."""

    async def go() -> Any:
        server = create_server()
        capture = Capture()
        server.protocol.set_writer(capture)
        msg = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
        server.protocol.handle_message(server.protocol.structure_message(msg))
        while True:  # the reply is written by the handler task: wait for it, not the clock
            for data in capture.out:
                reply = json.loads(data.split(b"\r\n\r\n", 1)[1])
                if reply.get("id") == 1:
                    return reply.get("result", reply.get("error"))
            await asyncio.sleep(0)

    return asyncio.run(asyncio.wait_for(go(), 30))


OPTIONS: list[Any] = [None, {}, [], {"completionItems": "always"}, {"completionItems": "never"},
                      {"devstral": {"completionItems": "always"}}, {"completionItems": "bogus"}]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("options", OPTIONS, ids=[json.dumps(o) for o in OPTIONS])
def test_early_reply_equals_the_servers(client: str, options: Any) -> None:
    params = {"processId": None, "rootUri": None, "capabilities": capabilities(client),
              "initializationOptions": options}
    assert bootstrap.initialize_result(params, {}) == server_result(params)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("flag", [True, False, "yes", None])
@pytest.mark.parametrize("options", [None, {"completionItems": "never"}])
def test_a_client_asking_for_items_and_inline_gets_both(client: str, flag: Any,
                                                         options: Any) -> None:
    caps = capabilities(client)
    caps.setdefault("textDocument", {})["inlineCompletion"] = {}
    caps["experimental"] = {"devstral": {"completionItems": flag}}
    params = {"processId": None, "rootUri": None, "capabilities": caps,
              "initializationOptions": options}
    assert bootstrap.initialize_result(params, {}) == server_result(params)


def test_constants_match_the_features() -> None:
    from lsp_server.features import completion

    assert bootstrap.ASKS_FOR_ITEMS == completion.ASKS_FOR_ITEMS
    assert bootstrap.TRIGGER_CHARACTERS == completion.TRIGGER_CHARACTERS


@pytest.mark.parametrize("project", [{"completionItems": "always"}, {"completionItems": "never"},
                                     {"debounceMs": 50}])
def test_project_file_setting_is_read(tmp_path: Path, project: dict[str, Any]) -> None:
    (tmp_path / config.PROJECT_FILE).write_text(json.dumps(project))
    params = {"processId": None, "capabilities": capabilities("neovim-0.7.2"),
              "workspaceFolders": [{"uri": tmp_path.as_uri(), "name": "w"}]}
    assert bootstrap.initialize_result(params, {}) == server_result(params)
    assert bootstrap.PROJECT_FILE == config.PROJECT_FILE


@pytest.mark.parametrize("offered", [None, [], ["utf-32", "utf-16"], ["utf-16", "utf-8"],
                                     ["latin-1"], ["latin-1", "utf-32"]])
def test_position_encoding_negotiation(offered: list[str] | None) -> None:
    caps: dict[str, Any] = {} if offered is None else {"general": {"positionEncodings": offered}}
    params = {"processId": None, "rootUri": None, "capabilities": caps}
    assert bootstrap.initialize_result(params, {}) == server_result(params)


def test_framing_replay_and_swallow() -> None:
    first = bootstrap.frame({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}})
    second = bootstrap.frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    stdin = io.BytesIO(first + second)
    raw, msg = bootstrap.read_frame(stdin)
    assert raw == first and msg is not None and msg["id"] == 7
    replayed = bootstrap.Replayed(raw, stdin)
    header = replayed.readline()
    assert header.startswith(b"Content-Length:")
    assert replayed.readline() == b"\r\n"
    body = replayed.read(int(header.split(b":")[1]))
    assert json.loads(body)["id"] == 7
    assert replayed.read(len(second)) == second

    out = io.BytesIO()
    swallow = bootstrap.SwallowReply(out, 7, {"capabilities": {}})
    log_msg = bootstrap.frame({"jsonrpc": "2.0", "method": "window/logMessage", "params": {}})
    swallow.write(log_msg)
    swallow.write(bootstrap.frame({"jsonrpc": "2.0", "id": 7, "result": {"capabilities": {}}}))
    later = bootstrap.frame({"jsonrpc": "2.0", "id": 7, "result": None})
    swallow.write(later)  # only the first reply to that id is the duplicate
    assert out.getvalue() == log_msg + later


def test_not_initialize_first_goes_to_the_server_unchanged() -> None:
    first = bootstrap.frame({"jsonrpc": "2.0", "id": 1, "method": "shutdown"})
    seen: dict[str, Any] = {}

    class Fake:
        def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
            seen["in"] = stdin.read(len(first))
            seen["out"] = stdout

    out = io.BytesIO()
    bootstrap.serve_stdio(Fake, io.BytesIO(first), out, environ={})
    assert seen["in"] == first and seen["out"] is out and out.getvalue() == b""
