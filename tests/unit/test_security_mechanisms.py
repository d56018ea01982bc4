"""The mechanisms behind issue 12: each one is the single place a class of attack is stopped.

* `PrivacyGuard` decides on the resolved path (links to outside, to `.env`, to `.git`, to an
  ignored folder are treated as their targets); secret names match case-insensitively.
* `fs_limits.read_regular` opens regular files only and reads a bounded number of bytes;
  `walk_files` is bounded in depth and files and never enters directory links.
* `WorkspacePaths.resolve` refuses `.git` reached through a link.
* `Overlay(documents_only=True)` reaches exactly the open documents.
* `revalidate` refuses edits computed for text the file no longer holds.
* The agent's `search` cannot be frozen by a catastrophic pattern; tool output per turn is capped.
* The TCP listener's first message must carry the token.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_server.edits.overlay import FileChange, Overlay
from lsp_server.edits.paths import PathRefused, WorkspacePaths
from lsp_server.edits.tool_output import MAX_TURN_OUTPUT_CHARS, ToolOutcome, TurnOutput
from lsp_server.edits.tools import ToolBox
from lsp_server.edits.workspace_edit import revalidate
from lsp_server.features.folders import changed_roots
from lsp_server.fs_limits import UnreadableFile, read_regular, read_small_text, walk_files
from lsp_server.privacy.policy import OUTSIDE_LINK_REASON, PrivacyGuard
from lsp_server.privacy.secret_files import secret_file_reason
from lsp_server.tcp import Refused, check_first_message

# ----------------------------------------------------------------------------- defect 4


@pytest.mark.parametrize("name", [".ENV", ".Env.Local", "server.PEM", "ID_RSA", "Id_Ed25519.pub",
                                  "Credentials.json", "SECRETS.YAML", "prod.TFVARS",
                                  ".AWS/Credentials", ".NETRC", "Client_Secret_1.JSON"])
def test_secret_file_names_match_case_insensitively(name: str) -> None:
    assert secret_file_reason(Path("/w") / name) is not None


def test_ordinary_names_stay_allowed() -> None:
    for name in ("environment.py", "Pem.md", "keyboard.py", "README.md", "src/Env.ts"):
        assert secret_file_reason(Path("/w") / name) is None, name


# ----------------------------------------------------------------------------- defect 2


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    (root / ".git").mkdir(parents=True)
    (root / "private").mkdir()
    outside.mkdir()
    (outside / "helpers.py").write_text("def leak(): pass\n")
    (root / ".env").write_text("TOKEN=x\n")
    (root / ".git" / "config").write_text("[remote]\n")
    (root / "private" / "keys.py").write_text("K = 1\n")
    (root / ".devstralignore").write_text("private/\n")
    (root / "a.py").write_text("x = 1\n")
    (root / "helpers.py").symlink_to(outside / "helpers.py")
    (root / "envcopy.py").symlink_to(root / ".env")
    (root / "gitconfig.txt").symlink_to(root / ".git" / "config")
    (root / "alias").symlink_to(root / "private", target_is_directory=True)
    (root / "hooks").symlink_to(root / ".git", target_is_directory=True)
    return root, outside


def test_privacy_decides_on_the_resolved_path(linked: tuple[Path, Path]) -> None:
    root, _ = linked
    guard = PrivacyGuard([root])
    assert guard.excluded_reason(root / "a.py") is None
    assert guard.reach_reason(root / "a.py") is None
    assert guard.excluded_reason(root / "helpers.py") == OUTSIDE_LINK_REASON
    assert guard.reach_reason(root / "helpers.py") == OUTSIDE_LINK_REASON
    assert guard.blocked_reason(root / "envcopy.py") is not None  # it *is* .env
    assert guard.reach_reason(root / "gitconfig.txt") == "version-control metadata"
    assert guard.blocked_reason(root / "alias" / "keys.py") == "ignored by .devstralignore"
    assert guard.excluded_reason(root / "alias" / "keys.py") == "ignored by .devstralignore"
    assert guard.reach_reason(root / "hooks" / "pre-commit") == "version-control metadata"


def test_agent_paths_refuse_git_reached_through_a_link(linked: tuple[Path, Path]) -> None:
    root, _ = linked
    paths = WorkspacePaths([("ws", root)])
    with pytest.raises(PathRefused, match="version-control"):
        paths.resolve("/workspace/hooks/hooks/pre-commit")
    with pytest.raises(PathRefused, match="version-control"):
        paths.resolve("/workspace/gitconfig.txt")
    with pytest.raises(PathRefused, match="outside the workspace"):
        paths.resolve("/workspace/helpers.py")
    assert paths.resolve("/workspace/a.py") == root / "a.py"


def test_overlay_refuses_a_link_into_an_ignored_folder(linked: tuple[Path, Path]) -> None:
    root, _ = linked
    guard = PrivacyGuard([root])
    ov = Overlay([("ws", root)], is_allowed=guard.reach_reason)
    with pytest.raises(PathRefused, match="devstralignore"):
        ov.resolve("/workspace/alias/keys.py")
    with pytest.raises(PathRefused):
        ov.resolve("/workspace/envcopy.py")
    listed = [p.name for p in ov.iter_files(root)]
    assert "keys.py" not in listed and "helpers.py" not in listed and "a.py" in listed


# ----------------------------------------------------------------------------- defect 3


def test_read_regular_refuses_fifos_and_devices(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "stdin.py").symlink_to("/dev/stdin")
    done = threading.Event()

    def attempt() -> None:
        for name in ("fifo.py", "zero.py", "stdin.py"):
            with pytest.raises(OSError):
                read_regular(tmp_path / name, 1000)
            assert read_small_text(tmp_path / name) is None
        done.set()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)  # a failure bound: the old `read_text` blocks on the FIFO forever
    assert done.is_set()


def test_read_regular_is_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(UnreadableFile, match="too large"):
        read_regular(big, 4999)
    assert read_regular(big, 5000) == b"x" * 5000


def test_walk_is_bounded_and_skips_directory_links(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(300):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "bottom.py").write_text("x\n")
    (tmp_path / "top.py").write_text("x\n")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = list(walk_files(tmp_path))
    assert found == [tmp_path / "top.py"]  # no loop through the link, no 300-deep descent
    assert len(list(walk_files(tmp_path, max_depth=400))) == 2
    many = tmp_path / "many"
    many.mkdir()
    for i in range(50):
        (many / f"f{i}.py").write_text("")
    assert len(list(walk_files(many, max_files=10))) == 10


# ----------------------------------------------------------------------------- defect 5


def test_documents_only_overlay_reaches_only_open_documents(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("Host *\n")
    (home / ".bashrc").write_text("alias ls=ls\n")
    (home / "other.py").write_text("SECRET_MARK = 1\n")
    notes = home / "notes.py"
    notes.write_text("x = 1\n")
    ov = Overlay([("home", home)], {notes: ("x = 1\n", 3)}, documents_only=True)
    assert ov.read(ov.resolve("/workspace/notes.py")) == "x = 1\n"
    for path in ("/workspace/.bashrc", "/workspace/.ssh/config", "/workspace/other.py",
                 "/workspace/new.py"):
        with pytest.raises(PathRefused, match="no workspace folder"):
            ov.resolve(path)
    assert [p.name for p in ov.iter_files(home)] == ["notes.py"]
    entries, hidden = ov.list_dir(home)
    assert [p.name for p, _ in entries] == ["notes.py"] and hidden == 0
    assert ov.allow_create is False


# ----------------------------------------------------------------------------- defect 6


def test_changed_roots_adds_and_removes() -> None:
    a, b, c = Path("/w/a"), Path("/w/b"), Path("/w/c")
    event = types.WorkspaceFoldersChangeEvent(
        added=[types.WorkspaceFolder(uri=c.as_uri(), name="c")],
        removed=[types.WorkspaceFolder(uri=a.as_uri(), name="a")])
    assert changed_roots([a, b], event) == [b, c]


# ----------------------------------------------------------------------------- defect 9


def test_catastrophic_search_pattern_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(("a" * 40 + "b\n") * 50)
    box = ToolBox(Overlay([("ws", tmp_path)]), deadline=time.monotonic() + 0.5)
    started = time.monotonic()
    out = box.execute("search", {"pattern": "(a|aa)+$", "regex": True})
    assert "time limit" in out.content, out.content
    # The regex engine's timeout counts CPU time; on a loaded machine wall time is larger,
    # but it is bounded (Python's `re` takes minutes here, holding the GIL).
    assert time.monotonic() - started < 30


def test_tool_output_per_turn_is_capped() -> None:
    turn = TurnOutput()
    big = "x" * (MAX_TURN_OUTPUT_CHARS // 2 + 10)
    assert turn.take(ToolOutcome(big)).content == big
    second = turn.take(ToolOutcome(big)).content
    assert second.count("x") < len(big) and "clipped" in second
    third = turn.take(ToolOutcome(big))
    assert third.error and "Not run" in third.content


# ----------------------------------------------------------------------------- defect 10


def test_revalidate_refuses_files_changed_since_they_were_read(tmp_path: Path) -> None:
    disk = tmp_path / "disk.py"
    disk.write_text("a = 1\n")
    opened = tmp_path / "opened.py"
    opened.write_text("b = 1\n")
    buf = tmp_path / "buf.py"
    new = tmp_path / "new.py"
    changes = [FileChange(disk, "a = 1\n", "a = 2\n", None),
               FileChange(opened, "b = 1\n", "b = 2\n", None),
               FileChange(buf, "c = 1\n", "c = 2\n", 4),
               FileChange(new, None, "n = 1\n", None)]
    fresh, stale = revalidate(changes, {opened: ("b = 1\n", 7), buf: ("c = 1\n", 4)})
    assert stale == []
    by_path = {c.path: c for c in fresh}
    assert by_path[opened].version == 7  # opened since: the editor now checks the version
    # Now the user changes things before the edit is sent.
    disk.write_text("a = 1\nextra = 0\n")
    new.write_text("created meanwhile\n")
    now = {opened: ("b = 1  # typed\n", 8), buf: ("c = 1\nd = 0\n", 5)}
    fresh, stale = revalidate(changes, now)
    assert fresh == [] and sorted(stale) == sorted([disk, opened, buf, new])


# ----------------------------------------------------------------------------- defect 8


def _init(opts: object) -> bytes:
    import json

    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"capabilities": {}, "initializationOptions": opts}}).encode()


def test_tcp_first_message_must_carry_the_token() -> None:
    for body in (_init(None), _init({"tcpToken": "wrong"}), _init({"tcpToken": 5}), b"[1]",
                 b'{"method": "shutdown", "id": 1}', b"{" * 100000):
        with pytest.raises(Refused):
            check_first_message(body, "s3cret")
    msg = check_first_message(_init({"tcpToken": "s3cret", "debounceMs": 5}), "s3cret")
    assert msg["params"]["initializationOptions"] == {"debounceMs": 5}


# ----------------------------------------------------------------------------- defect 7


def test_private_files_are_private_and_never_follow_links(tmp_path: Path) -> None:
    from lsp_server.privacy.private_files import NotPrivate, private_dir, write_private

    cache, home = tmp_path / "cache", tmp_path / "home"
    cache.mkdir()
    home.mkdir()
    env = {"XDG_CACHE_HOME": str(cache), "HOME": str(home)}
    folder = private_dir("explanations", environ=env)
    assert folder == cache / "devstral-lsp" / "explanations"
    assert (folder.stat().st_mode & 0o777) == 0o700
    path = write_private(folder, "a.py", ".md", "hello\n")
    assert path.read_text() == "hello\n" and (path.stat().st_mode & 0o777) == 0o600
    assert write_private(folder, "a.py", ".md", "again\n") != path  # never overwrites
    # A planted link or a folder others can write is not private: the next base is used.
    victim = tmp_path / "victim"
    victim.mkdir()
    (home / ".cache").mkdir()
    (home / ".cache" / "devstral-lsp").symlink_to(victim, target_is_directory=True)
    (cache / "devstral-lsp").chmod(0o777)
    with pytest.raises(NotPrivate):
        private_dir("explanations", environ=env)
    assert list(victim.iterdir()) == []
