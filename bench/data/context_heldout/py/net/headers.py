"""Headers (a decoy: another copy_with, nearer by name)."""


class Headers:
    def __init__(self, method: str, url: str) -> None:
        self.method = method
        self.url = url

    def copy_with(self, method: str) -> "Headers":
        return Headers(method, self.url)
