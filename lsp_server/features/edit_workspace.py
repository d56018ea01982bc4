"""`devstral.editWorkspace`: the edit agent over the workspace, applied as one WorkspaceEdit.

Takes `{"instruction", "uri"?, "range"?}`. Without an instruction it uses the text of a
`TODO`/`FIXME` comment in the range (or on the cursor line), which is what the "Edit across
files…" code action passes for clients that cannot prompt; with neither it shows a message
saying how to give one and changes nothing. The agent (`edits/agent.py`) works on an overlay of
the open buffers and the disk; only a run the model finished is applied, and only if none of the
files it edited changed meanwhile (buffer or disk, `edits.workspace_edit.revalidate`). Without a
workspace folder the agent reaches only the open documents.
"""

from __future__ import annotations

from typing import Any

from ..actions.catalog import COMMAND, ActionId
from ..actions.propose import ActionFailed, unfinished_run_message

# A runtime import: pygls resolves a command handler's annotations to structure its arguments.
from ..server import DevstralServer
from ..uris import uri_to_path
from .commands import (
    apply_edit,
    argument,
    edit_caps,
    guard,
    open_documents,
    parse_range,
    path_policy,
)
from .progress import Progress


def _instruction(ls: DevstralServer, data: dict[str, Any]) -> str | None:
    from ..actions.scope import DocumentLines, find_todo

    instruction = data.get("instruction")
    if isinstance(instruction, str) and instruction.strip():
        return instruction.strip()
    uri, rng = data.get("uri"), parse_range(data.get("range"))
    doc = ls.documents.get(uri) if isinstance(uri, str) else None
    if doc is not None and rng is not None:
        found = find_todo(DocumentLines(doc), rng.start.line, rng.end.line)
        if found and found[1]:
            return found[1]
    return None


async def run_edit_workspace(ls: DevstralServer, data: dict[str, Any]) -> dict[str, Any]:
    from ..edits.agent import AgentError, AgentLimits, context_note_for, run_edit_agent
    from ..edits.overlay import Overlay
    from ..edits.workspace_edit import (
        build_workspace_edit,
        client_can_create_files,
        revalidate,
        stale_message,
    )
    from ..privacy.vault import SecretVault

    instruction = _instruction(ls, data)
    if instruction is None:
        ls.user.show_warning(
            "Devstral: Edit across files needs an instruction. Run it from the editor plugin "
            "(it asks for one), or put a TODO comment describing the change on the selected "
            "line and run the action there.")
        return {"applied": False, "files": [], "summary": "No instruction given."}
    uri = data.get("uri") if isinstance(data.get("uri"), str) else None
    current = uri_to_path(uri) if uri else None
    open_docs = open_documents(ls)
    doc_uris = {p: d.uri for d in ls.documents if (p := uri_to_path(d.uri)) is not None}
    roots = list(ls.roots)
    # No workspace folder means no workspace: the folders of the open documents only give
    # them names, and the agent may see and edit exactly those documents (never, say, the
    # home folder around a file opened on its own).
    documents_only = not roots
    if documents_only:
        roots = sorted({p.parent for p in open_docs})
    if not roots:
        raise ActionFailed("Devstral: Edit across files needs a workspace folder or an open "
                           "file.")
    caps = edit_caps(ls)
    overlay = Overlay([(r.name, r) for r in roots], open_docs, is_allowed=path_policy(ls),
                      allow_create=client_can_create_files(caps), documents_only=documents_only)
    rng = parse_range(data.get("range"))
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
                client, model=ls.endpoint.model or "", instruction=instruction,
                overlay=overlay, limits=limits, on_step=progress.report, context_note=note,
                vault=SecretVault()))
        except AgentError as exc:
            raise ActionFailed(f"Devstral: {exc}") from exc
    summary = result.summary
    if result.stop_reason != "finished" and result.file_changes:
        # Half a refactor is worse than none: only a run the model finished is applied.
        raise ActionFailed(unfinished_run_message(
            result.stop_reason, max_turns=limits.max_turns,
            max_total_tokens=limits.max_total_tokens, wall_clock_s=limits.wall_clock_s))
    if not result.file_changes:
        ls.user.show_info(f"Devstral made no changes: {summary}")
        return {"applied": False, "files": [], "summary": summary}
    # Every file as the agent read it, against the buffer or disk now: the edits were computed
    # for that text, so a file changed meanwhile (even one that was not open) refuses it all.
    changes, stale = revalidate(result.file_changes.values(), open_documents(ls))
    if stale:
        raise ActionFailed(stale_message(stale))
    doc_uris.update({p: d.uri for d in ls.documents if (p := uri_to_path(d.uri)) is not None})
    built = build_workspace_edit(changes, caps, label=f"Devstral: {instruction}",
                                 description=summary,
                                 uri_for=lambda p: doc_uris.get(p) or p.as_uri())
    if built.message:
        ls.user.show_warning(f"Devstral: {built.message}")
    if built.edit is None:
        return {"applied": False, "files": [], "summary": summary}
    applied = await apply_edit(ls, built.edit, f"Devstral: {instruction}")
    return {"applied": applied, "files": built.files, "summary": summary}


def register(server: DevstralServer) -> None:
    @server.command(COMMAND[ActionId.EDIT_WORKSPACE])
    async def edit_workspace(ls: DevstralServer, *args: Any) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return await run_edit_workspace(ls, argument(args))
        return await guard(ls, work())
