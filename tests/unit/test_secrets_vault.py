"""The vault hides secrets from the model and restores them in what the model writes back."""

from __future__ import annotations

from lsp_server.privacy.vault import SecretVault
from tests.helpers.secrets import SECRET_CORPUS, SECRETS


def test_hide_removes_every_seeded_secret_and_reveal_restores_the_text() -> None:
    vault = SecretVault()
    hidden = vault.hide(SECRET_CORPUS)
    for value in SECRETS.values():
        assert value not in hidden
    assert len(vault) > 0
    assert vault.reveal(hidden) == SECRET_CORPUS


def test_same_secret_same_placeholder_and_model_edits_keep_it() -> None:
    key = SECRETS["openai"]
    vault = SecretVault()
    hidden = vault.hide(f'A = "{key}"\nB = "{key}"\n')
    placeholder = hidden.split('"')[1]
    assert hidden.count(placeholder) == 2 and placeholder.startswith("<secret:")
    rewritten = f'API_KEY = "{placeholder}"  # renamed by the model\n'
    assert vault.reveal(rewritten) == f'API_KEY = "{key}"  # renamed by the model\n'


def test_reveal_args_walks_tool_arguments() -> None:
    key = SECRETS["github_pat"] if "github_pat" in SECRETS else next(iter(SECRETS.values()))
    vault = SecretVault()
    hidden = vault.hide(f"token = '{key}'")
    placeholder = hidden.split("'")[1]
    args = {"command": "str_replace", "old_str": f"token = '{placeholder}'",
            "new_str": f"TOKEN = '{placeholder}'", "view_range": [1, 2]}
    assert vault.reveal_args(args) == {"command": "str_replace", "old_str": f"token = '{key}'",
                                       "new_str": f"TOKEN = '{key}'", "view_range": [1, 2]}


def test_text_without_secrets_is_untouched() -> None:
    vault = SecretVault()
    code = "def add(a, b):\n    return a + b\n"
    assert vault.hide(code) == code and vault.reveal(code) == code and len(vault) == 0
