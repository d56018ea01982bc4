"""Builds a server with every feature registered: one place, shared by the CLI and tests."""

from __future__ import annotations

from .footprint import drop_generated_sources
from .server import DevstralServer


def create_server() -> DevstralServer:
    from .features import (
        actions,
        completion,
        edit_workspace,
        folders,
        lifecycle,
        next_edit,
        process,
        stats,
        sync,
        usage,
    )

    server = DevstralServer()
    for feature in (lifecycle, process, folders, sync, completion, stats, actions,
                    edit_workspace, next_edit, usage):
        feature.register(server)
    drop_generated_sources()  # lsprotocol's classes are all defined by now
    return server
