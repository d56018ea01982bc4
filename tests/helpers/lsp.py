"""Driving the real server over stdio (pytest-lsp) against the fake backend on loopback.

Shared by the e2e and reliability suites and by `bench/`: sessions initialised like a captured
client, document and completion requests, position arithmetic for checking edits, and the
`fake` fixture (a fake backend per test).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_server.model.providers import KEY_ENV_VARS
from tests.fake_backend import FakeBackend, Reply
from tests.fake_backend.server import WAIT_GUARD_S

REPO = Path(__file__).resolve().parents[2]
CAPS_DIR = REPO / "tests" / "data" / "client-capabilities"
CLIENTS = ["neovim-0.7.2", "neovim-0.11.4", "emacs-eglot-1.9", "vscode-inline"]
MODEL = "devstral-small-latest"
TEST_KEY = "sk-test-0123456789abcdef0123456789"

_SCRUB = (*KEY_ENV_VARS, "OPENAI_BASE_URL")


def load_capabilities(name: str) -> types.ClientCapabilities:
    raw = json.loads((CAPS_DIR / f"{name}.json").read_text())
    raw = raw.get("capabilities", raw)
    return default_converter().structure(raw, types.ClientCapabilities)


_STATE_HOME = tempfile.mkdtemp(prefix="devstral-test-state-")
"""Servers under test keep their usage file here, never in the user's own state dir."""


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any real key or endpoint, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUB and not k.startswith("DEVSTRAL_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_STATE_HOME"] = _STATE_HOME
    env["DEVSTRAL_LOCAL_PROBE"] = "off"  # never the real 11434 & co; probe tests inject ports
    env.update(extra or {})
    return env


def fake_env(fb: FakeBackend, **extra: str) -> dict[str, str]:
    return server_env({
        "DEVSTRAL_PROVIDER": "openai",
        "DEVSTRAL_BASE_URL": fb.base_url,
        "DEVSTRAL_MODEL": MODEL,
        "DEVSTRAL_API_KEY": TEST_KEY,
        **extra,
    })


@pytest.fixture
def fake() -> Iterator[FakeBackend]:
    with FakeBackend(models=[MODEL]) as fb:
        yield fb


@asynccontextmanager
async def lsp_session(
    env: dict[str, str],
    *,
    client: str = "neovim-0.11.4",
    init_options: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    root: Path | None = None,
    capabilities: types.ClientCapabilities | None = None,
    args: list[str] | None = None,
    warm: bool = False,
) -> AsyncIterator[tuple[LanguageClient, types.InitializeResult]]:
    """Start `python -m lsp_server [args]`, initialize it like `client`, shut it down after.

    With `warm`, entered only once the server loaded its model library (`devstral/stats`
    `warm`): the first model call waits for that import outside its own deadline, so a test that
    times a request against a deadline must not time the server's cold start, which on a
    loaded machine takes seconds.
    """
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_server", *(args or [])], server_env=env)
    lsp: LanguageClient = await config.start()  # type: ignore[assignment]
    if configuration is not None:
        lsp.set_configuration(configuration, section="devstral")

    @lsp.feature(types.WORKSPACE_APPLY_EDIT)
    def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp.applied_edits.append(params)  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=True)

    lsp.applied_edits = []  # type: ignore[attr-defined]
    _count_configuration_pulls(lsp)
    caps = capabilities or load_capabilities(client)
    root_uri = root.as_uri() if root else None
    folders = [types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if root else None
    result = await lsp.initialize_session(types.InitializeParams(
        capabilities=caps,
        root_uri=root_uri,
        workspace_folders=folders,
        initialization_options=init_options,
        client_info=types.ClientInfo(name=client),
    ))
    try:
        if warm:
            await wait_for_stats(lsp, lambda s: bool(s.get("warm")), "the model library loaded")
        yield lsp, result
    finally:
        await lsp.shutdown_session()
        await lsp.stop()


def _count_configuration_pulls(lsp: LanguageClient) -> None:
    """Count the server's `workspace/configuration` pulls in `lsp.configuration_pulls`, so a test
    can await the pull that follows `didChangeConfiguration` instead of sleeping."""
    answer = lsp.get_configuration
    lsp.configuration_pulls = 0  # type: ignore[attr-defined]

    def counting(*, section: str | None = None, scope_uri: str | None = None) -> Any:
        lsp.configuration_pulls += 1  # type: ignore[attr-defined]
        return answer(section=section, scope_uri=scope_uri)

    lsp.get_configuration = counting  # type: ignore[method-assign]


async def wait_until(ready: Callable[[], bool], what: str,
                     limit_s: float = WAIT_GUARD_S) -> None:
    """Poll `ready()` until it holds: the wait lasts as long as the machine needs; `limit_s`
    (the broken-test guard) only stops a test whose event never comes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not ready():
        if loop.time() > deadline:
            raise AssertionError(f"not {what} within {limit_s:.0f}s")
        await asyncio.sleep(0.01)


async def wait_for_messages(lsp: LanguageClient, n: int = 1) -> list[types.ShowMessageParams]:
    """The client's `window/showMessage` notifications once at least `n` arrived, then after a
    `devstral/stats` round trip: a message the server sent before answering it is in the list
    too, so a test asserting the exact messages still sees an unexpected extra one."""
    await wait_until(lambda: len(lsp.messages) >= n, f"{n} window/showMessage received")
    await stats(lsp)
    return list(lsp.messages)


async def wait_for_configuration_pull(lsp: LanguageClient, seen: int) -> None:
    """Wait until the server pulled `workspace/configuration` more than `seen` times. The server
    applies the answer as soon as it reads it, before any request the test sends after this."""
    await wait_until(lambda: lsp.configuration_pulls > seen,  # type: ignore[attr-defined]
                     "workspace/configuration pulled again")


def open_doc(lsp: LanguageClient, uri: str, text: str, language_id: str = "python",
             version: int = 1) -> None:
    lsp.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version,
                                             text=text)))


def change_doc(lsp: LanguageClient, uri: str, version: int, start: tuple[int, int],
               end: tuple[int, int], text: str) -> None:
    lsp.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=start[0], character=start[1]),
                              end=types.Position(line=end[0], character=end[1])),
            text=text)]))


async def inline(lsp: LanguageClient, uri: str, line: int, character: int,
                 invoked: bool = True) -> types.InlineCompletionList | None:
    result = await lsp.text_document_inline_completion_async(
        inline_params(uri, line, character, invoked))
    assert result is None or isinstance(result, types.InlineCompletionList)
    return result


async def complete(lsp: LanguageClient, uri: str, line: int, character: int,
                   invoked: bool = True) -> types.CompletionList:
    kind = (types.CompletionTriggerKind.Invoked if invoked
            else types.CompletionTriggerKind.TriggerForIncompleteCompletions)
    result = await lsp.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.CompletionContext(trigger_kind=kind)))
    assert isinstance(result, types.CompletionList)
    return result


def send_cancellable(lsp: LanguageClient, method: str, params: Any
                     ) -> tuple[str, asyncio.Future[Any]]:
    """Send a request with a known id so a test can `$/cancelRequest` it like an editor."""
    msg_id = f"cancellable-{uuid.uuid4().hex[:8]}"
    future = lsp.protocol.send_request(method, params, msg_id=msg_id)
    return msg_id, asyncio.wrap_future(future)


def cancel_request(lsp: LanguageClient, msg_id: str) -> None:
    lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))


def inline_params(uri: str, line: int, character: int, invoked: bool = True
                  ) -> types.InlineCompletionParams:
    kind = (types.InlineCompletionTriggerKind.Invoked if invoked
            else types.InlineCompletionTriggerKind.Automatic)
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind))


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def to_offset(text: str, line: int, character: int, encoding: str) -> int:
    """Naive reference conversion of an LSP position to a str index."""
    lines = text.split("\n")
    start = sum(len(x) + 1 for x in lines[:line])
    content = lines[line]
    units = 0
    for i, ch in enumerate(content):
        if units >= character:
            return start + i
        units += {"utf-8": len(ch.encode()), "utf-16": utf16_len(ch), "utf-32": 1}[encoding]
    return start + len(content)


def apply_edit(text: str, rng: types.Range, new_text: str, encoding: str) -> str:
    a = to_offset(text, rng.start.line, rng.start.character, encoding)
    b = to_offset(text, rng.end.line, rng.end.character, encoding)
    return text[:a] + new_text + text[b:]


def encoding_of(result: types.InitializeResult) -> str:
    enc = result.capabilities.position_encoding
    return str(getattr(enc, "value", enc) or "utf-16")


ReplyFactory = Callable[..., Reply]


def plain(value: Any) -> Any:
    """pygls hands untyped results back as namedtuples: turn them into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def fix_code_action_union(lsp: LanguageClient) -> None:
    """lsprotocol structures every `CodeAction | Command` that has a `command` key as a
    `Command` (losing the code action); editors decide by the key's type, so do the same."""
    conv = lsp.protocol._converter

    def hook(obj: Any, _: type) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return conv.structure(obj, types.Command)
        return conv.structure(obj, types.CodeAction)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def list_actions(lsp: LanguageClient, uri: str, start: tuple[int, int],
                       end: tuple[int, int] | None = None,
                       diagnostics: list[types.Diagnostic] | None = None
                       ) -> list[types.CodeAction]:
    end = end or start
    fix_code_action_union(lsp)
    got = await lsp.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=start[0], character=start[1]),
                          end=types.Position(line=end[0], character=end[1])),
        context=types.CodeActionContext(diagnostics=diagnostics or [])))
    assert got is not None
    actions = [a for a in got if isinstance(a, types.CodeAction)]
    assert len(actions) == len(got)
    return actions


def by_title(actions: list[types.CodeAction], prefix: str) -> types.CodeAction:
    [found] = [a for a in actions if a.title.startswith(prefix)]
    return found


STATS = "devstral/stats"


async def stats(lsp: LanguageClient, timeout: float = WAIT_GUARD_S) -> dict[str, Any]:
    result = await asyncio.wait_for(lsp.protocol.send_request_async(STATS, {}), timeout)
    out = plain(result)
    assert isinstance(out, dict), out
    return out


async def wait_for_stats(lsp: LanguageClient, ready: Callable[[dict[str, Any]], bool],
                         what: str, limit_s: float = WAIT_GUARD_S) -> dict[str, Any]:
    """Poll `devstral/stats` until `ready(stats)`: a readiness poll, not a sleep of a guessed
    length. `limit_s` only stops a test whose server never gets there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        current = await stats(lsp, timeout=limit_s)
        if ready(current):
            return current
        if loop.time() > deadline:
            raise AssertionError(f"not {what} within {limit_s:.0f}s: {current}")
        await asyncio.sleep(0.05)


async def wait_for_index(lsp: LanguageClient, limit_s: float = WAIT_GUARD_S) -> None:
    """The workspace index builds in the background after `initialized`: poll `indexReady`."""
    await wait_for_stats(lsp, lambda s: bool(s["indexReady"]), "the workspace index built",
                         limit_s)
