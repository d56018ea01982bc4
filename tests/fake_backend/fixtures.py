"""Reusable pytest fixture for the fake backend.

Opt in from a conftest or test module with
``from tests.fake_backend.fixtures import fake_backend  # noqa: F401``.
Kept out of ``__init__`` so that importing the backend (e.g. from the CLI or a benchmark)
does not import pytest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeBackend

__all__ = ["fake_backend"]


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    """A running :class:`FakeBackend` with no default reply, stopped after the test.

    A plain (sync) fixture works for async tests too: the server runs on its own thread
    and loop, so it does not care which loop the test uses.
    """
    with FakeBackend() as backend:
        yield backend
