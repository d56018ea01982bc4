"""Live display (modelled on rich.live)."""


class Live:
    def __init__(self, console=None, refresh_per_second=4):
        self.console = console
        self.refresh_per_second = refresh_per_second
        self._started = False

    def start(self, refresh: bool = False) -> None:
        """Start live rendering display."""
        self._started = True
        if refresh:
            self.refresh()

    def refresh(self) -> None:
        pass
