"""Recent edits: keystrokes coalesced into hunks, small unified diffs, bounded history."""

from __future__ import annotations

from lsp_server.context.recent import EditHistory, region_diff


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


BASE = "".join(f"line {i}\n" for i in range(100))


def test_region_diff_has_file_line_numbers() -> None:
    after = BASE.replace("line 50\n", "line fifty\n")
    diff = region_diff("a.py", BASE, after)
    assert diff.startswith("--- a/a.py\n+++ b/a.py\n@@ -49,5 +49,5 @@")
    assert "-line 50\n+line fifty\n" in diff
    assert region_diff("a.py", BASE, BASE) == ""


def test_keystrokes_coalesce_into_one_hunk() -> None:
    clock = Clock()
    h = EditHistory(clock=clock, gap_seconds=2.0)
    h.open("u", BASE)
    text = BASE
    for ch in "hello":
        clock.now += 0.1
        text = (
            text.replace("line 10\n", f"line 10{ch}\n", 1)
            if ch == "h"
            else text.replace("\n", ch + "\n", 11).replace(ch + "\n", "\n", 10)
        )
        h.change("u", "a.py", text)
    assert h.hunks() == []  # burst still in progress
    clock.now += 3
    hunks = h.hunks()
    assert len(hunks) == 1 and hunks[0].diff.count("@@") == 2
    assert "-line 10\n" in hunks[0].diff and "+line 10hello\n" in hunks[0].diff


def test_edit_elsewhere_starts_new_hunk_and_history_is_bounded() -> None:
    clock = Clock()
    h = EditHistory(clock=clock, max_hunks=3)
    h.open("u", BASE)
    text = BASE
    for i in (5, 40, 80, 20):
        clock.now += 0.2
        text = text.replace(f"line {i}\n", f"line {i} changed\n")
        h.change("u", "a.py", text)
    clock.now += 5
    hunks = h.hunks()
    assert len(hunks) == 3
    assert ["+line 40 changed" in hunks[0].diff, "+line 20 changed" in hunks[-1].diff] == [
        True,
        True,
    ]
    h.forget("u")
    assert h.hunks() == []


def test_close_commits_burst() -> None:
    clock = Clock()
    h = EditHistory(clock=clock)
    h.open("u", "a\n")
    h.change("u", "x.py", "a\nb\n")
    h.close("u")
    assert "+b" in h.hunks()[0].diff
