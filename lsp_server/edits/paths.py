"""Mapping between the editor's workspace folders and the `/workspace` the model sees.

Devstral was trained on OpenHands, where the repository lives at `/workspace` and every tool takes
an absolute path. Showing it the same layout lets it work the way it learned to, and keeps the
user's real home directory out of the prompt. With one workspace folder that folder *is*
`/workspace`; with several, each appears as `/workspace/<folder name>`.

Every path the model sends goes through `WorkspacePaths.resolve`, which is the single place that
refuses escapes: `..` leading out, absolute paths elsewhere, symlinks whose target lies outside
every root, and the insides of `.git` (as named or as a link's target). The secret and ignore
rules are the `PrivacyGuard`'s, applied on top by the overlay. The refusal messages are written
for the model (it reads them as tool errors and corrects itself).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..privacy.policy import VCS_DIR_NAMES

WORKSPACE = "/workspace"

#: Directory names never shown to, read by or edited by the model: VCS internals (editing them
#: would corrupt the repository) and bulky caches that only waste the tool-output budget.
SKIPPED_DIR_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".direnv",
    }
)

#: Of the above, the ones that must never be *edited* even when named explicitly.
_FORBIDDEN_DIR_NAMES = VCS_DIR_NAMES


class PathRefused(Exception):
    """A model-supplied path that must not be used; `str(exc)` is the message for the model."""


@dataclass(frozen=True)
class Root:
    """One workspace folder: its name as shown to the model and its real location."""

    model_path: str
    """`/workspace` or `/workspace/<name>`."""
    path: Path
    """Absolute, lexically normalised real path (symlinks not resolved: it is the editor's view)."""
    resolved: Path
    """`path` with symlinks resolved, used for containment checks."""


def _norm(path: Path | str) -> Path:
    """Absolute and lexically normalised (no `..`), without resolving symlinks.

    Editors identify documents by the path they opened, so the overlay keys on this form; only
    the containment check looks through symlinks.
    """
    return Path(os.path.normpath(os.path.abspath(os.fspath(path))))


def _unique_names(names: Sequence[str]) -> list[str]:
    """Folder names safe as one path segment, made unique with `-2`, `-3`… suffixes."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in names:
        base = raw.replace("/", "_").replace("\\", "_").strip() or "folder"
        if base in {".", ".."}:
            base = "folder"
        name, n = base, 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        out.append(name)
    return out


def _is_within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


class WorkspacePaths:
    """Bidirectional mapping real path <-> model path, plus the safety checks.

    `roots` are `(name, path)` pairs, typically the LSP workspace folders' names and paths.
    """

    def __init__(self, roots: Sequence[tuple[str, Path]]) -> None:
        if not roots:
            raise ValueError("at least one workspace root is required")
        if len(roots) == 1:
            model_paths = [WORKSPACE]
        else:
            model_paths = [f"{WORKSPACE}/{n}" for n in _unique_names([n for n, _ in roots])]
        self.roots: list[Root] = [
            Root(model_path=mp, path=_norm(p), resolved=Path(os.path.realpath(p)))
            for mp, (_, p) in zip(model_paths, roots, strict=True)
        ]
        # Longest real path first so nested roots map to the most specific one.
        self._by_real = sorted(self.roots, key=lambda r: len(r.path.parts), reverse=True)
        self._by_resolved = sorted(self.roots, key=lambda r: len(r.resolved.parts), reverse=True)

    @property
    def multi_root(self) -> bool:
        return len(self.roots) > 1

    def to_model(self, path: Path | str) -> str:
        """The `/workspace/…` form of a real path; raises `PathRefused` outside every root."""
        p = _norm(path)
        for root in self._by_real:
            if _is_within(p, root.path):
                rel = p.relative_to(root.path).as_posix()
                return root.model_path if rel == "." else f"{root.model_path}/{rel}"
        raise PathRefused(f"The path {p} is outside the workspace.")

    def resolve(self, model_path: str) -> Path:
        """The real path for a path sent by the model, or `PathRefused` with a message for it.

        Accepted: `/workspace/…` (normalised first, so `/workspace/../etc` is refused), a path
        relative to `/workspace`, or a real absolute path inside a root (models sometimes echo
        paths from error messages). The result keeps the lexical form; its symlink-resolved
        target must still lie inside one of the roots.
        """
        raw = (model_path or "").strip()
        if not raw:
            raise PathRefused(
                "The `path` parameter is empty; use an absolute path under /workspace."
            )
        if "\x00" in raw:
            raise PathRefused(f"The path {raw!r} contains a NUL character.")
        raw = raw.replace("\\", "/")
        joined = raw if raw.startswith("/") else f"{WORKSPACE}/{raw}"
        norm = posixpath.normpath(joined)
        if norm.startswith("//"):
            norm = "/" + norm.lstrip("/")
        real = self._model_to_real(norm)
        if real is None:
            real = self._real_inside(norm)
        if real is None:
            raise PathRefused(
                f"The path {raw} is outside the workspace. Only paths under "
                f"{self._roots_hint()} can be viewed or edited."
            )
        self._check_forbidden(real, raw)
        return real

    def is_virtual_root(self, model_path: str) -> bool:
        """True for `/workspace` itself when it only groups several folders (no real directory).

        Directory views and searches then cover every root; edits there are impossible.
        """
        if not self.multi_root:
            return False
        raw = (model_path or "").strip().replace("\\", "/")
        return posixpath.normpath(raw if raw.startswith("/") else f"{WORKSPACE}/{raw}") == WORKSPACE

    def _roots_hint(self) -> str:
        if not self.multi_root:
            return WORKSPACE
        return ", ".join(r.model_path for r in self.roots)

    def _model_to_real(self, norm: str) -> Path | None:
        if not self.multi_root:
            root = self.roots[0]
            if norm == WORKSPACE:
                return root.path
            if norm.startswith(WORKSPACE + "/"):
                return _norm(root.path / norm[len(WORKSPACE) + 1 :])
            return None
        for root in self.roots:
            if norm == root.model_path:
                return root.path
            if norm.startswith(root.model_path + "/"):
                return _norm(root.path / norm[len(root.model_path) + 1 :])
        if norm == WORKSPACE or norm.startswith(WORKSPACE + "/"):
            raise PathRefused(
                f"The path {norm} is not inside a workspace folder. The workspace folders are: "
                f"{self._roots_hint()}."
            )
        return None

    def _real_inside(self, norm: str) -> Path | None:
        p = _norm(norm)
        return p if self.root_of(p) is not None else None

    def root_of(self, real: Path) -> Root | None:
        """The most specific root containing `real` (lexically), if any."""
        p = _norm(real)
        for root in self._by_real:
            if _is_within(p, root.path):
                return root
        return None

    def _check_forbidden(self, real: Path, raw: str) -> None:
        """Refuse VCS metadata and links out of the workspace, deciding on the resolved target.

        Symlinks are resolved once, here (`os.path.realpath` resolves as far as the path
        exists, so a new file below a linked directory is judged by that directory's target):
        a link to `.git/hooks` is `.git/hooks`, a link out of the workspace is outside.
        """
        root = self.root_of(real)
        if root is None:  # pragma: no cover - resolve() only calls with contained paths
            raise PathRefused(f"The path {raw} is outside the workspace.")
        target = Path(os.path.realpath(real))
        target_root = next((r for r in self._by_resolved if _is_within(target, r.resolved)),
                           None)
        if target_root is None:
            raise PathRefused(
                f"The path {raw} is a symbolic link (or lies below one) that points outside the "
                "workspace; it cannot be viewed or edited."
            )
        parts = (*real.relative_to(root.path).parts,
                 *target.relative_to(target_root.resolved).parts)
        if any(part in _FORBIDDEN_DIR_NAMES for part in parts):
            raise PathRefused(
                f"The path {raw} is inside version-control metadata, which cannot be viewed or "
                "edited."
            )
