"""Code actions end to end: listed without the model, computed on resolve or by command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from lsp_server.textdiff import apply_text_edits
from tests.fake_backend import FakeBackend, Reply
from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import (
    by_title,
    cancel_request,
    change_doc,
    encoding_of,
    fake_env,
    list_actions,
    load_capabilities,
    lsp_session,
    open_doc,
    send_cancellable,
    stats,
    wait_for_messages,
)

SOURCE = "import os\n\n\ndef add(a, b):\n    return a\n\n\nprint(add(1, 2))\n"
DOCUMENTED = (
    'def add(a, b):\n    """Return the sum of a and b."""\n    return a + b\n'
)
EXPECTED = SOURCE.replace("def add(a, b):\n    return a\n", DOCUMENTED)
DOC_REPLY = f"Here you go:\n```python\n{DOCUMENTED}```\n"


def apply_like_client(edit: types.WorkspaceEdit, files: dict[str, str],
                      versions: dict[str, int], encoding: str) -> dict[str, str]:
    """What a conforming client does with a WorkspaceEdit: refuse stale versions, create
    files, apply the text edits."""
    out = dict(files)
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            assert change.uri not in out, "CreateFile over an existing file"
            out[change.uri] = ""
        elif isinstance(change, types.TextDocumentEdit):
            uri, version = change.text_document.uri, change.text_document.version
            if version is not None and versions.get(uri) != version:
                raise ValueError(f"stale version for {uri}: {version} != {versions.get(uri)}")
            out[uri] = apply_text_edits(out[uri], change.edits, encoding)
        else:
            raise AssertionError(f"unexpected resource operation {change}")
    for uri, edits in (edit.changes or {}).items():
        out[uri] = apply_text_edits(out[uri], edits, encoding)
    return out


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text(SOURCE)
    return root


async def test_listing_makes_no_backend_request(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    async with lsp_session(fake_env(fake), root=ws) as (lsp, result):
        provider = result.capabilities.code_action_provider
        assert isinstance(provider, types.CodeActionOptions) and provider.resolve_provider
        open_doc(lsp, uri, SOURCE)
        actions = await list_actions(lsp, uri, (4, 6))
        titles = [a.title for a in actions]
        assert "Devstral: Add docstring" in titles
        assert "Devstral: Explain this code" in titles
        assert "Devstral: Generate tests" in titles
        assert "Devstral: Edit across files…" in titles
        diag = types.Diagnostic(range=types.Range(start=types.Position(line=0, character=0),
                                                  end=types.Position(line=0, character=9)),
                                message="`os` imported but unused", source="ruff")
        actions = await list_actions(lsp, uri, (3, 0), (5, 0), diagnostics=[diag])
        fix = by_title(actions, "Fix with Devstral")
        assert fix.kind == types.CodeActionKind.QuickFix and fix.edit is None
        rewrite = by_title(actions, "Devstral: Rewrite selection")
        assert rewrite.kind == types.CodeActionKind.RefactorRewrite
        assert rewrite.command is not None and rewrite.command.command == "devstral.rewrite"
        [arg] = rewrite.command.arguments or []
        assert set(arg) >= {"uri", "range", "instruction"}
        assert arg["instruction"] == "Improve clarity without changing behaviour"
    assert fake.requests == []


@pytest.mark.parametrize("client", ["neovim-0.11.4", "vscode-inline"])
async def test_resolve_makes_one_request_and_edit_applies(
        fake: FakeBackend, ws: Path, client: str) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text(DOC_REPLY))
    async with lsp_session(fake_env(fake), root=ws, client=client) as (lsp, result):
        open_doc(lsp, uri, SOURCE, version=3)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        assert action.edit is None and action.command is None
        assert fake.requests == []
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is not None
        [change] = resolved.edit.document_changes or []
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.version == 3
        assert all(len(e.new_text) < 60 for e in change.edits), "edits are not minimal"
        applied = apply_like_client(resolved.edit, {uri: SOURCE}, {uri: 3},
                                    encoding_of(result))
        assert applied[uri] == EXPECTED
        assert lsp.progress_reports, "no $/progress"
        [reports] = list(lsp.progress_reports.values())
        assert isinstance(reports[0], types.WorkDoneProgressBegin)
        assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    [req] = fake.completion_requests
    user = req.body["messages"][-1]["content"]
    assert "<selection>def add(a, b):\n    return a\n</selection>" in user
    assert "calc.py" in user


async def test_fix_prompt_has_diagnostics(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text("```python\n\n```"))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, result):
        open_doc(lsp, uri, SOURCE)
        diag = types.Diagnostic(range=types.Range(start=types.Position(line=0, character=0),
                                                  end=types.Position(line=0, character=9)),
                                message="`os` imported but unused", source="ruff", code="F401")
        fix = by_title(await list_actions(lsp, uri, (0, 3), diagnostics=[diag]),
                       "Fix with Devstral")
        resolved = await lsp.code_action_resolve_async(fix)
        assert resolved.edit is not None
        applied = apply_like_client(resolved.edit, {uri: SOURCE}, {uri: 1}, encoding_of(result))
        assert applied[uri] == SOURCE.removeprefix("import os\n")
    [req] = fake.completion_requests
    assert "ruff [F401]: `os` imported but unused" in req.body["messages"][-1]["content"]


async def test_malformed_reply_gives_message_and_no_edit(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text("I am not sure what you want me to do here."))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is None
        assert [m.message for m in await wait_for_messages(lsp)] == [
            "Devstral's answer did not contain a code block; nothing was changed."]
    assert len(fake.completion_requests) == 1


async def test_backend_failure_gives_message_and_no_edit(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.error(500, "boom"))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is None
        [msg] = await wait_for_messages(lsp)
        assert msg.type == types.MessageType.Error and "HTTP 500" in msg.message


async def test_resolve_for_changed_document_is_refused(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        change_doc(lsp, uri, 2, (0, 0), (0, 0), "# hi\n")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is None
        assert "changed since" in (await wait_for_messages(lsp))[0].message
    assert fake.requests == []


async def test_resolved_edit_for_stale_version_is_rejected_by_client(
        fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text(DOC_REPLY))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, result):
        open_doc(lsp, uri, SOURCE, version=1)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is not None
        with pytest.raises(ValueError, match="stale"):
            apply_like_client(resolved.edit, {uri: "# typed\n" + SOURCE}, {uri: 2},
                              encoding_of(result))


@pytest.mark.parametrize("client", ["emacs-eglot-1.9", "neovim-0.7.2"])
async def test_command_path_applies_via_apply_edit(fake: FakeBackend, ws: Path,
                                                   client: str) -> None:
    """eglot cannot resolve: its actions carry commands. Neovim 0.7.2 resolves `edit`, so its
    path through a command is "Rewrite selection…", which always carries one."""
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text(DOC_REPLY))
    async with lsp_session(fake_env(fake), root=ws, client=client) as (lsp, result):
        open_doc(lsp, uri, SOURCE, version=5)
        if client == "emacs-eglot-1.9":
            action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        else:
            action = by_title(await list_actions(lsp, uri, (3, 0), (5, 0)),
                              "Devstral: Rewrite selection")
        assert action.command is not None
        assert fake.requests == []
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments))
        assert out["applied"] is True and out["files"] == [uri]
        [params] = lsp.applied_edits  # type: ignore[attr-defined]
        applied = apply_like_client(params.edit, {uri: SOURCE}, {uri: 5}, encoding_of(result))
        assert applied[uri] == EXPECTED
    assert len(fake.completion_requests) == 1


async def test_rewrite_command_uses_the_instruction(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text("```python\n    return a + b\n```"))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, result):
        open_doc(lsp, uri, SOURCE)
        # The selection starts after the indentation; the model re-indents its answer.
        rng = {"start": {"line": 4, "character": 4}, "end": {"line": 4, "character": 12}}
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.rewrite",
            arguments=[{"uri": uri, "range": rng, "instruction": "return the sum"}]))
        assert out["applied"] is True
        [params] = lsp.applied_edits  # type: ignore[attr-defined]
        applied = apply_like_client(params.edit, {uri: SOURCE}, {uri: 1}, encoding_of(result))
        assert applied[uri] == SOURCE.replace("return a\n", "return a + b\n")
    [req] = fake.completion_requests
    assert "return the sum" in req.body["messages"][-1]["content"]


async def test_command_refuses_stale_edit(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text(DOC_REPLY))
    fake.hold()  # the model answers only once the edit below has reached the server
    async with lsp_session(fake_env(fake), root=ws, client="emacs-eglot-1.9") as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        assert action.command is not None
        pending = asyncio.ensure_future(lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=action.command.command,
                                       arguments=action.command.arguments)))
        await fake.wait_for_requests_async(1)
        change_doc(lsp, uri, 2, (7, 0), (7, 0), "# typing meanwhile\n")
        await stats(lsp)  # answered after the didChange before it was handled
        fake.release()
        out = await asyncio.wait_for(pending, WAIT_GUARD_S)
        assert out["applied"] is False
        assert lsp.applied_edits == []  # type: ignore[attr-defined]
        assert any("changed while Devstral was working" in m.message for m in lsp.messages)


async def test_cancel_request_stops_the_model_call(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.hang())
    async with lsp_session(fake_env(fake), root=ws) as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        msg_id, future = send_cancellable(lsp, types.CODE_ACTION_RESOLVE, action)
        [req] = await fake.wait_for_requests_async(1)
        cancel_request(lsp, msg_id)
        await req.wait_done_async()
        assert req.client_disconnected
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(future, WAIT_GUARD_S)


async def test_progress_cancel_stops_the_model_call(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.hang())
    async with lsp_session(fake_env(fake), root=ws, client="emacs-eglot-1.9",
                           capabilities=_with_progress("emacs-eglot-1.9")) as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Add docstring")
        assert action.command is not None
        pending = asyncio.ensure_future(lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=action.command.command,
                                       arguments=action.command.arguments)))
        [req] = await fake.wait_for_requests_async(1)
        [token] = list(lsp.progress_reports)
        lsp.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        await req.wait_done_async()
        assert req.client_disconnected
        out = await asyncio.wait_for(pending, WAIT_GUARD_S)
        assert out["applied"] is False
        assert lsp.applied_edits == []  # type: ignore[attr-defined]
        assert any("cancelled" in m.message for m in lsp.messages)
        assert isinstance(lsp.progress_reports[token][-1], types.WorkDoneProgressEnd)


def _with_progress(client: str) -> types.ClientCapabilities:
    caps = load_capabilities(client)
    caps.window = types.WindowClientCapabilities(work_done_progress=True)
    return caps


async def test_explain_shows_a_markdown_document(fake: FakeBackend, ws: Path,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text("`add` returns its first argument.", ))
    env = fake_env(fake, XDG_CACHE_HOME=str(tmp_path / "cache"))
    async with lsp_session(env, root=ws) as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Explain")
        assert action.command is not None and action.command.command == "devstral.explain"
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is None and fake.requests == []
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments))
        assert out["shown"] == "document"
        [shown] = lsp.shown_documents
        path = Path(shown.uri.removeprefix("file://"))
        assert path.suffix == ".md" and "returns its first argument" in path.read_text()


async def test_explain_falls_back_to_a_message(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    fake.enqueue(Reply.text("It adds."))
    async with lsp_session(fake_env(fake), root=ws, client="emacs-eglot-1.9") as (lsp, _):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Explain")
        assert action.command is not None
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments))
        assert out["shown"] == "message"
        assert any("It adds." in m.message for m in lsp.messages)


async def test_generate_tests_creates_the_test_file(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    (ws / "tests").mkdir()
    test_uri = (ws / "tests" / "test_calc.py").as_uri()
    code = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    fake.enqueue(Reply.text(f"```python\n{code}```"))
    async with lsp_session(fake_env(fake), root=ws, client="vscode-inline") as (lsp, result):
        open_doc(lsp, uri, SOURCE)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Generate tests")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is not None
        create, edit = resolved.edit.document_changes or []
        assert isinstance(create, types.CreateFile) and create.uri == test_uri
        assert isinstance(edit, types.TextDocumentEdit)
        applied = apply_like_client(resolved.edit, {uri: SOURCE}, {uri: 1}, encoding_of(result))
        assert applied[test_uri] == code


async def test_generate_tests_extends_an_open_test_file(fake: FakeBackend, ws: Path) -> None:
    uri = (ws / "calc.py").as_uri()
    (ws / "tests").mkdir()
    test_path = ws / "tests" / "test_calc.py"
    existing = "from calc import add\n\n\ndef test_one():\n    assert add(1, 0) == 1\n"
    test_path.write_text("stale disk content\n")
    code = "def test_two():\n    assert add(1, 1) == 2\n"
    fake.enqueue(Reply.text(f"```python\n{code}```"))
    async with lsp_session(fake_env(fake), root=ws) as (lsp, result):
        open_doc(lsp, uri, SOURCE)
        open_doc(lsp, test_path.as_uri(), existing, version=9)
        action = by_title(await list_actions(lsp, uri, (4, 6)), "Devstral: Generate tests")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.edit is not None
        [edit] = resolved.edit.document_changes or []
        assert isinstance(edit, types.TextDocumentEdit) and edit.text_document.version == 9
        applied = apply_like_client(resolved.edit, {test_path.as_uri(): existing},
                                    {test_path.as_uri(): 9}, encoding_of(result))
        assert applied[test_path.as_uri()] == existing + "\n\n" + code
    [req] = fake.completion_requests
    assert "def test_one" in req.body["messages"][-1]["content"]


async def test_rewrite_keeps_secrets_in_the_file_but_never_sends_them(
    fake: FakeBackend, ws: Path
) -> None:
    from tests.helpers.secrets import SECRETS

    key = SECRETS["openai"]
    source = f'client = make_client(api_key="{key}", retries=3)\n'
    uri = (ws / "client.py").as_uri()

    def rename(req: Any) -> Reply:
        # The model sees a placeholder and copies it into its rewrite, as a real model would.
        user = req.body["messages"][-1]["content"]
        placeholder = user[user.index("<secret:"):user.index(">", user.index("<secret:")) + 1]
        return Reply.text(f'```python\nclient = make_client(api_key="{placeholder}", '
                          'retries=5)\n```')

    fake.default = rename
    async with lsp_session(fake_env(fake), root=ws) as (lsp, result):
        open_doc(lsp, uri, source)
        end = len(source) - 1
        rng = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": end}}
        out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devstral.rewrite",
            arguments=[{"uri": uri, "range": rng, "instruction": "five retries"}]))
        assert out["applied"] is True
        [params] = lsp.applied_edits  # type: ignore[attr-defined]
        applied = apply_like_client(params.edit, {uri: source}, {uri: 1}, encoding_of(result))
        assert applied[uri] == source.replace("retries=3", "retries=5")
    for req in fake.requests:
        assert key not in str(req.body)
