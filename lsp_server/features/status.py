"""`devstral/status`: what the server is doing, for status lines (shaped like Copilot's
`didChangeStatus` plus `state`).

`StatusTracker` is the pure state machine; it sends a notification only when what it would
send changes. Precedence, highest first: `inactive` (the current file is ignored or secret),
`paused` for the daily budget, `error` (a failed call; `paused` while automatic requests back
off after it), `busy` (a call in flight), `ready`. An answered call ends an error at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, TypedDict

log = logging.getLogger(__name__)

STATUS_METHOD = "devstral/status"
MAX_MESSAGE = 160


class StatusParams(TypedDict):
    """The `devstral/status` notification's params (the shared contract)."""

    kind: Literal["Normal", "Warning", "Error", "Inactive"]
    state: Literal["ready", "busy", "error", "paused", "inactive"]
    message: str
    busy: bool


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


class StatusTracker:
    def __init__(self, send: Callable[[StatusParams], None], *, held: bool = False) -> None:
        """`held`: send nothing before `announce()`. The server holds its status until its
        start-up is over: clients show "ready" on the first one, and it must mean ready."""
        self._send = send
        self._held = held
        self.in_flight = 0
        self.error = ""
        self.backing_off = ""
        self.budget = ""
        self.inactive = ""
        self.last: StatusParams | None = None

    # ----- events ----------------------------------------------------------------------------
    def call_started(self) -> None:
        self.in_flight += 1
        self.inactive = ""  # a call for some file: the editor moved on from the ignored one
        self._emit()

    def call_finished(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self._emit()

    def answered(self) -> None:
        self.error = self.backing_off = ""
        self._emit()

    def failed(self, message: str) -> None:
        self.error = _short(message)
        self.backing_off = ""
        self._emit()

    def backoff(self, seconds: float) -> None:
        """An automatic request was skipped because the endpoint failed recently."""
        if self.error:
            self.backing_off = f"paused {seconds:.0f}s after: {self.error}"
            self._emit()

    def set_budget(self, message: str | None) -> None:
        self.budget = _short(message or "")
        self._emit()

    def set_inactive(self, reason: str | None) -> None:
        self.inactive = _short(reason or "")
        self._emit()

    # ----- what is shown ------------------------------------------------------------------------
    def current(self) -> StatusParams:
        busy = self.in_flight > 0
        kind: Literal["Normal", "Warning", "Error", "Inactive"]
        state: Literal["ready", "busy", "error", "paused", "inactive"]
        if self.inactive:
            kind, state, message = "Inactive", "inactive", self.inactive
        elif self.budget:
            kind, state, message = "Warning", "paused", self.budget
        elif self.error and self.backing_off and not busy:
            kind, state, message = "Warning", "paused", self.backing_off
        elif self.error and not busy:
            kind, state, message = "Error", "error", self.error
        elif busy:
            kind, state, message = "Normal", "busy", ""
        else:
            kind, state, message = "Normal", "ready", ""
        return {"kind": kind, "state": state, "message": message, "busy": busy}

    def _emit(self) -> None:
        if self._held:
            return
        now = self.current()
        if now == self.last:
            return
        self.last = now
        try:
            self._send(now)
        except Exception:  # no client (CLI) or a closed transport
            log.debug("could not send %s", STATUS_METHOD, exc_info=True)

    def announce(self) -> None:
        """Send the first status (at the end of `initialized`: what changed while held shows
        in it); later calls send only changes."""
        self._held = False
        self._emit()
