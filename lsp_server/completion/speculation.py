"""When to start a model call before the typing pause is certain.

The debounce waits a little longer than the user's own keystroke gap, so a call normally
starts ~100 ms after the last key and the suggestion shows a model time later. A call started
earlier, while the user is still typing, is worth it when the user then types along what it
predicts: the requests of the next keystrokes join it (in-flight reuse), nothing new is sent,
and the suggestion is there as soon as the model answers. When the user types something
else, the call is cancelled at the next keystroke and the ordinary debounced call follows:
one extra call, whose input tokens a paid endpoint bills.

So the cost model is the endpoint's:
- a local runtime (Ollama, llama.cpp, vLLM, LM Studio on this machine or the local network)
  bills nothing and keeps the shared prompt prefix in its KV cache, so a cancelled call costs
  a little GPU time: start early;
- a paid API bills every started call's input (thousands of tokens here): keep the debounce.
  That includes a paid provider reached through a proxy or tunnel on this machine: the cost
  follows the provider's price (`usage/prices.py`), not only the address.

And the moment is where the user is in a token: right after a word boundary (a space,
an operator, a bracket) on a line that already holds code, the next characters are the
model's to predict and users type along suggestions from there; in the middle of an
identifier the user is still spelling a name the model cannot know yet, and after only
indentation the line is still open.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlparse

from ..usage.prices import price_for

ENV_OVERRIDE = "DEVSTRAL_SPECULATE"
"""`never` or `always` overrides the endpoint's cost model (`auto`, the default): `always`
for a paid endpoint whose prompt cache makes a cancelled call cheap, `never` to measure."""

SPECULATIVE_DELAY_S = 0.02
"""Wait before a speculative call: coalesces the two edits some editors send for one key."""

_LOCAL_NAMES = frozenset({"localhost", "host.docker.internal"})


def is_local_endpoint(base_url: str | None) -> bool:
    """Whether `base_url` points at this machine or the local network (a free endpoint)."""
    if not base_url:
        return False
    host = (urlparse(base_url).hostname or "").lower()
    if host in _LOCAL_NAMES or host.endswith((".localhost", ".local")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def is_free_endpoint(base_url: str | None, provider: str = "", model: str = "") -> bool:
    """A local endpoint whose provider bills nothing (a Mistral preset pointed at a local
    proxy is still billed by Mistral)."""
    if not is_local_endpoint(base_url):
        return False
    price, known = price_for(provider, model)
    return not known or (price.input == 0 and price.cached_input == 0)


def at_word_boundary(line_before: str) -> bool:
    """The cursor follows a space or punctuation on a line that already holds code."""
    if not line_before.strip():
        return False
    last = line_before[-1]
    return not (last.isalnum() or last == "_")


def speculate(base_url: str | None, line_before: str, provider: str = "",
              model: str = "") -> bool:
    """Start the call after `SPECULATIVE_DELAY_S` instead of the debounce."""
    mode = os.environ.get(ENV_OVERRIDE, "auto")
    if mode == "never" or not at_word_boundary(line_before):
        return False
    return mode == "always" or is_free_endpoint(base_url, provider, model)
