"""A client (modelled on httpx._client)."""

from .headers import Headers
from .urls import URL


def merge_url(base: URL, path: str) -> URL:
    return base.copy_with(path=path)


def build(method: str, url: str) -> Headers:
    return Headers(method, url)
