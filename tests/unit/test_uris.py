"""`lsp_server/uris.py`: URI to path, and the one workspace-root lookup."""

from __future__ import annotations

from pathlib import Path

from lsp_server.actions.testfile import matching_test_path
from lsp_server.privacy.policy import PrivacyGuard
from lsp_server.uris import innermost_root, uri_to_path


def test_uri_to_path_is_absolute_and_normalised() -> None:
    assert uri_to_path("file:///w/a/../b/x.py") == Path("/w/b/x.py")
    assert uri_to_path("untitled:Untitled-1") is None


def test_innermost_root_picks_the_deepest_containing_root_whatever_the_order() -> None:
    roots = [Path("/w"), Path("/w/sub"), Path("/other")]
    assert innermost_root(Path("/w/sub/pkg/x.py"), roots) == Path("/w/sub")
    assert innermost_root(Path("/w/sub/pkg/x.py"), list(reversed(roots))) == Path("/w/sub")
    assert innermost_root(Path("/w/x.py"), roots) == Path("/w")
    assert innermost_root(Path("/w/sub"), roots) == Path("/w/sub")
    # a sibling whose name starts like a root is not inside it
    assert innermost_root(Path("/w/subway/x.py"), roots) == Path("/w")
    assert innermost_root(Path("/elsewhere/x.py"), roots) is None


def test_privacy_guard_and_test_files_agree_on_the_root(tmp_path: Path) -> None:
    outer, inner = tmp_path, tmp_path / "inner"
    (inner / "tests").mkdir(parents=True)
    src = inner / "mod.py"
    guard = PrivacyGuard([outer, inner])
    assert guard.root_of(src) == inner
    assert matching_test_path(src, [outer, inner]) == inner / "tests" / "test_mod.py"
