"""When a completion call may start before the typing pause (completion/speculation.py)."""

from __future__ import annotations

import pytest

from lsp_server.completion.speculation import (
    at_word_boundary,
    is_free_endpoint,
    is_local_endpoint,
    speculate,
)


@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:8080/v1", True), ("http://localhost:11434/v1", True),
    ("http://[::1]:8000/v1", True), ("http://192.168.1.20:1234/v1", True),
    ("http://10.0.0.5:8000/v1", True), ("http://gpu-box.local:8000/v1", True),
    ("https://api.mistral.ai/v1", False), ("https://openrouter.ai/api/v1", False),
    ("https://8.8.8.8/v1", False), (None, False), ("", False),
])
def test_local_endpoints_are_the_free_ones(url: str | None, local: bool) -> None:
    assert is_local_endpoint(url) is local


@pytest.mark.parametrize(("line", "boundary"), [
    ("    r1 ", True), ("x = foo(", True), ("    return a +", True), ("  items[", True),
    ("    r1", False), ("    compute_", False), ("    ", False), ("", False), ("\t", False),
])
def test_word_boundaries_on_lines_that_hold_code(line: str, boundary: bool) -> None:
    assert at_word_boundary(line) is boundary


def test_environment_overrides_the_cost_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTRAL_SPECULATE", "never")
    assert not speculate("http://127.0.0.1:9/v1", "    r1 ")
    monkeypatch.setenv("DEVSTRAL_SPECULATE", "always")
    assert speculate("https://api.mistral.ai/v1", "    r1 ")
    assert not speculate("https://api.mistral.ai/v1", "    r1")


def test_speculate_needs_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVSTRAL_SPECULATE", raising=False)
    assert speculate("http://127.0.0.1:9/v1", "    r1 ")
    assert not speculate("https://api.mistral.ai/v1", "    r1 ")
    assert not speculate("http://127.0.0.1:9/v1", "    r1")


@pytest.mark.parametrize(("url", "provider", "model", "free"), [
    ("http://127.0.0.1:8080/v1", "llamacpp", "devstral", True),
    ("http://localhost:11434/v1", "ollama", "devstral-small-2", True),
    ("http://127.0.0.1:8080/v1", "openai", "devstral-small-latest", True),  # unpriced: local
    # a paid provider behind a local proxy or tunnel still bills every started call
    ("http://127.0.0.1:8080/v1", "mistral", "mistral-small-latest", False),
    ("http://localhost:4000/v1", "openrouter", "mistralai/devstral-2512", False),
    ("https://api.mistral.ai/v1", "mistral", "mistral-small-latest", False),
])
def test_free_endpoints_are_local_and_unbilled(url: str, provider: str, model: str,
                                               free: bool, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.delenv("DEVSTRAL_SPECULATE", raising=False)
    assert is_free_endpoint(url, provider, model) is free
    assert speculate(url, "    r1 ", provider, model) is free
