"""Whether completion-menu items are offered to a client: the one decision and its inputs.

Two places need it at `initialize`: the early reply of `bootstrap.py`, which answers from plain
JSON before pygls and lsprotocol are imported (so this module imports nothing heavy), and the
server's own `initialize` handler (`features/lifecycle.py`), which then also answers
`textDocument/completion` by it. Keeping one copy keeps the advertised `completionProvider`
and the answers in agreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import CompletionItemsMode

ASKS_FOR_ITEMS = "completionItems"
"""`capabilities.experimental.devstral.completionItems = true`: a client that shows inline
completions itself (the Neovim plugin's ghost text) and still wants completion-menu items."""

TRIGGER_CHARACTERS = [".", "(", "[", "{", ",", ":", "=", " "]
"""Characters after which clients ask for completion items on their own."""


def completion_items_wanted(
    mode: CompletionItemsMode, *, client_has_inline: bool, client_asks: bool
) -> bool:
    """The one decision whether completion items are offered (advertised and answered).

    auto: to clients without inline completion (VS Code would show everything twice), and to
    clients that say they want both.
    """
    if mode == "never":
        return False
    return mode == "always" or not client_has_inline or client_asks


def client_asks_for_items(experimental: object) -> bool:
    """Whether the client's `capabilities.experimental` (raw JSON, as lsprotocol keeps it too)
    sets `devstral.completionItems` to true."""
    ours = experimental.get("devstral") if isinstance(experimental, Mapping) else None
    return isinstance(ours, Mapping) and ours.get(ASKS_FOR_ITEMS) is True
