"""The CLI runs the server's own pipeline: `complete`, `prompt` and the no-key message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import REPO, fake_env, server_env

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
    # No editor is attached: status and messages are not sent anywhere, and no error says so.
    assert "ERROR" not in out.stderr, out.stderr


def test_prompt_prints_the_body_and_sends_nothing(fake: FakeBackend) -> None:
    out = _cli(fake_env(fake), "prompt", f"{EXAMPLE}:8:9")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["url"] == f"{fake.base_url}/chat/completions"
    assert shown["body"]["stream"] is True
    assert shown["body"]["stream_options"] == {"include_usage": True}
    assert shown["body"]["prompt_cache_key"].startswith("dlsp-")
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


def _initialize_over_stdio(env: dict[str, str], *args: str) -> dict[str, object]:
    """Start the server with `args`, send `initialize` over stdio, return the reply."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    proc = subprocess.Popen([sys.executable, "-m", "lsp_server", *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        proc.stdin.flush()
        while True:  # skip the server's notifications (log messages) until the reply
            length = 0
            while (line := proc.stdout.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert length, "the server closed stdout without answering"
            reply: dict[str, object] = json.loads(proc.stdout.read(length))
            if reply.get("id") == 1:
                return reply
    finally:
        proc.kill()
        proc.wait()


def test_the_server_accepts_stdio_as_clients_append_it() -> None:
    # vscode-languageclient appends --stdio to the command for TransportKind.stdio.
    for args in (("--stdio",), ("serve", "--stdio")):
        reply = _initialize_over_stdio(server_env({}), *args)
        assert "capabilities" in reply["result"], reply  # type: ignore[operator]


def _outside_project(tmp_path: Path) -> Path:
    """A folder with no .git or pyproject.toml above it, and a sub-folder of unrelated files."""
    d = tmp_path / "loose"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "deep.py").write_text("def helper_sub(x):\n    return x * 7\n")
    (d / "top.py").write_text("def helper_top(x):\n    return x * 3\n")
    (d / "calc.py").write_text(
        "def run(a):\n    b = helper_top(a)\n    c = helper_sub(a)\n    return \n")
    (d / ".env").write_text("API_KEY=sk-do-not-send-0123456789\n")
    return d


def test_outside_a_project_only_the_file_and_its_folder_are_read(
        fake: FakeBackend, tmp_path: Path) -> None:
    d = _outside_project(tmp_path)
    out = _cli(fake_env(fake), "prompt", f"{d / 'calc.py'}:4:12", cwd=d)
    assert out.returncode == 0, out.stderr
    prompt = json.loads(out.stdout)["body"]["messages"][1]["content"]
    assert "def helper_top" in prompt  # a file beside it is used
    assert "def helper_sub" not in prompt  # a sub-folder is not walked


def test_complete_on_a_secret_file_says_it_was_not_sent(
        fake: FakeBackend, tmp_path: Path) -> None:
    d = _outside_project(tmp_path)
    out = _cli(fake_env(fake), "complete", f"{d / '.env'}:1:5", cwd=d)
    assert out.returncode == 0, out.stderr
    assert "not sent: secret file" in out.stderr
    assert "suggested nothing" not in out.stderr
    assert out.stdout == "" and fake.requests == []
