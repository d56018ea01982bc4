"""The server's lifecycle: initialize, initialized, shutdown, and where settings come from
(initializationOptions, `workspace/configuration`, didChangeConfiguration)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types

from ..server import DevstralServer
from ..uris import uri_to_path

log = logging.getLogger(__name__)


def _client_has_inline(caps: types.ClientCapabilities) -> bool:
    td = caps.text_document
    return td is not None and td.inline_completion is not None


def _roots(params: types.InitializeParams) -> list[Path]:
    roots: list[Path] = []
    for folder in params.workspace_folders or []:
        if (path := uri_to_path(folder.uri)) is not None:
            roots.append(path)
    if not roots and params.root_uri and (path := uri_to_path(params.root_uri)) is not None:
        roots.append(path)
    if not roots and params.root_path:
        roots.append(Path(params.root_path))
    return roots


def register(server: DevstralServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: DevstralServer, params: types.InitializeParams) -> None:
        from ..logging_setup import attach_client

        attach_client(ls)
        opts = params.initialization_options
        if opts == []:
            opts = None  # Lua clients encode an empty table as an empty array
        ls.init_options = opts if isinstance(opts, dict) else None
        if opts is not None and not isinstance(opts, dict):
            ls.note_problem("initializationOptions must be an object; ignored")
        ls.roots = _roots(params)
        from .process import watch_parent

        ls.parent_watch = watch_parent(ls, params.process_id)
        ls.load_project_config()
        ls.client_has_inline = _client_has_inline(params.capabilities)
        ls.apply_settings(announce=False)
        from ..completion.offer import client_asks_for_items, completion_items_wanted

        ls.offer_completion_items = completion_items_wanted(
            ls.settings.completion_items, client_has_inline=ls.client_has_inline,
            client_asks=client_asks_for_items(params.capabilities.experimental))
        client = params.client_info.name if params.client_info else "unknown client"
        log.info("initialize from %s; roots=%s; inline completion: %s; completion items: %s",
                 client, [str(r) for r in ls.roots], ls.client_has_inline,
                 ls.offer_completion_items)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: DevstralServer, params: types.InitializedParams) -> None:
        ls.start_warm_up()
        try:
            if not await pull_configuration(ls):
                ls.apply_settings()
            ls.start_discovery()  # in the background: never delays an answer with a model
        finally:
            ls.config_ready.set()
        ls.budget_refusal()
        ls.context.start(ls.roots)
        try:
            await _watch_files(ls)
        finally:
            # The first status comes last: clients show "ready" on it, and a key typed while
            # VS Code was still registering the file watcher got no inline completion (see
            # bench/RESULTS.md, "Real-editor tests under a CPU burner").
            ls.status.announce()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: DevstralServer, params: None) -> None:
        ls.context.stop()
        ls.usage.flush()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: DevstralServer, params: types.DidChangeConfigurationParams
    ) -> None:
        pulled = await pull_configuration(ls)
        if not pulled and isinstance(params.settings, dict):
            # Clients without workspace/configuration push the settings instead.
            section = params.settings.get("devstral", params.settings)
            ls.client_config = section if isinstance(section, dict) else None
            ls.apply_settings()


async def _watch_files(ls: DevstralServer) -> None:
    """Ask the client to report file changes on disk, so the symbol index stays current."""
    ws = ls.client_capabilities.workspace
    watched = ws.did_change_watched_files if ws else None
    if watched is None or not watched.dynamic_registration:
        return
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[
            types.Registration(
                id="devstral-watch",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[
                    types.FileSystemWatcher(glob_pattern="**/*"),
                ]),
            )
        ]))
    except Exception as exc:
        log.info("file watching not available: %s", exc)


async def pull_configuration(ls: DevstralServer) -> bool:
    """Ask the client for section `devstral`; False when it cannot answer."""
    caps = ls.client_capabilities.workspace
    if caps is None or not caps.configuration:
        return False
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="devstral")])
        )
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return False
    value: Any = result[0] if result else None
    ls.client_config = value if isinstance(value, dict) else None
    if value is not None and not isinstance(value, dict):
        log.warning("workspace/configuration section devstral is not an object; ignored")
    ls.apply_settings()
    return True
