"""Code actions, their resolve step and the `devstral.*` range commands (protocol side).

* `textDocument/codeAction` lists what applies (`actions.catalog`) from the text alone and
  returns at once: it never calls the model.
* The model is called in `codeAction/resolve` for clients that can resolve `edit`, otherwise
  through the command the action carries (`workspace/executeCommand`), which then sends the
  edit with `workspace/applyEdit`. "Rewrite selection…", "Explain" and "Edit across files…"
  always carry their command: an editor plugin can intercept the rewrite and edit commands to
  ask for an instruction, and Explain produces no edit.
* Edits are versioned `TextDocumentEdit`s computed against the text at one document version;
  the command path also checks the version itself right before applying and refuses stale
  edits (clients falling back to `changes` would apply them blindly).
* What the model proposes is computed by the LSP-free core `actions/propose.py`; progress and
  cancellation are `features/progress.py`; `devstral.editWorkspace` is
  `features/edit_workspace.py`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lsprotocol import types

from ..actions.catalog import (
    ACTION_OF_COMMAND,
    COMMAND,
    RESOLVABLE,
    ActionId,
    Diag,
    Offer,
    select_actions,
)
from ..actions.propose import ActionFailed, Target
from ..documents import Document
from ..server import DevstralServer
from ..uris import uri_to_path
from . import next_edit
from .commands import (
    apply_edit,
    argument,
    edit_caps,
    guard,
    model_asker,
    open_documents,
    parse_range,
    path_policy,
)
from .progress import Progress

# The action cores (prompts, reply parsing, diffs, workspace edits, the secrets vault) are
# imported by the handlers that use them, on the first code action: registering the feature
# must not slow down the server's start (and with it the `initialize` reply).

log = logging.getLogger(__name__)

KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.Refactor,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Empty,
]
MAX_MESSAGE_CHARS = 4000
MAX_TEST_FILE_BYTES = 1_000_000
"""A larger existing test file is not read (nor extended) by Generate tests."""


# --------------------------------------------------------------------------- capabilities


def _resolve_supports_edit(ls: DevstralServer) -> bool:
    td = ls.client_capabilities.text_document
    ca = td.code_action if td else None
    rs = ca.resolve_support if ca else None
    return bool(rs and "edit" in (rs.properties or []))


def _literal_support(ls: DevstralServer) -> bool:
    td = ls.client_capabilities.text_document
    ca = td.code_action if td else None
    return bool(ca and ca.code_action_literal_support)


# --------------------------------------------------------------------------- payloads


def _range_json(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"start": {"line": start[0], "character": start[1]},
            "end": {"line": end[0], "character": end[1]}}


def _payload(offer: Offer, uri: str, doc: Document) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": str(offer.action),
        "uri": uri,
        "range": _range_json(offer.start, offer.end),
        "version": doc.version,
    }
    if offer.diagnostics:
        data["diagnostics"] = list(offer.diagnostics)
    if offer.action is ActionId.EDIT_WORKSPACE:
        data.pop("version")
        data["instruction"] = offer.instruction or ""
    elif offer.instruction is not None:
        data["instruction"] = offer.instruction
    return data


def _diags(params: types.CodeActionParams) -> list[Diag]:
    out = []
    for d in params.context.diagnostics or []:
        code = None if d.code is None else str(d.code)
        out.append(Diag(d.range.start.line, d.range.end.line, d.message, d.source, code))
    return out


def _to_code_action(ls: DevstralServer, offer: Offer, data: dict[str, Any],
                    params: types.CodeActionParams) -> types.CodeAction:
    action = types.CodeAction(title=offer.title, kind=offer.kind, data=data)
    if offer.action is ActionId.FIX:
        action.diagnostics = list(params.context.diagnostics or [])
        action.is_preferred = False
    if offer.action not in RESOLVABLE or not _resolve_supports_edit(ls):
        action.command = types.Command(title=offer.title, command=COMMAND[offer.action],
                                       arguments=[data])
    return action


# --------------------------------------------------------------------------- range actions


def _target(ls: DevstralServer, data: dict[str, Any], *, check_version: bool) -> Target:
    uri = data.get("uri")
    if not isinstance(uri, str):
        raise ActionFailed("Devstral: the action is missing its document.")
    doc = ls.documents.get(uri)
    if doc is None:
        raise ActionFailed("Devstral: the document is not open in the editor.")
    version = data.get("version")
    if check_version and isinstance(version, int) and version != doc.version:
        raise ActionFailed("Devstral: the document changed since the action was offered; "
                           "request the code action again.")
    rng = parse_range(data.get("range"))
    if rng is None:
        raise ActionFailed("Devstral: the action has no valid range.")
    path = uri_to_path(uri)
    if path is not None:
        reason = path_policy(ls, document=True)(path)
        if reason:
            raise ActionFailed(f"Devstral: {path.name} is not sent to the model ({reason}).")
    start = doc.offset_at(rng.start.line, rng.start.character, ls.encoding)
    end = doc.offset_at(rng.end.line, rng.end.character, ls.encoding)
    if end < start:
        start, end = end, start
    line, _ = doc.position_at(start, ls.encoding)
    return Target(uri=uri, version=doc.version, text=doc.text, start=start, end=end,
                  start_line=line, language=doc.language_id, label=ls.relative_path(uri),
                  newline=doc.line_ending())


async def compute_edit(ls: DevstralServer, action: ActionId, data: dict[str, Any],
                       progress: Progress, *, check_version: bool = True
                       ) -> tuple[types.WorkspaceEdit | None, Target, list[str]]:
    """Ask the model for one edit action; returns the edit (None: nothing to change)."""
    from ..actions.edit import document_edit
    from ..actions.propose import propose_replacement

    t = _target(ls, data, check_version=check_version)
    if action is ActionId.TESTS:
        return await _compute_tests(ls, t, data, progress)
    fitted = await propose_replacement(action, t, data, model_asker(ls, progress),
                                       progress.report)
    caps = edit_caps(ls)
    edit = document_edit(t.text, t.start, t.end, fitted, uri=t.uri, version=t.version,
                         encoding=str(ls.encoding), document_changes=caps.document_changes)
    return edit, t, [t.uri]


def _read_existing(ls: DevstralServer, path: Path) -> tuple[str | None, int | None, str | None]:
    """(text, open version, uri) of a file from the open documents, else from disk."""
    from ..fs_limits import read_regular

    for doc in ls.documents:
        if uri_to_path(doc.uri) == path:
            return doc.text, doc.version, doc.uri
    if os.path.lexists(path):
        try:  # regular files only, bounded (a FIFO or /dev/zero in its place must not hang)
            data = read_regular(path, MAX_TEST_FILE_BYTES)
            return data.decode("utf-8").removeprefix("\ufeff"), None, None
        except (OSError, UnicodeDecodeError) as exc:
            raise ActionFailed(f"Devstral: cannot read {path.name}: {exc}") from exc
    return None, None, None


async def _compute_tests(ls: DevstralServer, t: Target, data: dict[str, Any],
                         progress: Progress
                         ) -> tuple[types.WorkspaceEdit | None, Target, list[str]]:
    from ..actions.propose import propose_tests, with_tests_appended
    from ..actions.testfile import matching_test_path
    from ..edits.overlay import FileChange
    from ..edits.workspace_edit import build_workspace_edit, revalidate, stale_message

    src = uri_to_path(t.uri)
    test_path = matching_test_path(src, ls.roots) if src is not None else None
    if src is None or test_path is None:
        raise ActionFailed("Devstral: no test file convention is known for this file.")
    reason = path_policy(ls)(test_path)
    if reason:
        raise ActionFailed(f"Devstral: {test_path.name} is not sent to the model ({reason}).")
    existing, version, uri = _read_existing(ls, test_path)
    code = await propose_tests(t, data, model_asker(ls, progress),
                               test_label=ls.relative_path(test_path.as_uri()),
                               existing=existing)
    if test_path == src:
        existing, version, uri = t.text, t.version, t.uri
    change = FileChange(path=test_path, old=existing, new=with_tests_appended(existing, code),
                        version=version if existing is not None else None)
    # The test file may have been opened, typed in or created while the model worked: the
    # edit was computed for the text read above, so it is sent only if the file still holds it.
    fresh, stale = revalidate([change], open_documents(ls))
    if stale:
        raise ActionFailed(stale_message(stale))
    change = fresh[0]
    if change.version is not None and uri is None:
        uri = next((d.uri for d in ls.documents if uri_to_path(d.uri) == test_path), None)
    built = build_workspace_edit(
        [change], edit_caps(ls), label="Devstral: generate tests",
        uri_for=lambda p: uri if uri is not None and p == test_path else p.as_uri())
    if built.message:
        raise ActionFailed(f"Devstral: {built.message}")
    return built.edit, t, built.files


# --------------------------------------------------------------------------- explain


async def run_explain(ls: DevstralServer, data: dict[str, Any]) -> dict[str, Any]:
    from ..actions.propose import propose_explanation, save_explanation

    async with Progress(ls, "Devstral: explaining") as progress:
        t = _target(ls, data, check_version=False)
        explanation = await propose_explanation(t, data, model_asker(ls, progress))
    win = ls.client_capabilities.window
    if win is not None and win.show_document is not None and win.show_document.support:
        try:
            target = save_explanation(t, explanation)
            result = await ls.window_show_document_async(types.ShowDocumentParams(
                uri=target.as_uri(), take_focus=True))
            if result is not None and result.success:
                return {"shown": "document", "uri": target.as_uri()}
        except OSError as exc:
            log.warning("cannot write the explanation: %s", exc)
    text = explanation.text
    body = text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"
    ls.user.show_info(f"Devstral explains {explanation.name}:\n\n{body}")
    return {"shown": "message"}


# --------------------------------------------------------------------------- applying


async def run_edit_command(ls: DevstralServer, action: ActionId, data: dict[str, Any]
                           ) -> dict[str, Any]:
    """Command path: compute, check the version is still current, `workspace/applyEdit`."""
    check = action is not ActionId.REWRITE or isinstance(data.get("version"), int)
    async with Progress(ls, f"Devstral: {action}") as progress:
        edit, t, files = await compute_edit(ls, action, data, progress, check_version=check)
    if edit is None:
        ls.user.show_info("Devstral proposed no change.")
        return {"applied": False, "files": [], "summary": "No change."}
    doc = ls.documents.get(t.uri)
    if doc is None or doc.version != t.version:
        raise ActionFailed("Devstral: the document changed while Devstral was working; the "
                           "edit was not applied. Run the action again.")
    applied = await apply_edit(ls, edit, f"Devstral: {action}")
    return {"applied": applied, "files": files, "summary": ""}


# --------------------------------------------------------------------------- registration


def register(server: DevstralServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=KINDS, resolve_provider=True))
    def code_action(ls: DevstralServer, params: types.CodeActionParams
                    ) -> list[types.CodeAction | types.Command]:
        from ..actions.scope import DocumentLines, is_test_file
        from ..actions.testfile import matching_test_path

        uri = params.text_document.uri
        doc = ls.documents.get(uri)
        if doc is None:
            return []
        r = params.range
        path = uri_to_path(uri)
        can_tests = path is not None and matching_test_path(path, ls.roots) is not None
        offers = select_actions(
            DocumentLines(doc), (r.start.line, r.start.character), (r.end.line, r.end.character),
            diagnostics=_diags(params), only=params.context.only,
            can_generate_tests=can_tests, in_test_file=is_test_file(uri))
        out: list[types.CodeAction | types.Command] = []
        for offer in offers:
            data = _payload(offer, uri, doc)
            action = _to_code_action(ls, offer, data, params)
            if not _literal_support(ls):
                out.append(action.command or types.Command(
                    title=offer.title, command=COMMAND[offer.action], arguments=[data]))
            else:
                out.append(action)
        return out + next_edit.code_actions(ls, params, literals=_literal_support(ls))

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: DevstralServer, action: types.CodeAction) -> types.CodeAction:
        if next_edit.is_next_edit_action(action) and action.command is None:
            return await next_edit.resolve_action(ls, action)
        data = action.data if isinstance(action.data, dict) else None
        try:
            kind = ActionId(str(data.get("action"))) if data else None
        except ValueError:
            kind = None
        if data is None or kind not in RESOLVABLE or action.command is not None:
            return action

        async def work() -> None:
            assert kind is not None and data is not None
            async with Progress(ls, action.title) as progress:
                edit, _, _ = await compute_edit(ls, kind, data, progress)
            if edit is None:
                ls.user.show_info("Devstral proposed no change.")
            action.edit = edit

        await guard(ls, work())
        return action

    def edit_command(action_id: ActionId) -> Any:
        async def handler(ls: DevstralServer, *args: Any) -> dict[str, Any]:
            async def work() -> dict[str, Any]:
                return await run_edit_command(ls, action_id, argument(args))
            return await guard(ls, work())
        return handler

    for action_id in (ActionId.FIX, ActionId.REWRITE, ActionId.DOCSTRING, ActionId.IMPLEMENT,
                      ActionId.TESTS):
        server.command(COMMAND[action_id])(edit_command(action_id))

    @server.command(COMMAND[ActionId.EXPLAIN])
    async def explain(ls: DevstralServer, *args: Any) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return await run_explain(ls, argument(args))
        return await guard(ls, work())


__all__ = ["ACTION_OF_COMMAND", "register"]
