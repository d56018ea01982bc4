"""The scripted VS Code-style client in tests/clients/vscode_client."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.helpers.nes_corpus import region_reply

from .conftest import (
    DOCSTRING_REPLY,
    HERE,
    REPO,
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


SCALE = (
    "def scale(values, factor):\n    result = []\n    for v in values:\n"
    "        result.append(v * factor)\n    return result\n"
)
EXTENSION = REPO / "editors" / "vscode"


def bundle_nes_core(out: Path) -> Path:
    """The extension's VS Code-free next-edit logic as an ES module the scripted client loads."""
    esbuild = EXTENSION / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.skip("npm ci not run in editors/vscode (run .ci/install-editors.sh)")
    target = out / "nesCore.mjs"
    proc = subprocess.run(
        [str(esbuild), str(EXTENSION / "src" / "nesCore.ts"), "--format=esm",
         f"--outfile={target}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return target


def _rewrite_region(request: RecordedRequest) -> Reply:
    content = str(request.messages[-1]["content"]) if request.messages else ""
    return Reply.text(region_reply(content, "v * factor", "v * ratio"))


def test_next_edit_as_the_vscode_extension_shows_and_applies_it(
    fake: FakeBackend, tmp_path: Path
) -> None:
    node = node_or_skip()
    core = bundle_nes_core(tmp_path)
    fake.default = _rewrite_region
    ws = make_workspace(tmp_path / "ws", {"scale.py": SCALE})
    col = len("        result.append(v * ")
    scenario = {
        "server": SERVER_CMD,
        "root": str(ws),
        "file": str(ws / "scale.py"),
        "text": SCALE,
        "nextEdit": {
            "core": str(core),
            "edit": {"range": {"start": {"line": 0, "character": 18},
                               "end": {"line": 0, "character": 24}}, "text": "ratio"},
            "expectPieces": [{"removed": "factor", "added": "ratio", "line": 3}],
            "expectText": SCALE.replace("factor", "ratio"),
        },
        "timeoutMs": 40000,
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    run = run_editor([node, str(CLIENT_DIR / "client.mjs"), str(path)],
                     editor_env(fake, tmp_path / "home"), ws, tmp_path / "none.json", timeout=60)
    assert run.stdout.strip(), describe(run)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    failed = [c for c in report["checks"] if not c["ok"]]
    assert report["ok"] and not failed, json.dumps(report, indent=1)[:6000]
    assert report["nextEdit"]["edits"][0]["range"]["start"] == {"line": 3, "character": col}
    # one model call: the Copilot-shaped request at the same place came from the cache
    assert len(fake.completion_requests) == 1
