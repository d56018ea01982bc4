"""e2e fixtures: the real server over stdio (pytest-lsp) against the fake backend on loopback.

The helpers live in `tests/helpers/lsp.py`; this file only provides the fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from pytest_lsp import LanguageClient

from tests.fake_backend import FakeBackend
from tests.helpers.lsp import fake, fake_env, lsp_session

__all__ = ["fake", "nvim"]


@pytest_asyncio.fixture
async def nvim(fake: FakeBackend) -> AsyncIterator[LanguageClient]:
    async with lsp_session(fake_env(fake)) as (lsp, _):
        yield lsp
