"""Backend health: backoff for automatic requests and one message per outage.

Users hate a popup per keystroke while their endpoint is down, and hate even more a tool that
silently stops. So: the first failure of an outage is shown once, automatic requests back off
(honouring `Retry-After`), requests the user invoked still try the backend, and the first
success ends the outage with a log line instead of another popup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BACKOFF_S = 30.0
BASE_BACKOFF_S = 1.0


@dataclass
class BackendHealth:
    """Tracks consecutive failures and the time before which automatic requests wait."""

    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    backoff_until: float = 0.0
    backoff_s: float = 0.0
    """Length of the current backoff as decided at the last failure (0 when healthy)."""
    in_outage: bool = False
    notified: bool = False
    last_error: str = ""
    outages: int = field(default=0)

    def allow_automatic(self) -> bool:
        return self.clock() >= self.backoff_until

    def backoff_remaining(self) -> float:
        return max(0.0, self.backoff_until - self.clock())

    def record_failure(self, message: str, retry_after: float | None = None) -> bool:
        """Note a failure; return True when the user should be told (first of an outage)."""
        self.failures += 1
        delay = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** (self.failures - 1))
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), 300.0)
        self.backoff_s = delay
        self.backoff_until = self.clock() + delay
        self.last_error = message
        if not self.in_outage:
            self.in_outage = True
            self.outages += 1
        if self.notified:
            return False
        self.notified = True
        return True

    def record_success(self) -> bool:
        """Note a success; return True when this ended an outage (worth a log line)."""
        ended = self.in_outage
        self.failures = 0
        self.backoff_until = 0.0
        self.backoff_s = 0.0
        self.in_outage = False
        self.notified = False
        return ended
