"""Every place devstral-lsp works around pygls (2.1), in one module, each with a unit test.

`tests/unit/test_pygls_fixes.py` has one test per workaround, written against the behaviour
the workaround exists for: after a pygls upgrade, a workaround whose test still passes without
it is obsolete and can go.

1. **Invalid params answered with their id** (`FixedProtocol.structure_message`): pygls raises
   without the request id when params do not fit their type, so the editor waits forever for
   the reply; we answer -32602 with the id (and log and drop a bad notification).
2. **The future leak** (`FixedProtocol._execute_handler`): pygls files the future of every
   async, threaded or generator handler under its message id, but only a request's reply
   removes it; notifications run under fresh uuids nobody removes (~1.2 KB per keystroke).
3. **Cancelling commands** (`link_request_cancel`): `$/cancelRequest` of a
   `workspace/executeCommand` does not reach the command's task (pygls runs commands through
   a generator handler whose future is a plain `Future`), so a cancelled model call would go
   on and apply its edit later.
4. **Document sync bypass** (`FixedProtocol.lsp_text_document__did_*`): pygls' own document
   store re-splits the whole text on every change (O(file) per keystroke) and keeps a second
   copy; document sync goes to our line-indexed `DocumentStore` only.
6. **Shutdown with work pending** (`FixedProtocol.lsp_shutdown`): pygls cancels pending futures
   while iterating the live `_request_futures`; cancelling a generator handler's plain
   `Future` (a running `workspace/executeCommand`) runs its callbacks at once, which can file
   a new future, and `shutdown` failed with "dictionary changed size during iteration".
5. **Command annotations are evaluated** (no code, a rule): pygls calls `get_type_hints` on a
   command handler to structure its arguments, so every name in a command handler's
   annotations must be importable at run time in its module (not only under TYPE_CHECKING).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, lsp_method

from .inbox import INBOX

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger("lsp_server")

ANSWERED = object()
"""Stands for a message already answered (or dropped) while it was being parsed."""


class FixedProtocol(LanguageServerProtocol):
    """pygls' language server protocol with workarounds 1, 2, 4 and 6."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Answer a request whose params do not fit its type with -32602 and its own id.

        pygls raises without the id, so the editor would wait forever for a reply (and the
        user would get an "Error in server" popup); a bad notification is logged and dropped.
        """
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            method = data.get("method") if isinstance(data, dict) else None
            if not isinstance(method, str):
                raise
            msg_id = data.get("id")
            if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool):
                log.warning("invalid params for %s (request %r): %s", method, msg_id, exc)
                self._send_response(msg_id, None, JsonRpcInvalidParams(
                    f"Invalid params for {method}").to_response_error())
            else:  # a notification, or an id no response could carry
                log.warning("invalid message for %s dropped: %s", method, exc)
            return ANSWERED

    def handle_message(self, message: Any) -> Any:
        try:
            if message is ANSWERED:
                return None
            return super().handle_message(message)
        finally:
            INBOX.note_handled()

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any,
                         args: Any = None, kwargs: Any = None) -> None:
        """pygls' execution, minus its leak: a finished handler's future leaves
        `_request_futures`.

        pygls 2.1 files the future of every async, threaded or generator handler under its
        message id, but only a request's reply removes it. Notifications (and the steps of
        generator handlers) run under fresh uuids nobody removes, so each `didChange` (our
        sync overrides are generators) kept a done Future, its Condition and the uuid:
        ~1.2 KB per notification, forever.
        """
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not on the event loop: leave pygls' bookkeeping alone
                return
            future.add_done_callback(functools.partial(self._forget_future, loop, msg_id))

    def _forget_future(self, loop: asyncio.AbstractEventLoop, msg_id: Any, future: Any) -> None:
        # Deferred to the loop: the callback can run while pygls iterates the dict (shutdown
        # cancels every pending future) or on a worker thread (threaded handlers).
        def drop() -> None:
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]

        try:
            loop.call_soon_threadsafe(drop)
        except RuntimeError:  # the loop is closed: the process is exiting anyway
            pass

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' shutdown, cancelling pending work over a *copy* of the futures (fix 6)."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    def _to_feature(self, method: str, params: Any) -> Generator[Any, Any, None]:
        """Document sync bypass (workaround 4): hand the notification to our feature only;
        pygls' handler, which keeps its own copy of the document, is skipped."""
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._to_feature(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._to_feature(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._to_feature(types.TEXT_DOCUMENT_DID_CLOSE, params)


def link_request_cancel(server: LanguageServer) -> None:
    """Make `$/cancelRequest` of a `workspace/executeCommand` cancel this handler task
    (workaround 3): call it first thing in a command handler.

    The task still sees the request id in pygls' context variable; chain the request's future
    to the task.
    """
    task = asyncio.current_task()
    msg_id = server.protocol.msg_id
    futures = getattr(server.protocol, "_request_futures", None)
    outer = futures.get(msg_id) if futures is not None and msg_id is not None else None
    if task is None or outer is None or outer is task:
        return
    loop = asyncio.get_running_loop()

    def on_done(f: Any) -> None:
        if f.cancelled() and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    outer.add_done_callback(on_done)
