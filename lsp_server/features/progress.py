"""Server-created `$/progress` for model calls, and the cancellations that stop them.

A model call started by a code action or a command reports `$/progress` (cancellable) when the
client supports server-created progress. Three ways stop it, and each closes the HTTP
connection by cancelling the task that awaits the model: the progress UI's cancel
(`window/workDoneProgress/cancel`, raising `Cancelled`), `$/cancelRequest` of the request (pygls
cancels the handler task) and `$/cancelRequest` of a `workspace/executeCommand`, which pygls does
not forward to the command's task (`pygls_fixes.link_request_cancel` chains them).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types

if TYPE_CHECKING:
    from ..server import DevstralServer

log = logging.getLogger(__name__)

T = TypeVar("T")


class Cancelled(Exception):
    """The user cancelled through the progress UI."""


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
        win = self.ls.client_capabilities.window
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

    async def run(self, coro: Awaitable[T]) -> T:
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
