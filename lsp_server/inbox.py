"""Messages the editor has sent that the server has not handled yet.

pygls reads stdin on a worker thread, one hop per header line and one for the body, each
handed back to the event loop. On a loaded machine those hops take tens of milliseconds, so
an edit the editor sent before a completion's debounce ran out may not have reached the
document yet when the debounce wakes up: the completion then sees no newer edit, calls the
model for a text the user already typed past, and the pause gets a second call
(`bench/bench_latency.py`, Neovim-style trace, issue 16). The reader notes each message it
starts (its `Content-Length` header) and the protocol each one it handled, so the pipeline
can wait for the few messages in transit before it decides that the user paused.
"""

from __future__ import annotations

import time

TRANSIT_WAIT_S = 0.05
"""At most this long for messages in transit (one that never reaches the handler, e.g. an
unparsable one, is then forgotten rather than waited for again)."""


class Inbox:
    """Counts of messages started by the reader thread and handled on the event loop."""

    def __init__(self) -> None:
        self.started = 0
        self.handled = 0

    def note_started(self) -> None:
        """The reader read a message's header (called on the reader thread)."""
        self.started += 1

    def note_handled(self) -> None:
        """A message went through the protocol's handler (called on the event loop)."""
        self.handled += 1

    def in_transit(self) -> int:
        return max(0, self.started - self.handled)

    async def drained(self, timeout_s: float = TRANSIT_WAIT_S) -> bool:
        """Wait until the messages started by now are handled; False when it gave up."""
        import asyncio  # not at import time: the bootstrap's start path stays without it

        target = self.started
        if self.handled >= target:
            return True
        deadline = time.monotonic() + timeout_s
        while self.handled < target:
            if time.monotonic() >= deadline:
                self.handled = max(self.handled, target)
                return False
            await asyncio.sleep(0.002)
        await asyncio.sleep(0)  # let a handler's scheduled steps run
        return True


INBOX = Inbox()
"""The process's stdio inbox (`bootstrap.Replayed` starts, `pygls_fixes` handles)."""
