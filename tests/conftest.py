"""Marks the suites that start processes as `slow`, so `pytest -m "not slow"` is a quick loop.

Slow: everything that starts the real server or an editor (`e2e/`, `reliability/`, `clients/`)
and the benchmark smoke tests. The quick loop is the in-process unit tests (about a minute).
"""

from __future__ import annotations

from pathlib import Path

import pytest

_SLOW_DIRS = ("e2e", "reliability", "clients")
_SLOW_FILES = ("test_bench_smoke.py",)
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            rel = Path(str(item.path)).resolve().relative_to(_HERE)
        except ValueError:
            continue
        if rel.parts[0] in _SLOW_DIRS or rel.name in _SLOW_FILES:
            item.add_marker(pytest.mark.slow)
