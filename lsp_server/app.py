"""Builds a server with every feature registered: one place, shared by the CLI and tests."""

from __future__ import annotations

from .server import DevstralServer


def create_server() -> DevstralServer:
    from .features import actions, completion, settings, stats, sync

    server = DevstralServer()
    for feature in (settings, sync, completion, stats, actions):
        feature.register(server)
    return server
