"""When next-edit suggestions run: the `nextEdit` setting, with `auto` resolved per endpoint.

A suggestion rewrites a whole region (hundreds of output tokens), far more than a completion;
on a paid endpoint asking on every pause would cost real money, so `auto` means "on pause"
only for a model on this machine (a loopback address) and "only when invoked" otherwise.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlparse

Mode = Literal["onPause", "invoked", "off"]


def is_loopback(base_url: str | None) -> bool:
    if not base_url:
        return False
    host = (urlparse(base_url).hostname or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def effective_mode(setting: str, base_url: str | None) -> Mode:
    if setting == "onPause":
        return "onPause"
    if setting == "invoked":
        return "invoked"
    if setting == "off":
        return "off"
    return "onPause" if is_loopback(base_url) else "invoked"


def allowed(mode: Mode, *, invoked: bool) -> bool:
    """Whether a request may run: invoked ones unless off, automatic ones only on pause."""
    if mode == "off":
        return False
    return invoked or mode == "onPause"
