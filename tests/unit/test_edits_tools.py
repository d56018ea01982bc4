"""The OpenHands-style tools executed against the in-memory overlay."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lsp_server.edits.overlay import Overlay
from lsp_server.edits.tool_specs import EDITOR, FINISH, SEARCH, THINK, describe_call, tool_schemas
from lsp_server.edits.tools import ToolBox
from tests.helpers.disk import snapshot

A_PY = "def foo():\n    return 1\n\n\ndef bar():\n    return foo()\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg" / "sub" / "deep").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text(A_PY)
    (root / "pkg" / "sub" / "b.py").write_text("import os\n")
    (root / "pkg" / "sub" / "deep" / "c.py").write_text("deep = True\n")
    (root / "README.md").write_text("# Project\nfoo appears here too\n")
    (root / ".env").write_text("TOKEN=abc\n")
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "index.js").write_text("foo()\n")
    (tmp_path / "outside.txt").write_text("nope\n")
    return root


def make(ws: Path, **kw: object) -> tuple[Overlay, ToolBox]:
    ov = Overlay([("proj", ws)], **kw)  # type: ignore[arg-type]
    return ov, ToolBox(ov)


def ed(tb: ToolBox, **args: object) -> str:
    return tb.execute(EDITOR, args).content


# ---- schemas ----


def test_schemas_use_openhands_names_and_parameters() -> None:
    tools = {t["function"]["name"]: t["function"] for t in tool_schemas()}
    assert set(tools) == {EDITOR, SEARCH, THINK, FINISH}
    props = tools[EDITOR]["parameters"]["properties"]
    assert set(props) == {
        "command",
        "path",
        "file_text",
        "old_str",
        "new_str",
        "insert_line",
        "view_range",
    }
    assert props["command"]["enum"] == ["view", "create", "str_replace", "insert", "undo_edit"]
    assert tools[EDITOR]["parameters"]["required"] == ["command", "path"]
    assert set(tools[FINISH]["parameters"]["properties"]) == {"message", "task_completed"}
    assert tools[THINK]["parameters"]["required"] == ["thought"]
    json.dumps(tool_schemas())  # serialisable as-is
    assert "cannot create" in tool_schemas(allow_create=False)[0]["function"]["description"]


# ---- view ----


def test_view_file_is_cat_n(ws: Path) -> None:
    _, tb = make(ws)
    out = ed(tb, command="view", path="/workspace/pkg/a.py")
    assert out.startswith("Here's the result of running `cat -n` on /workspace/pkg/a.py:\n")
    assert "     1\tdef foo():\n     2\t    return 1\n" in out
    assert "     6\t    return foo()\n" in out
    assert "     7\t" not in out  # a trailing newline does not show an extra line


def test_view_range(ws: Path) -> None:
    _, tb = make(ws)
    out = ed(tb, command="view", path="/workspace/pkg/a.py", view_range=[5, 6])
    assert "     5\tdef bar():\n     6\t    return foo()\n" in out
    assert "     4\t" not in out
    out = ed(tb, command="view", path="/workspace/pkg/a.py", view_range=[5, -1])
    assert "     6\t" in out
    out = ed(tb, command="view", path="/workspace/pkg/a.py", view_range=[5, 99])
    assert "NOTE: We only show up to 6" in out
    out = ed(tb, command="view", path="/workspace/pkg/a.py", view_range="[2, 2]")
    assert "     2\t    return 1" in out


@pytest.mark.parametrize(
    ("view_range", "needle"),
    [
        ([0, 3], "first element `0` should be within the range of lines of the file: [1, 6]"),
        ([7, 8], "first element `7`"),
        ([4, 2], "second element `2` should be greater than or equal to the first element `4`"),
        ([1], "It should be a list of two integers"),
        (["a", "b"], "It should be a list of two integers"),
    ],
)
def test_view_range_errors(ws: Path, view_range: object, needle: str) -> None:
    _, tb = make(ws)
    out = ed(tb, command="view", path="/workspace/pkg/a.py", view_range=view_range)
    assert out.startswith("ERROR:")
    assert needle in out


def test_view_directory_two_levels_hidden_and_skipped(ws: Path) -> None:
    _ov, tb = make(ws)
    ed(tb, command="create", path="/workspace/pkg/new.py", file_text="n = 1\n")
    out = ed(tb, command="view", path="/workspace")
    assert out.startswith(
        "Here's the files and directories up to 2 levels deep in /workspace, excluding hidden "
        "items:\n/workspace/\n"
    )
    lines = out.splitlines()
    assert "/workspace/pkg/" in lines
    assert "/workspace/pkg/a.py" in lines
    assert "/workspace/pkg/sub/" in lines
    assert "/workspace/pkg/new.py" in lines  # overlay-only file
    assert "/workspace/README.md" in lines
    assert not any("b.py" in line for line in lines)  # level 3
    assert not any(".env" in line for line in lines)
    assert not any("node_modules" in line for line in lines)
    assert "1 hidden files/directories in this directory are excluded." in out
    out = ed(tb, command="view", path="/workspace/pkg", view_range=[1, 2])
    assert out.startswith("ERROR:") and "not allowed when `path` points to a directory" in out


def test_view_missing_file(ws: Path) -> None:
    _, tb = make(ws)
    out = ed(tb, command="view", path="/workspace/nope.py")
    assert out.startswith("ERROR:")
    assert "The path /workspace/nope.py does not exist. Please provide a valid path." in out


def test_view_reads_unsaved_buffer(ws: Path) -> None:
    a = ws / "pkg" / "a.py"
    _, tb = make(ws, open_documents={a: ("unsaved = 42\n", 3)})
    out = ed(tb, command="view", path="/workspace/pkg/a.py")
    assert "unsaved = 42" in out and "def foo" not in out


def test_view_clips_huge_files(ws: Path) -> None:
    (ws / "big.py").write_text("x = 1\n" * 10_000)
    _, tb = make(ws)
    out = ed(tb, command="view", path="/workspace/big.py")
    assert "<response clipped>" in out
    assert len(out) < 120_000


# ---- refusals ----


@pytest.mark.parametrize(
    "path",
    ["/workspace/../outside.txt", "/etc/passwd", "../outside.txt", "/workspace/../etc/passwd"],
)
def test_escape_is_a_tool_error(ws: Path, path: str) -> None:
    _, tb = make(ws)
    for command in ("view", "create", "str_replace", "insert", "undo_edit"):
        out = ed(
            tb,
            command=command,
            path=path,
            file_text="x",
            old_str="a",
            new_str="b",
            insert_line=0,
        )
        assert out.startswith("ERROR:\n")
        assert "outside the workspace" in out


def test_symlink_out_is_a_tool_error(ws: Path) -> None:
    os.symlink(ws.parent / "outside.txt", ws / "link.txt")
    _, tb = make(ws)
    out = ed(tb, command="view", path="/workspace/link.txt")
    assert out.startswith("ERROR:") and "symbolic link" in out
    assert "link.txt" not in ed(tb, command="view", path="/workspace")


def test_is_allowed_refuses_ignored_and_secret_files(ws: Path) -> None:
    def policy(p: Path) -> str | None:
        if p.name == ".env":
            return "it may contain secrets"
        if p.name == "sub":
            return "it is ignored by .gitignore"
        return None

    _, tb = make(ws, is_allowed=policy)
    out = ed(tb, command="view", path="/workspace/.env")
    assert out == "ERROR:\nThe path /workspace/.env cannot be accessed: it may contain secrets."
    out = ed(tb, command="view", path="/workspace/pkg/sub/b.py")  # inside an ignored dir
    assert out.startswith("ERROR:") and "ignored" in out
    out = ed(tb, command="create", path="/workspace/pkg/sub/new.py", file_text="x")
    assert out.startswith("ERROR:")
    assert "sub" not in ed(tb, command="view", path="/workspace/pkg")
    assert "b.py" not in tb.execute(SEARCH, {"pattern": "import"}).content


def test_oversized_and_binary_files_are_refused(ws: Path) -> None:
    (ws / "big.txt").write_text("a" * 2000)
    (ws / "blob.bin").write_bytes(b"\x00\x01\x02abc")
    (ws / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    ov, tb = make(ws, max_file_bytes=1000)
    assert "too large" in ed(tb, command="view", path="/workspace/big.txt")
    assert "binary" in ed(tb, command="view", path="/workspace/blob.bin")
    assert "not UTF-8" in ed(tb, command="view", path="/workspace/latin.txt")
    out = ed(tb, command="create", path="/workspace/huge.py", file_text="b" * 5000)
    assert out.startswith("ERROR:") and "limit is 1000 bytes" in out
    assert ov.changed_files() == {}


# ---- create ----


def test_create(ws: Path) -> None:
    ov, tb = make(ws)
    before = snapshot(ws)
    out = ed(tb, command="create", path="/workspace/pkg/c.py", file_text="c = 3\n")
    assert out == "File created successfully at: /workspace/pkg/c.py"
    assert not (ws / "pkg" / "c.py").exists()
    assert "c = 3" in ed(tb, command="view", path="/workspace/pkg/c.py")
    ch = ov.changed_files()[ws / "pkg" / "c.py"]
    assert (ch.old, ch.new, ch.version) == (None, "c = 3\n", None)
    # New directories are fine (the editor creates them).
    assert ed(tb, command="create", path="/workspace/newdir/x/y.py", file_text="").startswith(
        "File created"
    )
    assert snapshot(ws) == before


def test_create_errors(ws: Path) -> None:
    a = ws / "pkg" / "a.py"
    _, tb = make(ws, open_documents={ws / "pkg" / "open_only.py": ("x\n", 1)})
    out = ed(tb, command="create", path="/workspace/pkg/a.py", file_text="x")
    assert out == (
        "ERROR:\nFile already exists at: /workspace/pkg/a.py. Cannot overwrite files using "
        "command `create`."
    )
    assert "already exists" in ed(
        tb, command="create", path="/workspace/pkg/open_only.py", file_text="y"
    )
    assert "is a directory" in ed(tb, command="create", path="/workspace/pkg", file_text="x")
    assert "`file_text` is required" in ed(tb, command="create", path="/workspace/n.py")
    assert "is a file, not a directory" in ed(
        tb, command="create", path="/workspace/pkg/a.py/inner.py", file_text="x"
    )
    ed(tb, command="create", path="/workspace/twice.py", file_text="1")
    assert "already exists" in ed(tb, command="create", path="/workspace/twice.py", file_text="2")
    assert a.read_text() == A_PY


def test_create_refused_when_client_cannot(ws: Path) -> None:
    ov, tb = make(ws, allow_create=False)
    out = ed(tb, command="create", path="/workspace/x.py", file_text="x")
    assert out.startswith("ERROR:") and "cannot create" in out.lower()
    assert ov.changed_files() == {}


# ---- str_replace --------------------------------------------------------------------------------


def test_str_replace_success_shows_snippet(ws: Path) -> None:
    ov, tb = make(ws)
    out = ed(
        tb,
        command="str_replace",
        path="/workspace/pkg/a.py",
        old_str="return 1",
        new_str="return 2",
    )
    assert out.startswith(
        "The file /workspace/pkg/a.py has been edited. Here's the result of running `cat -n` on "
        "a snippet of /workspace/pkg/a.py:\n"
    )
    assert "     2\t    return 2\n" in out
    assert out.endswith(
        "Review the changes and make sure they are as expected. Edit the file again if necessary."
    )
    assert ov.changed_files()[ws / "pkg" / "a.py"].new == A_PY.replace("return 1", "return 2")
    assert (ws / "pkg" / "a.py").read_text() == A_PY


def test_str_replace_not_found(ws: Path) -> None:
    _, tb = make(ws)
    out = ed(tb, command="str_replace", path="/workspace/pkg/a.py", old_str="retur 1", new_str="x")
    assert out == (
        "ERROR:\nNo replacement was performed, old_str `retur 1` did not appear verbatim in "
        "/workspace/pkg/a.py."
    )


def test_str_replace_not_unique(ws: Path) -> None:
    ov, tb = make(ws)
    out = ed(tb, command="str_replace", path="/workspace/pkg/a.py", old_str="return", new_str="x")
    assert out == (
        "ERROR:\nNo replacement was performed. Multiple occurrences of old_str `return` in lines "
        "[2, 6]. Please ensure it is unique."
    )
    assert ov.changed_files() == {}


def test_str_replace_parameter_errors(ws: Path) -> None:
    _, tb = make(ws)
    p = "/workspace/pkg/a.py"
    assert "`old_str` is required" in ed(tb, command="str_replace", path=p)
    assert "must be different" in ed(
        tb, command="str_replace", path=p, old_str="return 1", new_str="return 1"
    )
    assert "must not be empty" in ed(tb, command="str_replace", path=p, old_str="", new_str="x")
    assert "is a directory" in ed(
        tb, command="str_replace", path="/workspace/pkg", old_str="a", new_str="b"
    )
    assert "does not exist" in ed(
        tb, command="str_replace", path="/workspace/zz.py", old_str="a", new_str="b"
    )


def test_str_replace_without_new_str_deletes(ws: Path) -> None:
    ov, tb = make(ws)
    ed(tb, command="str_replace", path="/workspace/pkg/a.py", old_str="\n\ndef bar():\n")
    assert "def bar" not in ov.changed_files()[ws / "pkg" / "a.py"].new


# ---- insert ----


def test_insert_after_line(ws: Path) -> None:
    ov, tb = make(ws)
    out = ed(tb, command="insert", path="/workspace/pkg/a.py", insert_line=2, new_str="# two")
    assert out.startswith("The file /workspace/pkg/a.py has been edited.")
    assert "a snippet of the edited file" in out and "     3\t# two" in out
    new = ov.changed_files()[ws / "pkg" / "a.py"].new
    assert new.splitlines()[:3] == ["def foo():", "    return 1", "# two"]
    ed(tb, command="insert", path="/workspace/pkg/a.py", insert_line=0, new_str="# top\n")
    ed(tb, command="insert", path="/workspace/pkg/a.py", insert_line=8, new_str="# end")
    new = ov.changed_files()[ws / "pkg" / "a.py"].new
    assert new.startswith("# top\ndef foo():\n") and new.endswith("    return foo()\n# end\n")


def test_insert_keeps_missing_final_newline(ws: Path) -> None:
    (ws / "n.txt").write_text("a\nb")
    ov, tb = make(ws)
    ed(tb, command="insert", path="/workspace/n.txt", insert_line=2, new_str="c")
    assert ov.changed_files()[ws / "n.txt"].new == "a\nb\nc"
    ed(tb, command="insert", path="/workspace/n.txt", insert_line=1, new_str="x\ny")
    assert ov.changed_files()[ws / "n.txt"].new == "a\nx\ny\nb\nc"


@pytest.mark.parametrize("line", [-1, 7, "x", True])
def test_insert_invalid_line(ws: Path, line: object) -> None:
    _, tb = make(ws)
    out = ed(tb, command="insert", path="/workspace/pkg/a.py", insert_line=line, new_str="z")
    assert out.startswith("ERROR:\nInvalid `insert_line` parameter")
    if isinstance(line, int) and not isinstance(line, bool):
        assert "It should be within the range of allowed values: [0, 6]" in out


def test_insert_missing_parameters(ws: Path) -> None:
    _, tb = make(ws)
    assert "`insert_line` is required" in ed(
        tb, command="insert", path="/workspace/pkg/a.py", new_str="z"
    )
    assert "`new_str` is required" in ed(
        tb, command="insert", path="/workspace/pkg/a.py", insert_line=1
    )


# ---- undo ----


def test_undo_is_per_file(ws: Path) -> None:
    ov, tb = make(ws)
    a, b = "/workspace/pkg/a.py", "/workspace/pkg/sub/b.py"
    assert ed(tb, command="undo_edit", path=a) == "ERROR:\nNo edit history found for " + a + "."
    ed(tb, command="str_replace", path=a, old_str="return 1", new_str="return 2")
    ed(tb, command="str_replace", path=a, old_str="return 2", new_str="return 3")
    ed(tb, command="str_replace", path=b, old_str="import os", new_str="import sys")
    out = ed(tb, command="undo_edit", path=a)
    assert out.startswith(f"Last edit to {a} undone successfully. Here's the result of running")
    assert "return 2" in out
    assert "import sys" in ov.changed_files()[ws / "pkg" / "sub" / "b.py"].new
    ed(tb, command="undo_edit", path=a)
    assert ws / "pkg" / "a.py" not in ov.changed_files()
    assert "No edit history" in ed(tb, command="undo_edit", path=a)


def test_undo_create_removes_the_file(ws: Path) -> None:
    ov, tb = make(ws)
    ed(tb, command="create", path="/workspace/n.py", file_text="n\n")
    assert "no longer exists" in ed(tb, command="undo_edit", path="/workspace/n.py")
    assert ov.changed_files() == {}
    assert "does not exist" in ed(tb, command="view", path="/workspace/n.py")
    assert "n.py" not in ed(tb, command="view", path="/workspace")
    # It can be created again afterwards.
    assert ed(tb, command="create", path="/workspace/n.py", file_text="m\n").startswith("File")


# ---- search ----


def test_search_literal_regex_and_bounds(ws: Path) -> None:
    _ov, tb = make(ws)
    out = tb.execute(SEARCH, {"pattern": "foo()"}).content
    assert out.startswith("Found 2 matches for `foo()` in /workspace:\n")
    assert "/workspace/pkg/a.py:1:def foo():" in out
    assert "/workspace/pkg/a.py:6:    return foo()" in out
    assert "node_modules" not in out
    out = tb.execute(SEARCH, {"pattern": r"^def \w+", "regex": True}).content
    assert "a.py:1:" in out and "a.py:5:def bar():" in out
    out = tb.execute(SEARCH, {"pattern": "FOO", "ignore_case": True, "include": "*.md"}).content
    assert out.startswith("Found 1 matches") and "README.md:2:" in out
    out = tb.execute(SEARCH, {"pattern": "deep", "path": "/workspace/pkg/sub"}).content
    assert "deep/c.py:1:deep = True" in out
    assert tb.execute(SEARCH, {"pattern": "zzz"}).content == (
        "No matches found for `zzz` in /workspace."
    )
    assert tb.execute(SEARCH, {"pattern": "(", "regex": True}).content.startswith(
        "ERROR:\nInvalid regular expression"
    )
    assert "outside the workspace" in tb.execute(SEARCH, {"pattern": "x", "path": "/etc"}).content
    assert ".env" not in tb.execute(SEARCH, {"pattern": "TOKEN"}).content  # hidden file
    # Overlay edits and new files are searched, and the search does not cache disk files.
    ed(tb, command="create", path="/workspace/new.py", file_text="needle = 1\n")
    assert "/workspace/new.py:1:needle = 1" in tb.execute(SEARCH, {"pattern": "needle"}).content
    (ws / "many.txt").write_text("hit " + "x" * 500 + "\n" * 1 + "hit\n" * 300)
    out = tb.execute(SEARCH, {"pattern": "hit"}).content
    assert "Found 100+ matches" in out and "Only the first 100 matches" in out
    assert max(len(line) for line in out.splitlines()) < 260


def test_search_sees_unsaved_buffers(ws: Path) -> None:
    _, tb = make(ws, open_documents={ws / "pkg" / "a.py": ("unsaved_marker = 1\n", 2)})
    assert "a.py:1:unsaved_marker" in tb.execute(SEARCH, {"pattern": "unsaved_marker"}).content


# ---- think / finish / protocol errors ------------------------------------------------------------


def test_think_finish_and_protocol_errors(ws: Path) -> None:
    _, tb = make(ws)
    assert tb.execute(THINK, {"thought": "plan"}).content == "Your thought has been logged."
    fin = tb.execute(FINISH, '{"message": "Renamed foo", "task_completed": "true"}')
    assert fin.finished and fin.task_completed and fin.message == "Renamed foo"
    assert not tb.execute(FINISH, {"message": "gave up", "task_completed": "false"}).task_completed
    assert not tb.execute(FINISH, {"message": "half", "task_completed": "partial"}).task_completed
    out = tb.execute(EDITOR, '{"command": "view", "path": "/workspace/pk').content
    assert out.startswith("ERROR:\nThe tool call arguments are not valid JSON")
    assert tb.execute(EDITOR, "[1, 2]").content.startswith("ERROR:")
    assert tb.execute("bash", {"command": "rm -rf /"}).content.startswith(
        "ERROR:\nUnknown tool `bash`"
    )
    out = ed(tb, command="delete", path="/workspace/pkg/a.py")
    assert out.startswith("ERROR:\nUnrecognized command delete.")
    assert "`path` is required" in ed(tb, command="view")
    # A code-fenced argument string is tolerated.
    assert (
        "def foo"
        in tb.execute(
            EDITOR, '```json\n{"command": "view", "path": "/workspace/pkg/a.py"}\n```'
        ).content
    )


def test_describe_call() -> None:
    assert describe_call(EDITOR, {"command": "view", "path": "/workspace/pkg/a.py"}) == (
        "viewing pkg/a.py"
    )
    assert describe_call(EDITOR, {"command": "str_replace", "path": "/workspace/b.py"}) == (
        "editing b.py"
    )
    assert describe_call(EDITOR, {"command": "create", "path": "/workspace/c.py"}) == (
        "creating c.py"
    )
    assert describe_call(SEARCH, {"pattern": "foo"}) == "searching 'foo'"
    assert describe_call(EDITOR, {"command": "view", "path": "/workspace"}) == (
        "viewing the workspace"
    )


# ---- overlay properties ----


def test_crlf_files_are_shown_lf_and_kept_crlf(ws: Path) -> None:
    (ws / "w.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    ov, tb = make(ws)
    assert "\r" not in ed(tb, command="view", path="/workspace/w.py")
    ed(
        tb,
        command="str_replace",
        path="/workspace/w.py",
        old_str="a = 1\nb = 2",
        new_str="a = 1\nc = 3\nb = 2",
    )
    ch = ov.changed_files()[ws / "w.py"]
    assert ch.old == "a = 1\r\nb = 2\r\n"
    assert ch.new == "a = 1\r\nc = 3\r\nb = 2\r\n"


def test_bom_is_not_part_of_the_text(ws: Path) -> None:
    (ws / "bom.py").write_bytes("\ufeffx = 1\n".encode())
    ov, tb = make(ws)
    ed(tb, command="str_replace", path="/workspace/bom.py", old_str="x = 1", new_str="x = 2")
    assert ov.changed_files()[ws / "bom.py"].old == "x = 1\n"


def test_open_document_version_and_stale(ws: Path) -> None:
    from lsp_server.edits.workspace_edit import revalidate

    a = ws / "pkg" / "a.py"
    ov, tb = make(ws, open_documents={a: (A_PY, 5)})
    ed(tb, command="str_replace", path="/workspace/pkg/a.py", old_str="return 1", new_str="r = 0")
    ed(tb, command="str_replace", path="/workspace/README.md", old_str="# Project", new_str="# P")
    changes = ov.changed_files()
    assert changes[a].version == 5
    assert changes[ws / "README.md"].version is None
    assert revalidate(changes.values(), {a: (A_PY, 5)})[1] == []
    assert revalidate(changes.values(), {a: (A_PY + "# typed\n", 6)})[1] == [a]
    (ws / "pkg" / "a.py").write_text("# saved elsewhere\n")
    assert revalidate(changes.values(), {})[1] == [a]  # closed meanwhile, disk differs


def test_multi_root_overlay(tmp_path: Path) -> None:
    front, back = tmp_path / "front", tmp_path / "back"
    front.mkdir()
    back.mkdir()
    (front / "app.ts").write_text("export const x = 1;\n")
    (back / "api.py").write_text("X = 1\n")
    ov = Overlay([("front", front), ("back", back)])
    tb = ToolBox(ov)
    assert "/workspace/back/api.py:1:X = 1" in tb.execute(SEARCH, {"pattern": "X = 1"}).content
    out = tb.execute(EDITOR, {"command": "view", "path": "/workspace/front/app.ts"}).content
    assert "export const x" in out
    out = tb.execute(EDITOR, {"command": "view", "path": "/workspace/app.ts"}).content
    assert out.startswith("ERROR:") and "/workspace/front, /workspace/back" in out
    out = tb.execute(EDITOR, {"command": "view", "path": "/workspace"}).content
    assert "/workspace/front/app.ts" in out.splitlines()
    assert "/workspace/back/api.py" in out.splitlines()
    out = tb.execute(EDITOR, {"command": "create", "path": "/workspace", "file_text": ""}).content
    assert out.startswith("ERROR:")
    tb.execute(
        EDITOR,
        {
            "command": "str_replace",
            "path": "/workspace/back/api.py",
            "old_str": "X = 1",
            "new_str": "X = 2",
        },
    )
    assert ov.changed_files()[back / "api.py"].new == "X = 2\n"


def test_path_turned_into_outward_symlink_never_leaves(ws: Path) -> None:
    ov, tb = make(ws)
    ed(tb, command="create", path="/workspace/late/x.py", file_text="x = 1\n")
    assert ws / "late" / "x.py" in ov.changed_files()
    os.symlink(ws.parent, ws / "late")  # swapped in after the edit
    assert ov.changed_files() == {}
