"""Headless Emacs 28 + eglot 1.9 (Debian emacs-nox, elpa-eglot) with editors/emacs/devstral.el."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fake_backend import FakeBackend, Reply

from .conftest import (
    DOCSTRING_REPLY,
    HERE,
    Run,
    describe,
    editor_env,
    make_workspace,
    routed,
    run_editor,
)

pytestmark = pytest.mark.editor

AREA = "import math\n\n\ndef area(r):\n    return math.pi * ra\n"
ADD = "def add(a, b):\n    return a\n\n\nprint(add(1, 2))\n"
ELPA = Path("/usr/share/emacs/site-lisp/elpa")


def emacs_or_skip() -> str:
    emacs = shutil.which("emacs")
    if not emacs:
        pytest.skip("emacs not installed (run .ci/install-editors.sh)")
    if not any(ELPA.glob("eglot-*")):
        probe = subprocess.run(
            [emacs, "--batch", "-Q", "--eval", "(require 'eglot)"], capture_output=True, timeout=30
        )
        if probe.returncode != 0:
            pytest.skip("eglot not installed (apt-get install elpa-eglot)")
    return emacs


def run_emacs(
    fb: FakeBackend,
    tmp_path: Path,
    scenario: str,
    files: dict[str, str],
    open_file: str,
    timeout: float = 60.0,
    **env: str,
) -> Run:
    emacs = emacs_or_skip()
    ws = make_workspace(tmp_path / "ws", files)
    out = tmp_path / "result.json"
    e = editor_env(
        fb,
        tmp_path / "home",
        DEVSTRAL_TEST_OUT=str(out),
        DEVSTRAL_TEST_SCENARIO=scenario,
        DEVSTRAL_TEST_FILE=str(ws / open_file),
        **env,
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    cmd = [emacs, "--batch", "-Q", "-l", str(HERE / "emacs" / "driver.el")]
    return run_editor(cmd, e, ws, out, timeout=timeout)


def test_completion_at_point_inserts_the_model_text(fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text("dius ** 2")
    run = run_emacs(
        fake, tmp_path, "completion", {"calc.py": AREA}, "calc.py", DEVSTRAL_TEST_ROW="5"
    )
    res = run.result
    assert res is not None and res.get("ok") is True, describe(run)
    assert res["line"] == "    return math.pi * radius ** 2", describe(run)
    assert fake.completion_requests, "the model was never asked"


def test_code_action_applies_its_edit(fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = routed("+ b", docstring=DOCSTRING_REPLY)
    run = run_emacs(
        fake,
        tmp_path,
        "code-action",
        {"calc.py": ADD},
        "calc.py",
        DEVSTRAL_TEST_ROW="1",
        DEVSTRAL_TEST_ACTION="docstring",
    )
    res = run.result
    assert res is not None and res.get("ok") is True, describe(run)
    assert '"""Return the sum of a and b."""' in res["text"], describe(run)
    assert "print(add(1, 2))" in res["text"], describe(run)


def test_rewrite_command_applies_the_edit(fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = routed("+ b", docstring=DOCSTRING_REPLY)
    run = run_emacs(
        fake,
        tmp_path,
        "rewrite",
        {"calc.py": ADD},
        "calc.py",
        DEVSTRAL_TEST_INSTRUCTION="add a docstring",
    )
    res = run.result
    assert res is not None and res.get("ok") is True, describe(run)
    assert '"""Return the sum of a and b."""' in res["text"], describe(run)
    assert res["text"].endswith("print(add(1, 2))\n"), describe(run)


def test_a_slow_model_never_holds_emacs_in_a_request(fake: FakeBackend, tmp_path: Path) -> None:
    # Item 14: the model answers after eglot's request timeout (lowered to 1 s here).
    fake.default = Reply.text(DOCSTRING_REPLY, ttft=3.0)
    run = run_emacs(fake, tmp_path, "slow-action", {"calc.py": ADD}, "calc.py", timeout=90,
                    DEVSTRAL_TEST_ROW="1", DEVSTRAL_TEST_ACTION="docstring",
                    DEVSTRAL_TEST_JSONRPC_TIMEOUT="1", DEVSTRAL_TEST_WATCHDOG_S="80")
    res = run.result
    assert res is not None and res.get("ok") is True, describe(run)
    assert res["returned_before_edit"] is True, describe(run)
    assert res["notes"] == "typed meanwhile"
    assert '"""Return the sum of a and b."""' in res["text"], describe(run)
    assert "Timed out" not in res["messages"] and "failed" not in res["messages"], res["messages"]


def test_the_picker_offers_no_selection_action_without_a_region(
        fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text("+ b")
    run = run_emacs(fake, tmp_path, "picker-titles", {"calc.py": ADD}, "calc.py",
                    DEVSTRAL_TEST_ROW="2")
    res = run.result
    assert res is not None and res.get("ok") is True, describe(run)
    titles = res["titles"]
    assert any("docstring" in t.lower() for t in titles), titles
    assert not any("selection" in t.lower() for t in titles), titles
