"""Next-edit suggestions over LSP: `devstral/nextEdit`, Copilot's `textDocument/copilotInlineEdit`,
and the hooks that offer a suggestion through inline completion and a code action.

* `devstral/nextEdit` — params `{textDocument: {uri, version?}, position, context?:
  {triggerKind: 1 (invoked) | 2 (automatic)}}`; result `{edits: [{range, newText}], version, id}`
  (the edits are applied together, ranges refer to the document at `version`) or null.
* `textDocument/copilotInlineEdit` — the same prediction shaped like GitHub's
  copilot-language-server: `{edits: [{text, textDocument: {uri, version}, range, command}]}`
  with one edit covering all changes; `command` (`devstral.nextEditAccepted`) is executed by the
  client on accept. Clients send it on their own (cursor moves), so it counts as automatic.
* `textDocument/didShowInlineEdit` — counted.

A suggestion is computed against one document version and answered only if the document is
still at that version; typing cancels the model call (`note_edit`, from document sync).
The cores are in `lsp_server.nes`; this module only translates.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from lsprotocol import types

from .. import command_names
from ..edit_builder import FileEdit, build_edit
from ..nes.engine import Answer, NesBackendError, NesRequest, NextEdit, NextEditEngine
from ..nes.mode import Mode, allowed, effective_mode
from ..nes.prompt import OtherFile
from ..positions import LineIndex
from ..server import DevstralServer
from ..textdiff import span_edits

log = logging.getLogger(__name__)

NEXT_EDIT = "devstral/nextEdit"
COPILOT_INLINE_EDIT = "textDocument/copilotInlineEdit"
DID_SHOW_INLINE_EDIT = "textDocument/didShowInlineEdit"
ACCEPTED_COMMAND = command_names.NEXT_EDIT_ACCEPTED
NES_FEATURE = "nextEdit"

_engines: weakref.WeakKeyDictionary[DevstralServer, NextEditEngine] = (
    weakref.WeakKeyDictionary())


def engine_of(ls: DevstralServer) -> NextEditEngine:
    engine = _engines.get(ls)
    if engine is None:
        engine = NextEditEngine(lambda: _asker(ls), health=ls.pipeline.health)
        _engines[ls] = engine
    return engine


def note_edit(ls: DevstralServer, uri: str) -> None:
    """Called by document sync on every change: cancel that document's prediction."""
    engine = _engines.get(ls)
    if engine is not None:
        engine.note_edit(uri)


def mode_of(ls: DevstralServer) -> Mode:
    return effective_mode(ls.settings.next_edit, ls.endpoint.base_url)


# --------------------------------------------------------------------------- the model call


def _asker(ls: DevstralServer) -> Any:
    """One non-streamed chat call through the model gateway, accounted as `nextEdit` in the
    usage meter (errors become NesBackendError)."""
    from ..model.client import BackendError

    settings = ls.settings
    # A rewritten region is several times longer than a completion: allow for it.
    timeout_s = min(settings.action_timeout_ms, max(settings.timeout_ms * 3, 15000)) / 1000

    async def ask(messages: list[dict[str, Any]], max_tokens: int) -> Answer:
        try:
            reply = await ls.model_client().chat(
                messages=messages, timeout_s=timeout_s, max_tokens=max_tokens,
                temperature=0.0, feature="nextEdit")
        except BackendError as exc:
            raise NesBackendError(exc.message, exc.retry_after) from exc
        if reply.empty:
            raise NesBackendError("the model returned no choices")
        return Answer(text=reply.content, prompt_tokens=reply.usage.prompt_tokens,
                      completion_tokens=reply.usage.completion_tokens,
                      cached_tokens=reply.usage.cached_tokens)

    return ask


# --------------------------------------------------------------------------- params


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def _position(params: Any) -> types.Position | None:
    line, char = _get(params, "position", "line"), _get(params, "position", "character")
    if not isinstance(line, int) or not isinstance(char, int) or line < 0 or char < 0:
        return None
    return types.Position(line=line, character=char)


# --------------------------------------------------------------------------- prediction


async def predict(ls: DevstralServer, uri: str, version: Any, pos: types.Position, *,
                  invoked: bool) -> NextEdit | None:
    """The suggestion at `pos`, or None (off, not allowed now, stale, nothing to change)."""
    await ls.wait_configured()
    if not allowed(mode_of(ls), invoked=invoked):
        return None
    doc = ls.documents.get(uri)
    if doc is None:
        return None
    if isinstance(version, int) and version != doc.version:
        return None  # the client asks about a text we no longer have
    if (problem := ls.endpoint.problem()) is not None:
        if invoked:
            ls.user.show_error(problem)
        return None
    if (reached := ls.budget_refusal()) is not None:
        if invoked:  # automatic ones pause quietly; the status says why
            ls.user.show_error(reached)
        return None
    engine = engine_of(ls)
    offset = doc.offset_at(pos.line, pos.character, ls.encoding)
    ctx = ls.context.build(doc, offset, ls.settings.context_tokens)
    if ctx is None:
        return None  # a secret or ignored file: nothing of it is sent
    from ..context.tokens import count_tokens

    req = NesRequest(
        uri=uri, version=doc.version, text=doc.text, cursor=offset,
        language_id=doc.language_id, path=ctx.path, invoked=invoked,
        snippets=[OtherFile(s.path, s.text) for s in ctx.snippets],
        recent_edits=list(ctx.recent_edits),
        latest=ls.context_engine.history.latest(uri),
        count=count_tokens, model=ls.endpoint.model or "",
    )
    try:
        result = await engine.suggest(req)
    except NesBackendError as exc:
        log.warning("next edit failed: %s", exc.message)
        if invoked:
            ls.user.show_error(f"Devstral: {exc.message}")
        return None
    if result is None:
        return None
    current = ls.documents.get(uri)
    if current is None or current.version != result.version:
        engine.stats.cancelled += 1
        return None  # stale: the user typed while the model was thinking
    return result


def _index(ls: DevstralServer, result: NextEdit) -> LineIndex:
    return LineIndex(result.text, ls.encoding)


def _range(index: LineIndex, start: int, end: int) -> dict[str, Any]:
    a, b = index.position(start), index.position(end)
    return {"start": {"line": a.line, "character": a.character},
            "end": {"line": b.line, "character": b.character}}


def text_edits(ls: DevstralServer, result: NextEdit) -> list[types.TextEdit]:
    return span_edits(result.text, result.spans, ls.encoding)


def to_next_edit_result(ls: DevstralServer, result: NextEdit) -> dict[str, Any]:
    index = _index(ls, result)
    return {
        "edits": [{"range": _range(index, s.start, s.end), "newText": s.text}
                  for s in result.spans],
        "version": result.version,
        "id": result.id,
    }


def merged(result: NextEdit) -> tuple[int, int, str]:
    """All spans as one replacement (Copilot's edits are alternatives, not a sequence)."""
    first, last = result.spans[0].start, result.spans[-1].end
    out: list[str] = []
    pos = first
    for s in result.spans:
        out.append(result.text[pos:s.start])
        out.append(s.text)
        pos = s.end
    return first, last, "".join(out)


def to_copilot_result(ls: DevstralServer, result: NextEdit) -> dict[str, Any]:
    start, end, text = merged(result)
    return {"edits": [{
        "text": text,
        "textDocument": {"uri": result.uri, "version": result.version},
        "range": _range(_index(ls, result), start, end),
        "command": {"title": "Accept next edit", "command": ACCEPTED_COMMAND,
                    "arguments": [result.id]},
    }]}


def insert_at_cursor(ls: DevstralServer, uri: str, pos: types.Position
                     ) -> types.InlineCompletionItem | None:
    """The current suggestion as an inline completion item, when it only inserts text at
    `pos` (a ghost text shows it as well as a diff would); never calls the model."""
    engine = _engines.get(ls)
    doc = ls.documents.get(uri)
    if engine is None or doc is None:
        return None
    result = engine.suggestion_for(uri, doc.version)
    if result is None or len(result.spans) != 1:
        return None
    span = result.spans[0]
    offset = doc.offset_at(pos.line, pos.character, ls.encoding)
    if span.start != span.end or span.start != offset or not span.text:
        return None
    line_start = types.Position(line=pos.line, character=0)
    before = doc.text_range(doc.offset_at(pos.line, 0, ls.encoding), offset)
    return types.InlineCompletionItem(insert_text=before + span.text,
                                      range=types.Range(start=line_start, end=pos))


# --------------------------------------------------------------------------- code action

APPLY_COMMAND = command_names.APPLY_NEXT_EDIT
ACTION_TITLE = "Apply suggested edit"


def workspace_edit(ls: DevstralServer, result: NextEdit) -> types.WorkspaceEdit:
    """The suggestion as a versioned edit: a client with `documentChanges` refuses it once
    the document moved on; the others get `changes` and the command path checks itself."""
    from .commands import edit_caps

    return build_edit([FileEdit(uri=result.uri, version=result.version,
                                edits=text_edits(ls, result))], edit_caps(ls))


def _preview(result: NextEdit) -> str:
    start, end, text = merged(result)
    old = " ".join(result.text[start:end].split())
    new = " ".join(text.split())
    line = f"{old[:30]} → {new[:30]}" if old else f"insert {new[:40]}"
    return line


def code_actions(ls: DevstralServer, params: types.CodeActionParams, *, literals: bool
                 ) -> list[types.CodeAction | types.Command]:
    """"Apply suggested edit" for editors without a next-edit UI: with the edit itself when a
    suggestion for this version is at hand (never calls the model), else resolved (or run as
    a command) on demand, which asks the model then."""
    only = params.context.only
    if only and not any(types.CodeActionKind.QuickFix.value.startswith(str(k)) or
                        str(k) == "" for k in only):
        return []
    if mode_of(ls) == "off":
        return []
    uri = params.text_document.uri
    doc = ls.documents.get(uri)
    if doc is None:
        return []
    pos = params.range.start
    data = {"nextEdit": True, "uri": uri, "version": doc.version,
            "position": {"line": pos.line, "character": pos.character}}
    engine = _engines.get(ls)
    found = engine.suggestion_for(uri, doc.version) if engine is not None else None
    if found is not None and literals:
        return [types.CodeAction(
            title=f"{ACTION_TITLE}: {_preview(found)}", kind=types.CodeActionKind.QuickFix,
            edit=workspace_edit(ls, found), data={**data, "id": found.id},
            command=types.Command(title=ACTION_TITLE, command=ACCEPTED_COMMAND,
                                  arguments=[found.id]))]
    command = types.Command(title=ACTION_TITLE, command=APPLY_COMMAND, arguments=[data])
    if not literals:
        return [command]
    return [types.CodeAction(title=f"{ACTION_TITLE} (ask Devstral)",
                             kind=types.CodeActionKind.QuickFix, data=data,
                             command=None if _resolve_edit(ls) else command)]


def _resolve_edit(ls: DevstralServer) -> bool:
    td = ls.client_capabilities.text_document
    ca = td.code_action if td else None
    rs = ca.resolve_support if ca else None
    return bool(rs and "edit" in (rs.properties or []))


def is_next_edit_action(action: types.CodeAction) -> bool:
    return isinstance(action.data, dict) and action.data.get("nextEdit") is True


async def _predict_from(ls: DevstralServer, data: dict[str, Any]) -> NextEdit | None:
    uri, pos = data.get("uri"), _position(data)
    if not isinstance(uri, str) or pos is None:
        return None
    return await predict(ls, uri, data.get("version"), pos, invoked=True)


async def resolve_action(ls: DevstralServer, action: types.CodeAction) -> types.CodeAction:
    """`codeAction/resolve` of "Apply suggested edit": ask the model now."""
    assert isinstance(action.data, dict)
    result = await _predict_from(ls, action.data)
    if result is None:
        ls.user.show_info("Devstral suggests no edit here.")
        return action
    action.edit = workspace_edit(ls, result)
    action.command = types.Command(title=ACTION_TITLE, command=ACCEPTED_COMMAND,
                                   arguments=[result.id])
    return action


async def run_apply_command(ls: DevstralServer, data: dict[str, Any]) -> dict[str, Any]:
    from .commands import apply_edit

    result = await _predict_from(ls, data)
    if result is None:
        ls.user.show_info("Devstral suggests no edit here.")
        return {"applied": False}
    doc = ls.documents.get(result.uri)
    if doc is None or doc.version != result.version:
        return {"applied": False}  # stale: never applied
    applied = await apply_edit(ls, workspace_edit(ls, result), "Devstral: next edit")
    if applied:
        engine_of(ls).stats.accepted += 1
    return {"applied": applied}


# --------------------------------------------------------------------------- registration


def register(server: DevstralServer) -> None:
    """Every log line of one next-edit request carries its id (`n<n>`), as completions' do."""
    from ..logging_setup import request_scope

    @server.feature(NEXT_EDIT)
    async def next_edit(ls: DevstralServer, params: Any) -> dict[str, Any] | None:
        uri = _get(params, "textDocument", "uri")
        pos = _position(params)
        if not isinstance(uri, str) or pos is None:
            return None
        trigger = _get(params, "context", "triggerKind")
        invoked = trigger != 2 and trigger != "automatic"
        with request_scope("n"):
            result = await predict(ls, uri, _get(params, "textDocument", "version"), pos,
                                   invoked=invoked)
        return None if result is None else to_next_edit_result(ls, result)

    @server.feature(COPILOT_INLINE_EDIT)
    async def copilot_inline_edit(ls: DevstralServer, params: Any) -> dict[str, Any]:
        uri = _get(params, "textDocument", "uri")
        pos = _position(params)
        if not isinstance(uri, str) or pos is None:
            return {"edits": []}
        with request_scope("n"):
            result = await predict(ls, uri, _get(params, "textDocument", "version"), pos,
                                   invoked=False)
        return {"edits": []} if result is None else to_copilot_result(ls, result)

    @server.feature(DID_SHOW_INLINE_EDIT)
    def did_show(ls: DevstralServer, params: Any) -> None:
        engine_of(ls).stats.shown += 1

    @server.command(ACCEPTED_COMMAND)
    def accepted(ls: DevstralServer, *args: Any) -> None:
        engine_of(ls).stats.accepted += 1

    @server.command(APPLY_COMMAND)
    async def apply_next_edit(ls: DevstralServer, *args: Any) -> Any:
        from .commands import argument, guard

        async def work() -> dict[str, Any]:
            return await run_apply_command(ls, argument(args))
        return await guard(ls, work())
