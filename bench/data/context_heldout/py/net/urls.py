"""URLs (modelled on httpx._urls)."""


class URL:
    def __init__(self, url: str = "") -> None:
        self._url = url

    def copy_with(self, **kwargs: str) -> "URL":
        """A copy of this URL with some components replaced."""
        return URL(self._url)
