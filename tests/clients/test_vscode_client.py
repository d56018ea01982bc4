"""The scripted VS Code-style client in tests/clients/vscode_client."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fake_backend import FakeBackend, Reply

from .conftest import (
    DOCSTRING_REPLY,
    HERE,
    SERVER_CMD,
    describe,
    editor_env,
    make_workspace,
    routed,
    run_editor,
)

pytestmark = pytest.mark.editor

CLIENT_DIR = HERE / "vscode_client"
ADD = "def add(a, b):\n    return a\n\n\nprint(add(1, 2))\n"


def node_or_skip() -> str:
    node = shutil.which("node")
    if not node:
        pytest.skip("node not installed")
    if not (CLIENT_DIR / "node_modules" / "vscode-languageserver-protocol").is_dir():
        pytest.skip("npm ci not run in tests/clients/vscode_client (run .ci/install-editors.sh)")
    return node


def test_inline_completion_as_vscode_sends_it(fake: FakeBackend, tmp_path: Path) -> None:
    node = node_or_skip()
    fake.default = Reply.text("+ b")
    ws = make_workspace(tmp_path / "ws", {"calc.py": ADD})
    scenario = {
        "server": SERVER_CMD,
        "root": str(ws),
        "file": str(ws / "calc.py"),
        "languageId": "python",
        "text": ADD,
        "typing": {"line": 1, "character": len("    return a"), "text": " "},
        "expectLine": "    return a + b",
        "timeoutMs": 40000,
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    out = tmp_path / "report.json"
    env = editor_env(fake, tmp_path / "home")
    run = run_editor([node, str(CLIENT_DIR / "client.mjs"), str(path)], env, ws, out, timeout=60)
    assert run.stdout.strip(), describe(run)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    failed = [c for c in report["checks"] if not c["ok"]]
    assert report["ok"] and not failed, json.dumps(report, indent=1)[:6000]
    assert report["initialize"]["completionProvider"] is None  # VS Code shows ghost text only
    assert fake.completion_requests


def test_code_action_as_vscode_resolves_it(fake: FakeBackend, tmp_path: Path) -> None:
    node = node_or_skip()
    fake.default = Reply.text("+ b")
    ws = make_workspace(tmp_path / "ws", {"calc.py": ADD})
    scenario = {
        "server": SERVER_CMD,
        "root": str(ws),
        "file": str(ws / "calc.py"),
        "text": ADD,
        "typing": {"line": 1, "character": len("    return a"), "text": " "},
        "expectLine": "    return a + b",
        "codeAction": {
            "line": 0,
            "title": "docstring",
            "expectContains": '"""Return the sum of a and b."""',
        },
        "timeoutMs": 40000,
    }
    fake.default = routed("+ b", docstring=DOCSTRING_REPLY)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    env = editor_env(fake, tmp_path / "home")
    run = run_editor(
        [node, str(CLIENT_DIR / "client.mjs"), str(path)],
        env,
        ws,
        tmp_path / "none.json",
        timeout=60,
    )
    assert run.stdout.strip(), describe(run)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    failed = [c for c in report["checks"] if not c["ok"]]
    assert report["ok"] and not failed, json.dumps(report, indent=1)[:6000]
