"""Next-edit suggestions over stdio against the fake backend: `devstral/nextEdit`, Copilot's
`textDocument/copilotInlineEdit`, the inline-completion hook, staleness, cancellation and the
`nextEdit` setting; plus the corpus (every scenario x every reply style) through the server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_server.nes.prompt import CURSOR, REGION_END, REGION_START
from lsp_server.textdiff import apply_text_edits, diff_spans
from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.helpers.lsp import (
    by_title,
    cancel_request,
    change_doc,
    encoding_of,
    fake_env,
    inline,
    list_actions,
    lsp_session,
    open_doc,
    plain,
    send_cancellable,
)
from tests.helpers.nes_corpus import SCENARIOS, STYLES, Scenario, marked_region, styled

NEXT_EDIT = "devstral/nextEdit"
COPILOT = "textDocument/copilotInlineEdit"

SRC = '''def scale(values, factor):
    result = []
    for v in values:
        result.append(v * factor)
    return result
'''


def user_message(req: RecordedRequest) -> str:
    return str(req.messages[-1]["content"])


def params(uri: str, version: int | None, line: int, character: int,
           trigger: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"uri": uri}
    if version is not None:
        doc["version"] = version
    out: dict[str, Any] = {"textDocument": doc,
                           "position": {"line": line, "character": character}}
    if trigger is not None:
        out["context"] = {"triggerKind": trigger}
    return out


def lsp_edits(result: dict[str, Any]) -> list[types.TextEdit]:
    return [types.TextEdit(
        range=types.Range(
            start=types.Position(**e["range"]["start"]), end=types.Position(**e["range"]["end"])),
        new_text=e["newText"]) for e in result["edits"]]


def rename_reply(req: RecordedRequest) -> Reply:
    region = marked_region(user_message(req)).replace(CURSOR, "")
    return Reply.text(region.replace("v * factor", "v * ratio"))


@pytest_asyncio.fixture
async def session(fake: FakeBackend) -> AsyncIterator[tuple[LanguageClient, str]]:
    async with lsp_session(fake_env(fake)) as (lsp, result):
        yield lsp, encoding_of(result)


def rename(lsp: LanguageClient, uri: str) -> str:
    """Open SRC and rename the parameter in the signature, as a user would."""
    open_doc(lsp, uri, SRC)
    change_doc(lsp, uri, 2, (0, 18), (0, 24), "ratio")
    return SRC.replace("values, factor", "values, ratio")


async def test_next_edit_predicts_the_other_use_of_a_renamed_parameter(
        fake: FakeBackend, session: tuple[LanguageClient, str]) -> None:
    lsp, encoding = session
    uri = "file:///tmp/nes/scale.py"
    text = rename(lsp, uri)
    fake.enqueue(rename_reply)
    result = plain(await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 2, 0, 23)))
    assert result["version"] == 2 and isinstance(result["id"], str)
    new = apply_text_edits(text, lsp_edits(result), encoding)
    assert new == text.replace("v * factor", "v * ratio")
    assert len(result["edits"]) == 1 and result["edits"][0]["newText"] == "ratio"
    [req] = fake.completion_requests
    body = user_message(req)
    assert REGION_START in body and REGION_END in body and CURSOR in body
    assert "-def scale(values, factor):" in body and "+def scale(values, ratio):" in body
    assert req.body["temperature"] == 0


async def test_copilot_inline_edit_has_copilots_shape(
        fake: FakeBackend, session: tuple[LanguageClient, str]) -> None:
    lsp, encoding = session
    uri = "file:///tmp/nes/copilot.py"
    text = rename(lsp, uri)
    fake.enqueue(rename_reply)
    result = plain(await lsp.protocol.send_request_async(COPILOT, params(uri, 2, 0, 23)))
    [edit] = result["edits"]
    assert edit["textDocument"] == {"uri": uri, "version": 2}
    assert edit["command"]["command"] == "devstral.nextEditAccepted"
    rng = types.Range(start=types.Position(**edit["range"]["start"]),
                      end=types.Position(**edit["range"]["end"]))
    new = apply_text_edits(text, [types.TextEdit(range=rng, new_text=edit["text"])], encoding)
    assert new == text.replace("v * factor", "v * ratio")
    await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
        command=edit["command"]["command"], arguments=edit["command"]["arguments"]))
    lsp.protocol.notify("textDocument/didShowInlineEdit", {"item": edit})
    stats = plain(await lsp.protocol.send_request_async("devstral/stats", {}))
    assert stats["nextEdit"]["accepted"] == 1 and stats["nextEdit"]["suggestions"] == 1


async def test_a_stale_version_is_never_answered(
        fake: FakeBackend, session: tuple[LanguageClient, str]) -> None:
    lsp, _ = session
    uri = "file:///tmp/nes/stale.py"
    rename(lsp, uri)
    assert await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 1, 0, 23)) is None
    assert fake.completion_requests == []  # refused before any model call


@pytest.mark.parametrize("how", ["typing", "cancelRequest"])
async def test_typing_or_cancelling_closes_the_model_call(
        fake: FakeBackend, session: tuple[LanguageClient, str], how: str) -> None:
    """Typing while the model thinks answers null (the text it was asked about is gone);
    `$/cancelRequest` cancels the request. Both close the HTTP stream at once."""
    lsp, _ = session
    uri = f"file:///tmp/nes/{how}.py"
    rename(lsp, uri)
    fake.enqueue(Reply.hang())
    msg_id, future = send_cancellable(lsp, NEXT_EDIT, params(uri, 2, 0, 23))
    [req] = await fake.wait_for_requests_async(1)
    if how == "typing":
        change_doc(lsp, uri, 3, (4, 17), (4, 17), "  # done")
        assert await future is None
    else:
        cancel_request(lsp, msg_id)
        with pytest.raises(Exception):  # noqa: B017 - the editor sees "request cancelled"
            await future
    await req.wait_done_async()
    assert req.client_disconnected


async def test_insert_at_cursor_is_offered_as_inline_completion(
        fake: FakeBackend, session: tuple[LanguageClient, str]) -> None:
    lsp, _ = session
    uri = "file:///tmp/nes/insert.py"
    src = "class User:\n    def __init__(self, name):\n        self.name = name\n        \n"
    open_doc(lsp, uri, src)
    change_doc(lsp, uri, 2, (1, 27), (1, 27), ", email")

    def reply(req: RecordedRequest) -> Reply:
        region = marked_region(user_message(req)).replace(CURSOR, "")
        return Reply.text(region.replace("        \n", "        self.email = email\n"))

    fake.enqueue(reply)
    result = plain(await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 2, 3, 8)))
    assert result is not None
    got = await inline(lsp, uri, 3, 8)
    assert got is not None and [i.insert_text for i in got.items] == [
        "        self.email = email"]
    assert len(fake.completion_requests) == 1  # the ghost text came without another call


async def test_settings_decide_when_it_runs(fake: FakeBackend) -> None:
    uri = "file:///tmp/nes/mode.py"
    async with lsp_session(fake_env(fake), init_options={"nextEdit": "off"}) as (lsp, _):
        rename(lsp, uri)
        assert await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 2, 0, 23)) is None
    async with lsp_session(fake_env(fake), init_options={"nextEdit": "invoked"}) as (lsp, _):
        rename(lsp, uri)
        automatic = params(uri, 2, 0, 23, trigger=2)
        assert await lsp.protocol.send_request_async(NEXT_EDIT, automatic) is None
        assert plain(await lsp.protocol.send_request_async(COPILOT, automatic)) == {"edits": []}
    assert fake.completion_requests == []
    # auto on a loopback endpoint (the fake backend) = on pause: automatic requests run
    async with lsp_session(fake_env(fake)) as (lsp, _):
        text = rename(lsp, uri)
        fake.enqueue(rename_reply)
        result = plain(await lsp.protocol.send_request_async(
            NEXT_EDIT, params(uri, 2, 0, 23, trigger=2)))
        assert result is not None and text
    assert len(fake.completion_requests) == 1


# --------------------------------------------------------------------------- the corpus


async def test_corpus_through_the_server(
        fake: FakeBackend, session: tuple[LanguageClient, str]) -> None:
    """Every scenario x every reply style, in one server: exactly the intended edits each
    time, and each request shows the user's edit as a diff and the marked region."""
    lsp, encoding = session
    failures: list[str] = []
    for sc in SCENARIOS:
        for style in STYLES:
            problem = await _corpus_case(lsp, fake, encoding, sc, style)
            if problem:
                failures.append(f"{sc.name}/{style}: {problem}")
    assert not failures, "\n".join(failures)


async def _corpus_case(lsp: LanguageClient, fake: FakeBackend, encoding: str, sc: Scenario,
                       style: str) -> str | None:
    uri = f"file:///tmp/nes/corpus/{sc.name}-{style}.{sc.ext}"
    open_doc(lsp, uri, sc.before, language_id=sc.language)
    start = _position(sc.before, sc.edit_start)
    end = _position(sc.before, sc.edit_start + len(sc.old))
    change_doc(lsp, uri, 2, start, end, sc.new)

    def reply(req: RecordedRequest) -> Reply:
        return Reply.text(styled(sc, style, marked_region(user_message(req))))

    fake.enqueue(reply)
    try:
        result = plain(await lsp.protocol.send_request_async(
            NEXT_EDIT, params(uri, 2, *_position(sc.edited, sc.cursor))))
        if result is None:
            return "no suggestion"
        if apply_text_edits(sc.edited, lsp_edits(result), encoding) != sc.final:
            return f"wrong edits {result['edits']}"
        reference = diff_spans(sc.edited, sc.final)
        if sum(len(e["newText"]) for e in result["edits"]) > sum(len(s.text) for s in reference):
            return f"edits larger than needed {result['edits']}"
        body = user_message(fake.completion_requests[-1])
        if not (REGION_START in body and CURSOR in body and REGION_END in body):
            return "the request has no marked region"
        for line in set(sc.edited.splitlines()) - set(sc.before.splitlines()):
            if f"\n+{line}\n" not in body:
                return f"the request does not show the user's edit (+{line})"
        return None
    finally:
        lsp.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))


def _position(text: str, offset: int) -> tuple[int, int]:
    """(line, character) of an ASCII text offset."""
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)



# --------------------------------------------------------------------------- code action


@pytest.mark.parametrize("client", ["emacs-eglot-1.9", "vscode-inline"])
async def test_code_action_fallback_applies_the_suggestion(fake: FakeBackend, client: str) -> None:
    """Editors without a next-edit UI: "Apply suggested edit" asks the model when run (a
    command with workspace/applyEdit, or codeAction/resolve) and gives a versioned edit."""
    uri = "file:///tmp/nes/action.py"
    async with lsp_session(fake_env(fake), client=client) as (lsp, init):
        text = rename(lsp, uri)
        action = by_title(await list_actions(lsp, uri, (0, 23)), "Apply suggested edit")
        assert fake.completion_requests == []  # listing actions never calls the model
        fake.enqueue(rename_reply)
        if action.command is not None:
            command = action.command
            await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
                command=command.command, arguments=command.arguments))
            [applied] = lsp.applied_edits  # type: ignore[attr-defined]
            edit = applied.edit
        else:
            resolved = await lsp.code_action_resolve_async(action)
            edit = resolved.edit
        assert edit is not None
        if edit.document_changes:
            [doc_edit] = edit.document_changes
            assert doc_edit.text_document.version == 2
            edits = doc_edit.edits
        else:
            edits = edit.changes[uri]
        assert apply_text_edits(text, edits, encoding_of(init)) == text.replace(
            "v * factor", "v * ratio")


async def test_code_action_offers_a_suggestion_at_hand_without_a_call(
        fake: FakeBackend) -> None:
    uri = "file:///tmp/nes/at-hand.py"
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, _):
        rename(lsp, uri)
        fake.enqueue(rename_reply)
        assert await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 2, 0, 23))
        action = by_title(await list_actions(lsp, uri, (0, 23)), "Apply suggested edit")
        assert action.edit is not None and "factor → ratio" in action.title
        assert len(fake.completion_requests) == 1
        change_doc(lsp, uri, 3, (4, 17), (4, 17), " ")
        stale = by_title(await list_actions(lsp, uri, (0, 23)), "Apply suggested edit")
        assert stale.edit is None  # the suggestion was for version 2: not offered any more


async def test_cost_meter_counts_next_edits_and_the_daily_budget_pauses_them(
        fake: FakeBackend, tmp_path: Path) -> None:
    env = fake_env(fake, DEVSTRAL_PROVIDER="mistral", XDG_STATE_HOME=str(tmp_path / "state"))
    uri = "file:///tmp/nes/budget.py"
    prices = {"devstral-small": {"input": 1.0, "output": 3.0}}  # USD per million tokens
    async with lsp_session(env, init_options={"dailyBudgetUsd": 0.000001, "prices": prices}
                           ) as (lsp, _):
        text = rename(lsp, uri)
        fake.enqueue(rename_reply)
        assert await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 2, 0, 23))
        usage = plain(await lsp.protocol.send_request_async("devstral/usage", {}))
        meter = usage["session"]["byFeature"]["nextEdit"]
        assert meter["requests"] == 1 and meter["tokensIn"] > 0 and meter["usd"] > 0
        assert usage["budgetReached"] is True
        change_doc(lsp, uri, 3, (4, 17), (4, 17), " ")
        automatic = params(uri, 3, 0, 23, trigger=2)
        assert await lsp.protocol.send_request_async(NEXT_EDIT, automatic) is None
        assert len(fake.completion_requests) == 1 and text  # paused: nothing more was asked


async def test_log_lines_of_each_next_edit_carry_its_own_request_id(
        fake: FakeBackend, session: tuple[LanguageClient, str]) -> None:
    """Two requests that log the same words stay apart in the log (`n<id>`, as `c<id>`)."""
    lsp, _ = session
    uri = "file:///tmp/nes/ids.py"
    rename(lsp, uri)
    fake.enqueue(Reply.text("Sure, the code looks good to me."))
    await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 2, 0, 23))
    change_doc(lsp, uri, 3, (4, 17), (4, 17), " ")
    fake.enqueue(Reply.text("Sure, the code looks good to me."))
    await lsp.protocol.send_request_async(NEXT_EDIT, params(uri, 3, 0, 23))
    assert len(fake.completion_requests) == 2
    logged = "\n".join(m.message for m in lsp.log_messages)
    ids = re.findall(r"\[(n\d+)\] lsp_server\.nes", logged)
    assert len(set(ids)) == 2, logged[-2000:]
