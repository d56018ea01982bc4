"""Logging: the `lsp_server` logger tree goes to `window/logMessage`, stderr and `--log-file`.

Stdout is the protocol channel, so nothing here ever writes to it. "Nothing happens and there
are no logs" is the first complaint users have about tools like this one; every decision the
server makes is logged at info or debug, and the editor shows it in its LSP log.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .privacy.masking import add_secret, mask

ROOT = "lsp_server"
_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO,
           "debug": logging.DEBUG}
_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
_CLIENT_FORMAT = "%(levelname)s [%(request_id)s] %(name)s: %(message)s"

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("devstral_request_id",
                                                                 default="-")
"""The request a log line belongs to. Tasks copy the context they are created in, so the model
call, its stream and its cleanup log under the id of the request that started them."""
_request_numbers = itertools.count(1)


@contextmanager
def request_scope(kind: str) -> Iterator[str]:
    """Give every log line inside (and in tasks started inside) a short id: `c12` for the 12th
    completion request, `a3` for an action, `n4` for a next-edit request; `kind` is the
    prefix."""
    request_id = f"{kind}{next(_request_numbers)}"
    token = REQUEST_ID.set(request_id)
    try:
        yield request_id
    finally:
        REQUEST_ID.reset(token)


class RequestId(logging.Filter):
    """Stamps `record.request_id` (`-` outside any request) for the formatters above."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class MaskSecrets(logging.Filter):
    """`privacy.masking.mask` on every record: known keys and anything shaped like `apiKey: …`,
    including pygls' own debug logging of `initialize` params (which carry
    initializationOptions)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        return True


class LspLogHandler(logging.Handler):
    """Forward records to the client as `window/logMessage` once it is connected."""

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server
        self._busy = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._busy:
            return  # a record logged while sending one: never recurse
        from lsprotocol import types

        level = (types.MessageType.Error if record.levelno >= logging.ERROR
                 else types.MessageType.Warning if record.levelno >= logging.WARNING
                 else types.MessageType.Info if record.levelno >= logging.INFO
                 else types.MessageType.Log)
        self._busy = True
        try:
            protocol = getattr(self.server, "protocol", None)
            if protocol is None or getattr(protocol, "writer", None) is None:
                return
            self.server.window_log_message(
                types.LogMessageParams(type=level, message=self.format(record))
            )
        except Exception:  # logging must never take the server down
            pass
        finally:
            self._busy = False


def configure(*, verbose: int = 0, log_file: str | None = None, level: str | None = None,
              to_stderr: bool = True, pinned: bool = False) -> None:
    """Set up handlers for the `lsp_server` tree; `-v` = debug; DEVSTRAL_LOG_LEVEL as well.

    `pinned` keeps the level against the `logLevel` setting (the CLI's quiet default).
    """
    logger = logging.getLogger(ROOT)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    formatter = logging.Formatter(_FORMAT)
    from .model.providers import KEY_ENV_VARS

    for var in (*KEY_ENV_VARS, "DEVSTRAL_COMPLETION_API_KEY"):
        add_secret(os.environ.get(var))
    if to_stderr:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(formatter)
        stderr.addFilter(MaskSecrets())
        stderr.addFilter(RequestId())
        logger.addHandler(stderr)
        # pygls' own warnings in the same format (else Python prints them bare, level-less).
        pygls_stderr = logging.getLogger("pygls")
        for handler in list(pygls_stderr.handlers):
            if getattr(handler, "devstral_stderr", False):
                pygls_stderr.removeHandler(handler)
        # a marker on our own handler, so a second configure() replaces it
        stderr.devstral_stderr = True  # type: ignore[attr-defined]
        pygls_stderr.addHandler(stderr)
        if pygls_stderr.level == logging.NOTSET:
            pygls_stderr.setLevel(logging.WARNING)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(formatter)
        file_handler.addFilter(MaskSecrets())
        file_handler.addFilter(RequestId())
        logger.addHandler(file_handler)
        pygls_logger = logging.getLogger("pygls")
        pygls_logger.addHandler(file_handler)
        pygls_logger.setLevel(logging.WARNING if verbose == 0 else logging.DEBUG)
    chosen = logging.DEBUG if verbose else _LEVELS.get((level or "info").lower(), logging.INFO)
    logger.setLevel(chosen)
    _state["verbose"] = verbose
    _state["pinned"] = pinned


_state: dict[str, Any] = {"verbose": 0, "pinned": False}


def attach_client(server: Any) -> None:
    handler = LspLogHandler(server)
    handler.addFilter(MaskSecrets())
    handler.addFilter(RequestId())
    handler.setFormatter(logging.Formatter(_CLIENT_FORMAT))
    logging.getLogger(ROOT).addHandler(handler)


def set_level(level: str) -> None:
    """Apply the `logLevel` setting, unless `-v` asked for debug on the command line."""
    if _state["verbose"] or _state["pinned"]:
        return
    logging.getLogger(ROOT).setLevel(_LEVELS.get(level, logging.INFO))
