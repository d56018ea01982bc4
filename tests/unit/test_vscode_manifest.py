"""The VS Code extension's package.json declares exactly the server's settings.

The extension forwards every setting its manifest declares (minus its own client-only ones), so
a server setting missing here would silently never reach the server from VS Code, and a stale
one would be refused by the server as unknown on every start.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from lsp_server.config import Settings
from lsp_server.model.providers import AUTO, PRESETS

VSCODE = Path(__file__).resolve().parents[2] / "editors" / "vscode"
MANIFEST = VSCODE / "package.json"
EXTENSION = VSCODE / "src" / "extension.ts"


def _client_only() -> frozenset[str]:
    """The extension's own settings, read from its one list (`CLIENT_ONLY_SETTINGS` in
    extension.ts): the extension forwards every other declared setting to the server."""
    found = re.search(r"const CLIENT_ONLY_SETTINGS = new Set\(\[([^\]]*)\]\)",
                      EXTENSION.read_text())
    assert found is not None, "CLIENT_ONLY_SETTINGS not found in extension.ts"
    return frozenset(re.findall(r"'([^']+)'", found.group(1)))


CLIENT_ONLY = _client_only()
# Settings that decide where requests (and the key) go, or what may be spent: a cloned
# repository's .vscode/settings.json must not set them, so VS Code takes them from the user only.
USER_ONLY = {"provider", "baseUrl", "apiKey", "completionProvider", "completionBaseUrl",
             "completionApiKey", "trustedEndpoints", "dailyBudgetUsd", "prices"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _declared() -> dict[str, dict[str, Any]]:
    props = json.loads(MANIFEST.read_text())["contributes"]["configuration"]["properties"]
    return {key.removeprefix("devstral."): value for key, value in props.items()}


def _server_fields() -> dict[str, attrs.Attribute[Any]]:
    return {_camel(field.name): field for field in attrs.fields(Settings)}


def test_every_server_setting_is_declared_and_nothing_else() -> None:
    declared = set(_declared()) - CLIENT_ONLY
    server = set(_server_fields())
    assert server - declared == set(), "server settings VS Code never sends"
    assert declared - server == set(), "declared settings the server does not know"


def test_client_only_settings_are_declared_and_not_the_servers() -> None:
    assert CLIENT_ONLY, "no client-only settings parsed from extension.ts"
    assert CLIENT_ONLY <= set(_declared()), "client-only settings package.json does not declare"
    assert not CLIENT_ONLY & set(_server_fields()), "server settings VS Code would never send"


def test_settings_that_move_the_key_or_spend_money_are_user_only() -> None:
    declared = _declared()
    secret = {name for name, field in _server_fields().items() if field.metadata["secret"]}
    assert secret <= USER_ONLY
    for name in USER_ONLY:
        assert declared[name].get("scope") == "application", name


def test_provider_choices_are_the_server_presets() -> None:
    assert _declared()["provider"]["enum"] == [AUTO, *PRESETS]
    assert _declared()["completionProvider"]["enum"] == ["", *PRESETS]


@pytest.mark.parametrize("name", sorted(set(_declared()) - CLIENT_ONLY))
def test_declared_default_is_the_servers(name: str) -> None:
    field = _server_fields()[name]
    default = field.default.factory() if isinstance(field.default, attrs.Factory) else field.default
    declared = _declared()[name].get("default")
    if default is None:  # VS Code shows "unset" as an empty value of the setting's type
        assert declared in (None, ""), name
    else:
        assert declared == default, name
