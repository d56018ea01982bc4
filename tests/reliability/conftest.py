"""Fixtures: the e2e suite's fake backend (real server over stdio is started per test)."""

from __future__ import annotations

from tests.helpers.lsp import fake

__all__ = ["fake"]
