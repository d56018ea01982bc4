"""Workspace ↔ /workspace mapping and every way a model path could escape the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsp_server.edits.paths import PathRefused, WorkspacePaths


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s3cret\n")
    return root


def test_single_root_maps_to_workspace(ws: Path) -> None:
    paths = WorkspacePaths([("proj", ws)])
    assert paths.resolve("/workspace") == ws
    assert paths.resolve("/workspace/pkg/a.py") == ws / "pkg" / "a.py"
    assert paths.to_model(ws / "pkg" / "a.py") == "/workspace/pkg/a.py"
    assert paths.to_model(ws) == "/workspace"


def test_relative_and_real_absolute_paths_are_accepted(ws: Path) -> None:
    paths = WorkspacePaths([("proj", ws)])
    assert paths.resolve("pkg/a.py") == ws / "pkg" / "a.py"
    assert paths.resolve(str(ws / "pkg" / "a.py")) == ws / "pkg" / "a.py"
    assert paths.resolve("/workspace/pkg/../pkg/./a.py") == ws / "pkg" / "a.py"
    # New files (not on disk yet) resolve too.
    assert paths.resolve("/workspace/pkg/new.py") == ws / "pkg" / "new.py"


@pytest.mark.parametrize(
    "bad",
    [
        "/workspace/../etc/passwd",
        "/etc/passwd",
        "../outside/secret.txt",
        "/workspace/pkg/../../outside/secret.txt",
        "/workspace/../../../../../etc/shadow",
        "//etc/passwd",
        "/workspacex/a.py",
        "",
        "   ",
        "/workspace/a\x00b",
    ],
)
def test_escapes_are_refused(ws: Path, bad: str) -> None:
    paths = WorkspacePaths([("proj", ws)])
    with pytest.raises(PathRefused):
        paths.resolve(bad)


def test_outside_message_is_for_the_model(ws: Path) -> None:
    paths = WorkspacePaths([("proj", ws)])
    with pytest.raises(PathRefused, match="outside the workspace"):
        paths.resolve("/workspace/../etc/passwd")


def test_real_path_outside_is_refused(ws: Path) -> None:
    paths = WorkspacePaths([("proj", ws)])
    with pytest.raises(PathRefused):
        paths.resolve(str(ws.parent / "outside" / "secret.txt"))
    with pytest.raises(PathRefused):
        paths.to_model(ws.parent / "outside" / "secret.txt")


def test_symlinks_leading_out_are_refused(ws: Path) -> None:
    os.symlink(ws.parent / "outside", ws / "link_dir")
    os.symlink(ws.parent / "outside" / "secret.txt", ws / "link_file.txt")
    os.symlink("/etc", ws / "etc")
    paths = WorkspacePaths([("proj", ws)])
    for bad in (
        "/workspace/link_dir/secret.txt",
        "/workspace/link_file.txt",
        "/workspace/etc/passwd",
        "/workspace/link_dir/new_file.py",  # creation below an outward link
        "/workspace/link_dir",
    ):
        with pytest.raises(PathRefused, match="symbolic link"):
            paths.resolve(bad)


def test_symlink_inside_workspace_is_fine(ws: Path) -> None:
    os.symlink(ws / "pkg", ws / "alias")
    paths = WorkspacePaths([("proj", ws)])
    assert paths.resolve("/workspace/alias/a.py") == ws / "alias" / "a.py"


def test_git_internals_are_refused(ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    paths = WorkspacePaths([("proj", ws)])
    with pytest.raises(PathRefused, match="version-control"):
        paths.resolve("/workspace/.git/config")
    # A file merely named like it is fine.
    assert paths.resolve("/workspace/.gitignore") == ws / ".gitignore"


def test_multi_root_naming(tmp_path: Path) -> None:
    a = tmp_path / "one" / "app"
    b = tmp_path / "two" / "app"
    c = tmp_path / "lib"
    for d in (a, b, c):
        d.mkdir(parents=True)
    paths = WorkspacePaths([("app", a), ("app", b), ("lib", c)])
    assert [r.model_path for r in paths.roots] == [
        "/workspace/app",
        "/workspace/app-2",
        "/workspace/lib",
    ]
    assert paths.resolve("/workspace/app-2/x.py") == b / "x.py"
    assert paths.resolve("/workspace/lib") == c
    assert paths.to_model(a / "m.py") == "/workspace/app/m.py"
    with pytest.raises(PathRefused, match="not inside a workspace folder"):
        paths.resolve("/workspace/x.py")
    with pytest.raises(PathRefused):
        paths.resolve("/workspace/app/../../etc/passwd")
    # Escaping one root into a sibling root by `..` is still inside the workspace.
    assert paths.resolve("/workspace/app/../lib/z.py") == c / "z.py"


def test_multi_root_names_are_sanitised(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    paths = WorkspacePaths([("my/proj", a), ("..", b)])
    assert [r.model_path for r in paths.roots] == ["/workspace/my_proj", "/workspace/folder"]


def test_nested_roots_map_to_most_specific(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    paths = WorkspacePaths([("outer", outer), ("inner", inner)])
    assert paths.to_model(inner / "x.py") == "/workspace/inner/x.py"


def test_requires_a_root() -> None:
    with pytest.raises(ValueError):
        WorkspacePaths([])
