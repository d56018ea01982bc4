"""The CLI runs the server's own pipeline: `complete`, `prompt` and the no-key message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fake_backend import FakeBackend, Reply

from .conftest import REPO, fake_env, server_env

EXAMPLE = REPO / "examples" / "fib.py"


def _cli(env: dict[str, str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_complete_prints_the_cleaned_completion(fake: FakeBackend) -> None:
    fake.enqueue(Reply.text("```python\na, b = b, a + b\n```"))
    out = _cli(fake_env(fake), "complete", f"{EXAMPLE}:8:9")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "a, b = b, a + b\n"
    [req] = fake.completion_requests
    assert "{{FILL_HERE}}" in req.body["messages"][-1]["content"]


def test_prompt_prints_the_body_and_sends_nothing(fake: FakeBackend) -> None:
    out = _cli(fake_env(fake), "prompt", f"{EXAMPLE}:8:9")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["url"] == f"{fake.base_url}/chat/completions"
    assert shown["body"]["stream"] is True
    assert "    for _ in range(n):\n        {{FILL_HERE}}\n    return a" in (
        shown["body"]["messages"][-1]["content"])
    assert "tokens:" in out.stderr
    assert fake.requests == []


def test_without_a_key_it_says_what_to_set_and_sends_nothing(fake: FakeBackend) -> None:
    out = _cli(server_env({}), "complete", f"{EXAMPLE}:8:9")
    assert out.returncode == 2
    assert "DEVSTRAL_API_KEY" in out.stderr and "MISTRAL_API_KEY" in out.stderr
    assert out.stdout == "" and fake.requests == []


def test_a_bad_location_is_a_clear_error() -> None:
    out = _cli(server_env({}), "complete", "examples/fib.py:eight")
    assert out.returncode != 0 and "FILE:LINE:COL" in out.stderr
