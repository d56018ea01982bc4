"""Code actions, their resolve step and the `devstral.*` commands.

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
* Model calls report `$/progress` (cancellable) when the client supports server-created
  progress; `window/workDoneProgress/cancel` and `$/cancelRequest` both cancel the call, which
  closes its HTTP connection.

`devstral.editWorkspace` (issue 6) takes `{"instruction", "uri"?, "range"?}`. Without an
instruction it uses the text of a `TODO`/`FIXME` comment in the range (or on the cursor line),
which is what the "Edit across files…" code action passes for clients that cannot prompt; with
neither it shows a message saying how to give one and changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.protocol import default_converter

from ..actions.catalog import (
    ACTION_OF_COMMAND,
    COMMAND,
    DEFAULT_INSTRUCTION,
    RESOLVABLE,
    ActionId,
    Diag,
    Offer,
    select_actions,
)
from ..documents import Document
from ..server import DevstralServer, uri_to_path

if TYPE_CHECKING:
    from ..actions.parse import ToolCallText
    from ..actions.prompts import ActionInput
    from ..edits.workspace_edit import EditCapabilities
    from ..secrets_vault import SecretVault

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


class ActionFailed(Exception):
    """Ends an action with one message for the user and no edit."""


class Cancelled(Exception):
    """The user cancelled through the progress UI."""


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


def _edit_caps(ls: DevstralServer) -> EditCapabilities:
    from ..edits.workspace_edit import EditCapabilities

    return EditCapabilities.from_client(ls.client_capabilities, str(ls.encoding))


def _window_caps(ls: DevstralServer) -> types.WindowClientCapabilities | None:
    return ls.client_capabilities.window


# --------------------------------------------------------------------------- progress


class Progress:
    """Server-created `$/progress` (begin → report → end), cancellable; a no-op for clients
    without `window.workDoneProgress`. `run` awaits work in a child task that a progress
    cancel stops (raising `Cancelled`); a `$/cancelRequest` cancels the handler task and with
    it the child."""

    def __init__(self, ls: DevstralServer, title: str) -> None:
        self.ls = ls
        self.title = title
        self.token: str | None = None
        self.user_cancelled = False

    async def __aenter__(self) -> Progress:
        win = _window_caps(self.ls)
        if win is not None and win.work_done_progress:
            token = f"devstral-{uuid.uuid4().hex[:12]}"
            try:
                await asyncio.wait_for(self.ls.work_done_progress.create_async(token), 5.0)
                self.ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                    title=self.title, cancellable=True, message="asking Devstral…"))
                self.token = token
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("work done progress unavailable", exc_info=True)
        return self

    def report(self, message: str) -> None:
        if self.token is not None:
            try:
                self.ls.work_done_progress.report(
                    self.token, types.WorkDoneProgressReport(message=message, cancellable=True))
            except Exception:
                log.debug("progress report failed", exc_info=True)

    async def run(self, coro: Any) -> Any:
        task = asyncio.ensure_future(coro)
        fut = self.ls.work_done_progress.tokens.get(self.token) if self.token else None
        if fut is not None:
            loop = asyncio.get_running_loop()

            def on_cancel(f: Any) -> None:
                if f.cancelled():
                    self.user_cancelled = True
                    loop.call_soon_threadsafe(task.cancel)

            fut.add_done_callback(on_cancel)
        try:
            return await task
        except asyncio.CancelledError:
            if self.user_cancelled and not _current_cancelling():
                raise Cancelled() from None
            raise

    async def __aexit__(self, *exc: object) -> None:
        if self.token is not None:
            try:
                msg = "cancelled" if self.user_cancelled or exc[0] is not None else "done"
                self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=msg))
            except Exception:
                log.debug("progress end failed", exc_info=True)
            self.ls.work_done_progress.tokens.pop(self.token, None)


def _current_cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())


# --------------------------------------------------------------------------- payloads


def _range_json(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"start": {"line": start[0], "character": start[1]},
            "end": {"line": end[0], "character": end[1]}}


def _parse_range(raw: Any) -> types.Range | None:
    if raw is None:
        return None
    try:
        rng = default_converter().structure(raw, types.Range)
    except Exception:
        return None
    return rng if isinstance(rng, types.Range) else None


class DocLines:
    """`scope.Lines` over a `Document` without splitting the whole text."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def __len__(self) -> int:
        return self.doc.line_count

    def __getitem__(self, index: int) -> str:
        return self.doc.line(index)


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


# --------------------------------------------------------------------------- privacy


def path_policy(ls: DevstralServer) -> Any:
    """The one hook for the ignore rules: `path -> refusal reason | None`.

    Uses the context engine's guard when it runs, otherwise a `PrivacyGuard` over the roots
    (secret files, `.devstralignore`); everything is allowed if privacy cannot be loaded.
    """
    engine = ls.context_engine
    guard = getattr(engine, "privacy", None) or getattr(engine, "guard", None)
    if guard is not None and hasattr(guard, "blocked_reason"):
        return guard.blocked_reason
    try:
        from ..context.privacy import PrivacyGuard
    except Exception:  # pragma: no cover - privacy module unavailable
        log.warning("privacy rules unavailable: every workspace file may be sent")
        return lambda _p: None
    return PrivacyGuard(ls.roots).blocked_reason


# --------------------------------------------------------------------------- the model


@dataclass
class Reply:
    content: str
    tool_calls: list[ToolCallText]
    finish_reason: str | None


async def _ask(ls: DevstralServer, messages: list[dict[str, Any]], progress: Progress,
               max_tokens: int = 4096) -> Reply:
    from ..actions.parse import ToolCallText
    from ..model.client import BackendError

    timeout_s = ls.settings.action_timeout_ms / 1000
    problem = ls.endpoint.problem() if hasattr(ls.endpoint, "problem") else None
    if problem:
        raise ActionFailed(f"Devstral is not configured: {problem}")
    try:
        response = await progress.run(ls.model_client().chat(
            messages=messages, timeout_s=timeout_s, max_tokens=max_tokens, temperature=0.1))
    except BackendError as exc:
        raise ActionFailed(f"Devstral: {exc.message}") from exc
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise ActionFailed("Devstral returned an empty response; nothing was changed.")
    msg = choices[0].message
    calls = []
    for tc in getattr(msg, "tool_calls", None) or []:
        fn = getattr(tc, "function", None)
        if fn is not None:
            calls.append(ToolCallText(str(fn.name or ""), str(fn.arguments or "")))
    content = msg.content if isinstance(msg.content, str) else ""
    return Reply(content, calls, getattr(choices[0], "finish_reason", None))


# --------------------------------------------------------------------------- range actions


@dataclass
class Target:
    doc: Document
    uri: str
    version: int
    text: str
    start: int
    end: int
    start_line: int


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
    rng = _parse_range(data.get("range"))
    if rng is None:
        raise ActionFailed("Devstral: the action has no valid range.")
    path = uri_to_path(uri)
    if path is not None:
        reason = path_policy(ls)(path)
        if reason:
            raise ActionFailed(f"Devstral: {path.name} is not sent to the model ({reason}).")
    start = doc.offset_at(rng.start.line, rng.start.character, ls.encoding)
    end = doc.offset_at(rng.end.line, rng.end.character, ls.encoding)
    if end < start:
        start, end = end, start
    line, _ = doc.position_at(start, ls.encoding)
    return Target(doc, uri, doc.version, doc.text, start, end, line)


def _input(ls: DevstralServer, action: ActionId, t: Target, data: dict[str, Any],
           vault: SecretVault, **extra: Any) -> ActionInput:
    """What the model sees; every secret in it goes through `vault` (restored in the reply)."""
    from ..actions.prompts import CONTEXT_AFTER_CHARS, CONTEXT_BEFORE_CHARS, ActionInput

    before = t.text[max(0, t.start - CONTEXT_BEFORE_CHARS):t.start]
    if t.start > CONTEXT_BEFORE_CHARS and "\n" in before:
        before = before[before.index("\n") + 1:]
    after = t.text[t.end:t.end + CONTEXT_AFTER_CHARS]
    if len(t.text) - t.end > CONTEXT_AFTER_CHARS and "\n" in after:
        after = after[:after.rindex("\n")]
    diags = data.get("diagnostics")
    return ActionInput(
        action=action,
        path=ls.relative_path(t.uri),
        language=t.doc.language_id,
        before=vault.hide(before),
        selection=vault.hide(t.text[t.start:t.end]),
        after=vault.hide(after),
        start_line=t.start_line,
        diagnostics=[str(d) for d in diags] if isinstance(diags, list) else [],
        instruction=str(data.get("instruction") or DEFAULT_INSTRUCTION),
        **extra,
    )


async def compute_edit(ls: DevstralServer, action: ActionId, data: dict[str, Any],
                       progress: Progress, *, check_version: bool = True
                       ) -> tuple[types.WorkspaceEdit | None, Target, list[str]]:
    """Ask the model for one edit action; returns the edit (None: nothing to change)."""
    from ..actions.edit import document_edit, fit_to_range
    from ..actions.parse import ReplyError, parse_code_reply
    from ..actions.prompts import build_messages
    from ..secrets_vault import SecretVault

    t = _target(ls, data, check_version=check_version)
    if action is ActionId.TESTS:
        return await _compute_tests(ls, t, data, progress)
    vault = SecretVault()
    inp = _input(ls, action, t, data, vault)
    reply = await _ask(ls, build_messages(inp), progress)
    progress.report("applying the answer")
    try:
        new = parse_code_reply(reply.content, original=inp.selection, language=inp.language,
                               tool_calls=reply.tool_calls, finish_reason=reply.finish_reason,
                               allow_empty=action is ActionId.FIX)
    except ReplyError as exc:
        log.info("unusable reply: %r", reply.content[:500])
        raise ActionFailed(str(exc)) from exc
    new = vault.reveal(new)
    line_start = t.text.rfind("\n", 0, t.start) + 1
    fitted = fit_to_range(t.text[t.start:t.end], new, line_prefix=t.text[line_start:t.start],
                          newline=t.doc.line_ending())
    caps = _edit_caps(ls)
    edit = document_edit(t.text, t.start, t.end, fitted, uri=t.uri, version=t.version,
                         encoding=str(ls.encoding), document_changes=caps.document_changes)
    return edit, t, [t.uri]


def _read_existing(ls: DevstralServer, path: Path) -> tuple[str | None, int | None, str | None]:
    """(text, open version, uri) of a file from the open documents, else from disk."""
    for doc in ls.documents:
        if uri_to_path(doc.uri) == path:
            return doc.text, doc.version, doc.uri
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8").removeprefix("\ufeff"), None, None
        except (OSError, UnicodeDecodeError) as exc:
            raise ActionFailed(f"Devstral: cannot read {path.name}: {exc}") from exc
    return None, None, None


async def _compute_tests(ls: DevstralServer, t: Target, data: dict[str, Any],
                         progress: Progress
                         ) -> tuple[types.WorkspaceEdit | None, Target, list[str]]:
    from ..actions.edit import append_text
    from ..actions.parse import ReplyError, parse_code_reply
    from ..actions.prompts import build_messages
    from ..actions.testfile import matching_test_path
    from ..edits.overlay import FileChange
    from ..edits.workspace_edit import build_workspace_edit
    from ..secrets_vault import SecretVault

    src = uri_to_path(t.uri)
    test_path = matching_test_path(src, ls.roots) if src is not None else None
    if src is None or test_path is None:
        raise ActionFailed("Devstral: no test file convention is known for this file.")
    reason = path_policy(ls)(test_path)
    if reason:
        raise ActionFailed(f"Devstral: {test_path.name} is not sent to the model ({reason}).")
    existing, version, uri = _read_existing(ls, test_path)
    shown = existing
    if existing is not None and len(existing) > 8000:
        shown = existing[:4000] + "\n…\n" + existing[-3000:]
    vault = SecretVault()
    inp = _input(ls, ActionId.TESTS, t, data, vault,
                 test_path=ls.relative_path(test_path.as_uri()),
                 test_existing=vault.hide(shown) if shown is not None else None)
    reply = await _ask(ls, build_messages(inp), progress)
    try:
        code = parse_code_reply(reply.content, original="", language=inp.language,
                                tool_calls=reply.tool_calls, finish_reason=reply.finish_reason)
    except ReplyError as exc:
        raise ActionFailed(str(exc)) from exc
    if not code.strip():
        raise ActionFailed("Devstral returned no tests; nothing was changed.")
    code = vault.reveal(code)
    if test_path == src:
        existing, version, uri = t.text, t.version, t.uri
    newline = "\r\n" if existing and existing.count("\r\n") > existing.count("\n") / 2 else "\n"
    if existing is None:
        change = FileChange(path=test_path, old=None, new=append_text("", code), version=None)
    else:
        change = FileChange(path=test_path, old=existing, new=append_text(existing, code, newline),
                            version=version)
    caps = _edit_caps(ls)
    built = build_workspace_edit(
        [change], caps, label="Devstral: generate tests",
        uri_for=lambda p: uri if uri is not None and p == test_path else p.as_uri())
    if built.message:
        raise ActionFailed(f"Devstral: {built.message}")
    return built.edit, t, built.files


# --------------------------------------------------------------------------- explain


def explanation_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) / "devstral-lsp" if base else Path(tempfile.gettempdir()) / (
        f"devstral-lsp-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    return root / "explanations"


async def run_explain(ls: DevstralServer, data: dict[str, Any]) -> dict[str, Any]:
    from ..actions.parse import ReplyError, parse_markdown_reply
    from ..actions.prompts import build_messages
    from ..secrets_vault import SecretVault

    async with Progress(ls, "Devstral: explaining") as progress:
        t = _target(ls, data, check_version=False)
        inp = _input(ls, ActionId.EXPLAIN, t, data, SecretVault())
        reply = await _ask(ls, build_messages(inp), progress, max_tokens=2048)
    try:
        text = parse_markdown_reply(reply.content)
    except ReplyError as exc:
        raise ActionFailed(str(exc)) from exc
    name = Path(inp.path).name or "selection"
    heading = f"# Explanation: {inp.path}, lines {t.start_line + 1}+\n\n"
    win = _window_caps(ls)
    if win is not None and win.show_document is not None and win.show_document.support:
        folder = explanation_dir()
        digest = hashlib.sha1(f"{t.uri}:{t.start}:{t.end}".encode()).hexdigest()[:8]
        target = folder / f"{name}-{digest}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(heading + text + "\n", encoding="utf-8")
            result = await ls.window_show_document_async(types.ShowDocumentParams(
                uri=target.as_uri(), take_focus=True))
            if result is not None and result.success:
                return {"shown": "document", "uri": target.as_uri()}
        except OSError as exc:
            log.warning("cannot write the explanation: %s", exc)
    body = text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"
    ls.user.show_info(f"Devstral explains {name}:\n\n{body}")
    return {"shown": "message"}


# --------------------------------------------------------------------------- edit workspace


def _edit_workspace_instruction(ls: DevstralServer, data: dict[str, Any]) -> str | None:
    from ..actions.scope import find_todo

    instruction = data.get("instruction")
    if isinstance(instruction, str) and instruction.strip():
        return instruction.strip()
    uri, rng = data.get("uri"), _parse_range(data.get("range"))
    doc = ls.documents.get(uri) if isinstance(uri, str) else None
    if doc is not None and rng is not None:
        found = find_todo(DocLines(doc), rng.start.line, rng.end.line)
        if found and found[1]:
            return found[1]
    return None


async def run_edit_workspace(ls: DevstralServer, data: dict[str, Any]) -> dict[str, Any]:
    from ..edits.agent import AgentError, AgentLimits, context_note_for, run_edit_agent
    from ..edits.overlay import Overlay
    from ..edits.workspace_edit import build_workspace_edit, client_can_create_files
    from ..secrets_vault import SecretVault

    instruction = _edit_workspace_instruction(ls, data)
    if instruction is None:
        ls.user.show_warning(
            "Devstral: Edit across files needs an instruction. Run it from the editor plugin "
            "(it asks for one), or put a TODO comment describing the change on the selected "
            "line and run the action there.")
        return {"applied": False, "files": [], "summary": "No instruction given."}
    uri = data.get("uri") if isinstance(data.get("uri"), str) else None
    current = uri_to_path(uri) if uri else None
    roots = list(ls.roots)
    if not roots and current is not None:
        roots = [current.parent]
    if not roots:
        raise ActionFailed("Devstral: Edit across files needs a workspace folder.")
    open_docs: dict[Path, tuple[str, int]] = {}
    doc_uris: dict[Path, str] = {}
    for doc in ls.documents:
        p = uri_to_path(doc.uri)
        if p is not None:
            open_docs[p] = (doc.text, doc.version)
            doc_uris[p] = doc.uri
    caps = _edit_caps(ls)
    overlay = Overlay([(r.name, r) for r in roots], open_docs, is_allowed=path_policy(ls),
                      allow_create=client_can_create_files(caps))
    rng = _parse_range(data.get("range"))
    note = context_note_for(overlay, current, rng.start.line if rng else None,
                            rng.end.line if rng else None)
    settings = ls.settings
    limits = AgentLimits(max_turns=settings.edit_max_turns,
                         max_total_tokens=settings.edit_max_tokens,
                         wall_clock_s=settings.edit_timeout_ms / 1000)
    client = ls.model_client()
    async with Progress(ls, f"Devstral: {instruction[:60]}") as progress:
        try:
            result = await progress.run(run_edit_agent(
                client.client, model=ls.endpoint.model or "", instruction=instruction,
                overlay=overlay, limits=limits, on_step=progress.report, context_note=note,
                vault=SecretVault()))
        except AgentError as exc:
            raise ActionFailed(f"Devstral: {exc}") from exc
    summary = result.summary
    if result.stop_reason != "finished" and result.file_changes:
        # Half a refactor is worse than none: only a run the model finished is applied.
        why = {"turn_limit": f"the turn limit ({limits.max_turns})",
               "token_budget": f"the token budget ({limits.max_total_tokens})",
               "time_limit": f"the time limit ({limits.wall_clock_s:.0f} s)",
               "no_tool_calls": "a reply without tool calls"}.get(result.stop_reason,
                                                                   result.stop_reason)
        raise ActionFailed(f"Devstral stopped at {why} before finishing; nothing was applied. "
                           "Try a smaller instruction or raise the edit limits.")
    if not result.file_changes:
        ls.user.show_info(f"Devstral made no changes: {summary}")
        return {"applied": False, "files": [], "summary": summary}
    stale = overlay.stale({p: d.version for p, d in
                           ((uri_to_path(d.uri), d) for d in ls.documents) if p is not None})
    if stale:
        raise ActionFailed("Devstral: the edit was not applied because "
                           f"{', '.join(p.name for p in stale)} changed meanwhile.")
    built = build_workspace_edit(result.file_changes, caps, label=f"Devstral: {instruction}",
                                 description=summary,
                                 uri_for=lambda p: doc_uris.get(p) or p.as_uri())
    if built.message:
        ls.user.show_warning(f"Devstral: {built.message}")
    if built.edit is None:
        return {"applied": False, "files": [], "summary": summary}
    applied = await _apply(ls, built.edit, f"Devstral: {instruction}")
    return {"applied": applied, "files": built.files, "summary": summary}


# --------------------------------------------------------------------------- applying


async def _apply(ls: DevstralServer, edit: types.WorkspaceEdit, label: str) -> bool:
    try:
        resp = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=label))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise ActionFailed(f"Devstral: the editor could not apply the edit ({exc}).") from exc
    if not resp.applied:
        reason = f": {resp.failure_reason}" if resp.failure_reason else ""
        ls.user.show_warning(f"Devstral: the editor did not apply the edit{reason}.")
    return bool(resp.applied)


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
    applied = await _apply(ls, edit, f"Devstral: {action}")
    return {"applied": applied, "files": files, "summary": ""}


def _argument(args: tuple[Any, ...]) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(args[0], dict):
        raise ActionFailed("Devstral: the command expects one object argument.")
    return args[0]


def _link_request_cancel(ls: DevstralServer) -> None:
    """Make `$/cancelRequest` of a `workspace/executeCommand` cancel this handler task.

    pygls runs commands through its built-in generator handler: the request's future is a
    plain `Future` and the command's task has an internal id, so cancelling the request does
    not reach the task (the model call would go on and apply its edit later). The task still
    sees the request id in pygls' context variable; chain the two.
    """
    task = asyncio.current_task()
    msg_id = ls.protocol.msg_id
    futures = getattr(ls.protocol, "_request_futures", None)
    outer = futures.get(msg_id) if futures is not None and msg_id is not None else None
    if task is None or outer is None or outer is task:
        return
    loop = asyncio.get_running_loop()

    def on_done(f: Any) -> None:
        if f.cancelled() and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    outer.add_done_callback(on_done)


async def _guard(ls: DevstralServer, coro: Any) -> Any:
    """Every failure becomes one message and a result; nothing is applied."""
    _link_request_cancel(ls)
    try:
        return await coro
    except ActionFailed as exc:
        ls.user.show_error(str(exc))
    except Cancelled:
        ls.user.show_info("Devstral: cancelled; nothing was changed.")
    except asyncio.CancelledError:
        log.info("request cancelled; nothing was changed")
        raise
    except Exception:
        log.exception("code action failed")
        ls.user.show_error("Devstral: the action failed unexpectedly (see the log); nothing "
                           "was changed.")
    return {"applied": False, "files": [], "summary": "Nothing was changed."}


# --------------------------------------------------------------------------- registration


def register(server: DevstralServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=KINDS, resolve_provider=True))
    def code_action(ls: DevstralServer, params: types.CodeActionParams
                    ) -> list[types.CodeAction | types.Command]:
        from ..actions.scope import is_test_file
        from ..actions.testfile import matching_test_path

        uri = params.text_document.uri
        doc = ls.documents.get(uri)
        if doc is None:
            return []
        r = params.range
        path = uri_to_path(uri)
        can_tests = path is not None and matching_test_path(path, ls.roots) is not None
        offers = select_actions(
            DocLines(doc), (r.start.line, r.start.character), (r.end.line, r.end.character),
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
        return out

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: DevstralServer, action: types.CodeAction) -> types.CodeAction:
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

        await _guard(ls, work())
        return action

    def edit_command(action_id: ActionId) -> Any:
        async def handler(ls: DevstralServer, *args: Any) -> dict[str, Any]:
            async def work() -> dict[str, Any]:
                return await run_edit_command(ls, action_id, _argument(args))
            return await _guard(ls, work())
        return handler

    for action_id in (ActionId.FIX, ActionId.REWRITE, ActionId.DOCSTRING, ActionId.IMPLEMENT,
                      ActionId.TESTS):
        server.command(COMMAND[action_id])(edit_command(action_id))

    @server.command(COMMAND[ActionId.EXPLAIN])
    async def explain(ls: DevstralServer, *args: Any) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return await run_explain(ls, _argument(args))
        return await _guard(ls, work())

    @server.command(COMMAND[ActionId.EDIT_WORKSPACE])
    async def edit_workspace(ls: DevstralServer, *args: Any) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return await run_edit_workspace(ls, _argument(args))
        return await _guard(ls, work())


__all__ = ["ACTION_OF_COMMAND", "register"]
