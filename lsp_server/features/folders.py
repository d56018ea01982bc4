"""`workspace/didChangeWorkspaceFolders`: the set of workspace roots follows the editor.

An added folder is indexed and its `.devstralignore` and `.devstral.json` apply; a removed
folder leaves the symbol index, the privacy rules' roots, the edit agent's reach (it is built
from `ls.roots` on every run) and the project settings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lsprotocol import types

from ..server import DevstralServer
from ..uris import uri_to_path

log = logging.getLogger(__name__)


def changed_roots(roots: list[Path], event: types.WorkspaceFoldersChangeEvent) -> list[Path]:
    """`roots` minus the removed folders plus the added ones, order kept, no duplicates."""
    removed = {p for f in event.removed if (p := uri_to_path(f.uri)) is not None}
    out = [r for r in roots if r not in removed]
    for folder in event.added:
        path = uri_to_path(folder.uri)
        if path is not None and path not in out:
            out.append(path)
    return out


def register(server: DevstralServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(
        ls: DevstralServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        roots = changed_roots(list(ls.roots), params.event)
        if roots == ls.roots:
            return
        log.info("workspace folders: %s", [str(r) for r in roots])
        ls.roots = roots
        ls.load_project_config()
        ls.apply_settings()
        ls.context.start(roots)  # new roots for the privacy rules, then a fresh index
