"""A progress bar (a decoy: another class with a start method, nearer the call site)."""


class Bar:
    def __init__(self, status):
        self.status = status

    def start(self) -> None:
        """Start the status animation."""
        self.status = "running"
