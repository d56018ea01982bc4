"""`devstral.editWorkspace`: the edit agent over the workspace, applied as one WorkspaceEdit.

Takes `{"instruction", "uri"?, "range"?}`. Without an instruction it uses the text of a
`TODO`/`FIXME` comment in the range (or on the cursor line), which is what the "Edit across
files…" code action passes for clients that cannot prompt; with neither it shows a message
saying how to give one and changes nothing. The agent (`edits/agent.py`) works on an overlay of
the open buffers and the disk; only a run the model finished is applied, and only if none of the
files it read changed meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..actions.catalog import COMMAND, ActionId
from ..actions.propose import ActionFailed, unfinished_run_message

# A runtime import: pygls resolves a command handler's annotations to structure its arguments.
from ..server import DevstralServer
from ..uris import uri_to_path
from .commands import apply_edit, argument, edit_caps, guard, parse_range, path_policy
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
    from ..edits.workspace_edit import build_workspace_edit, client_can_create_files
    from ..secrets_vault import SecretVault

    instruction = _instruction(ls, data)
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
    caps = edit_caps(ls)
    overlay = Overlay([(r.name, r) for r in roots], open_docs, is_allowed=path_policy(ls),
                      allow_create=client_can_create_files(caps))
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
    applied = await apply_edit(ls, built.edit, f"Devstral: {instruction}")
    return {"applied": applied, "files": built.files, "summary": summary}


def register(server: DevstralServer) -> None:
    @server.command(COMMAND[ActionId.EDIT_WORKSPACE])
    async def edit_workspace(ls: DevstralServer, *args: Any) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return await run_edit_workspace(ls, argument(args))
        return await guard(ls, work())
