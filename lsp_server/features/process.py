"""The process per the LSP spec: follow the editor's process, exit codes.

* `initialize.processId`: when that process dies (the editor crashed or was killed without
  closing our pipe, e.g. a server left behind by a detached client), the server exits instead
  of running and burning CPU forever. Linux's pidfd makes this an event (no polling); elsewhere
  the pid is polled every few seconds.
* `exit` after `shutdown` exits with 0, `exit` without `shutdown` with 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from lsprotocol import types

from ..server import DevstralServer

log = logging.getLogger(__name__)

POLL_S = 3.0
"""Fallback poll interval where pidfd is unavailable (not a test wait: a production timer)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def _die(ls: DevstralServer, pid: int) -> None:
    log.warning("the editor's process %d is gone; exiting", pid)
    try:
        ls.context.stop()
    except Exception:  # exiting anyway
        log.debug("context stop failed", exc_info=True)
    logging.shutdown()
    os._exit(1)


ParentWatch = int | asyncio.TimerHandle | None
"""How the editor's process is watched: its pidfd (read by the event loop), the timer of the
next poll where there is no pidfd, or None when it is not watched."""


def watch_parent(ls: DevstralServer, pid: int | None) -> ParentWatch:
    """Exit when `pid` dies; returns the watcher handle (None when not watching)."""
    if not pid or pid == os.getpid() or pid < 0:
        return None
    if not _alive(pid):
        # Another PID namespace (a container) or a wrapper that already exited: the pid tells
        # us nothing; rely on the pipe closing instead.
        log.info("initialize.processId %d is not visible here; not watching it", pid)
        return None
    loop = asyncio.get_event_loop()
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            fd: int | None = pidfd_open(pid)
        except OSError:
            fd = None
        if fd is not None:
            def on_exit() -> None:
                loop.remove_reader(fd)
                _die(ls, pid)

            loop.add_reader(fd, on_exit)
            return fd

    def poll() -> None:
        if not _alive(pid):
            _die(ls, pid)
        else:
            ls.parent_watch = loop.call_later(POLL_S, poll)

    return loop.call_later(POLL_S, poll)


def register(server: DevstralServer) -> None:
    @server.feature(types.EXIT)
    def on_exit(ls: DevstralServer, params: Any) -> None:
        # pygls decides the code too, but its `sys.exit` runs in a callback the event loop
        # swallows over stdio; `cli.cmd_serve` returns this one.
        ls.exit_code = 0 if getattr(ls.protocol, "_shutdown", False) else 1
        if ls.exit_code:
            log.warning("exit without shutdown: exiting with code 1")
