"""Cross-file context and privacy, end to end: what reaches the request body and what never does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import fake_env, inline, lsp_session, open_doc, wait_for_index
from tests.helpers.secrets import SECRETS

PRICING = '''"""Prices and discounts."""


def apply_discount(price: float, percent: float, *, floor: float = 0.0) -> float:
    """Return `price` reduced by `percent` (0-100), never below `floor`."""
    return max(floor, price * (1 - percent / 100))
'''

CART = '''from shop.pricing import apply_discount


def checkout(items):
    total = sum(i.price for i in items)
    return apply_discount(
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "pricing.py").write_text(PRICING)
    (tmp_path / "shop" / "cart.py").write_text(CART)
    return tmp_path


def _user_message(fake: FakeBackend) -> str:
    return str(fake.completion_requests[-1].body["messages"][-1]["content"])


@pytest.mark.parametrize("opened", [False, True], ids=["only-on-disk", "open"])
async def test_definition_from_another_file_reaches_the_prompt(
    fake: FakeBackend, project: Path, opened: bool
) -> None:
    fake.enqueue(Reply.text("total, 10)"))
    cart = project / "shop" / "cart.py"
    async with lsp_session(fake_env(fake), root=project, client="vscode-inline") as (lsp, _):
        if opened:
            open_doc(lsp, (project / "shop" / "pricing.py").as_uri(), PRICING)
        open_doc(lsp, cart.as_uri(), CART)
        await wait_for_index(lsp)
        got = await inline(lsp, cart.as_uri(), 5, 26)
        assert got is not None and got.items
    user = _user_message(fake)
    assert "def apply_discount(price: float, percent: float, *, floor: float = 0.0)" in user
    assert "shop/pricing.py" in user
    # Stable material comes before the volatile file being edited.
    assert user.index("apply_discount(price") < user.index("File: shop/cart.py")


async def test_ignored_and_secret_files_are_never_sent(fake: FakeBackend, project: Path) -> None:
    (project / ".devstralignore").write_text("private/\n")
    (project / "private").mkdir()
    secret_doc = project / "private" / "notes.py"
    env_file = project / ".env"
    async with lsp_session(fake_env(fake), root=project, client="vscode-inline") as (lsp, _):
        open_doc(lsp, secret_doc.as_uri(), "TOKEN = 'x'\nvalue = ")
        open_doc(lsp, env_file.as_uri(), "API_KEY=abc\nOTHER=", language_id="dotenv")
        for uri in (secret_doc.as_uri(), env_file.as_uri()):
            got = await inline(lsp, uri, 1, 6)
            assert got is not None and not got.items
    assert fake.completion_requests == []


async def test_seeded_secrets_never_reach_any_request(fake: FakeBackend, project: Path) -> None:
    secret_lines = "\n".join(f"{name.upper()}_SECRET = {value!r}"
                             for name, value in list(SECRETS.items())[:12])
    settings = project / "shop" / "settings.py"
    settings_text = (f'"""Settings."""\n\n{secret_lines}\n\n\n'
                     "def load_settings():\n    return {}\n")
    settings.write_text(settings_text)
    buffer = f"from shop.settings import load_settings\n{secret_lines}\n\nconfig = load_settings("
    fake.default = Reply.text(")")
    async with lsp_session(fake_env(fake), root=project, client="vscode-inline") as (lsp, _):
        open_doc(lsp, settings.as_uri(), settings_text)
        uri = (project / "shop" / "app.py").as_uri()
        open_doc(lsp, uri, buffer)
        last = buffer.count("\n")
        got = await inline(lsp, uri, last, len(buffer.rsplit("\n", 1)[-1]))
        assert got is not None
    assert fake.completion_requests, "the completion was not requested at all"
    bodies = [json.dumps(r.body, ensure_ascii=False) for r in fake.requests]
    for value in SECRETS.values():
        for body in bodies:
            assert value not in body, f"secret leaked: {value[:12]}…"
    assert "<redacted" in bodies[-1]
