"""Progress bars (modelled on rich.progress)."""

from .live import Live


class Progress:
    def __init__(self, console=None):
        self.console = console
        self._live = Live(console=console, refresh_per_second=10)

    def start(self) -> None:
        self._live.start(refresh=True)

    def stop(self) -> None:
        self._started = False
