"""The path policy: what may be sent to the model, read or edited by the server, or used as context.

Three levels, from coarse to fine:

* `is_blocked` / `PrivacyGuard.blocked_reason`: a document matched by the built-in secret-file
  list (`secret_files`, case-insensitively) or by a `.devstralignore` (root or any sub-folder,
  gitignore syntax, `ignore_files`) gets no model request at all - its text must never be sent,
  not even redacted.
* `PrivacyGuard.reach_reason`: what the server may read or edit *on its own* (the edit agent,
  Generate tests): additionally nothing inside `.git`/`.hg`/`.svn` and nothing whose real
  location (symlinks resolved) lies outside every workspace root.
* `PrivacyGuard.excluded_reason`: additionally `.gitignore`d files (build output, vendored or
  generated files, local config) are never used as *cross-file* context, although the user may
  still complete inside such a file.

Every rule is decided on the path as named *and* on its resolved target, symlinks resolved once
here: a link is treated exactly like what it points to, so a link to `.env`, to `.git/config`,
to a `.devstralignore`d folder or out of the workspace cannot smuggle that file in. What is
sent from an allowed file still goes through `redaction`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..uris import innermost_root
from .ignore_files import GITIGNORE_FILE, IGNORE_FILE, IgnoreTree
from .secret_files import secret_file_reason

VCS_DIR_NAMES = frozenset({".git", ".hg", ".svn"})
"""Version-control metadata: never read, listed or edited by the server on its own (remote
URLs with credentials live in `.git/config`; a file in `.git/hooks` is executed by git)."""
OUTSIDE_LINK_REASON = "a symbolic link to outside the workspace"


def _under(path: Path, root: Path) -> tuple[str, ...] | None:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return None


class PrivacyGuard:
    """Answers "may this file be sent / read / used as context?" for a set of workspace roots.

    The one path policy of the server: every feature asks it before reading or sending a
    workspace file, and it decides on both the path as named and its symlink-resolved target.
    """

    def __init__(self, roots: Sequence[Path] = ()) -> None:
        self._roots: list[Path] = []
        self._real: list[tuple[Path, Path]] = []
        self._devstral: dict[Path, IgnoreTree] = {}
        self._git: dict[Path, IgnoreTree] = {}
        self._excluded: dict[Path, str | None] = {}
        """Memo of `excluded_reason`: the rules only change through `set_roots`/`invalidate`
        (the ignore files themselves are cached until `invalidate` too)."""
        self.set_roots(roots)

    def set_roots(self, roots: Sequence[Path]) -> None:
        resolved = sorted({Path(os.path.abspath(r)) for r in roots}, key=lambda p: -len(p.parts))
        self._roots = resolved
        reals = [(r, Path(os.path.realpath(r))) for r in resolved]
        self._real = sorted(reals, key=lambda rr: -len(rr[1].parts))
        self._devstral = {r: IgnoreTree(r, IGNORE_FILE) for r in resolved}
        self._git = {r: IgnoreTree(r, GITIGNORE_FILE) for r in resolved}
        self._excluded = {}

    @property
    def roots(self) -> list[Path]:
        return list(self._roots)

    def root_of(self, path: Path) -> Path | None:
        """The innermost workspace root containing `path`."""
        return innermost_root(path, self._roots)

    def _locate(self, path: Path, *, real: bool) -> tuple[Path, tuple[str, ...]] | None:
        """(root, parts below it): lexically for a path as named, against the roots' real
        locations for a resolved one (the ignore files are the same files either way)."""
        if not real:
            for root in self._roots:
                parts = _under(path, root)
                if parts is not None:
                    return root, parts
            return None
        for root, real_root in self._real:
            parts = _under(path, real_root)
            if parts is not None:
                return root, parts
        return None

    def _forms(self, path: Path) -> list[tuple[Path, tuple[Path, tuple[str, ...]] | None]]:
        """The path as named and its resolved target (once), each with its root, if any."""
        lexical = Path(os.path.abspath(path))
        try:
            target = Path(os.path.realpath(lexical))
        except (OSError, ValueError):  # a symlink loop on some platforms
            target = lexical
        forms = [(lexical, self._locate(lexical, real=False))]
        if target != lexical:
            forms.append((target, self._locate(target, real=True)))
        return forms

    def invalidate(self, changed: Path | None = None) -> None:
        """Drop cached ignore files (call when a `.gitignore`/`.devstralignore` changes)."""
        if changed is not None and changed.name not in (IGNORE_FILE, GITIGNORE_FILE):
            return
        for tree in (*self._devstral.values(), *self._git.values()):
            tree.invalidate()
        self._excluded = {}

    def _reason(self, path: Path, level: int) -> str | None:
        """0: may be sent when open; 1: may be read/edited by the server; 2: may be context."""
        forms = self._forms(path)
        for p, _ in forms:
            reason = secret_file_reason(p)
            if reason:
                return reason
        if level >= 1 and forms[0][1] is not None and len(forms) > 1 and forms[1][1] is None:
            return OUTSIDE_LINK_REASON
        for _p, located in forms:
            if located is None:
                continue
            root, parts = located
            if not parts:
                continue
            if level >= 1 and any(part in VCS_DIR_NAMES for part in parts):
                return "version-control metadata"
            if self._devstral[root].matches(parts):
                return f"ignored by {IGNORE_FILE}"
            if level >= 2 and self._git[root].matches(parts):
                return f"ignored by {GITIGNORE_FILE}"
        return None

    def blocked_reason(self, path: Path) -> str | None:
        """Why no model request may be made for `path` (None: allowed)."""
        return self._reason(path, 0)

    def reach_reason(self, path: Path) -> str | None:
        """Why the server may not read or edit `path` on its own (edit agent, Generate tests).

        `blocked_reason`, plus version-control metadata and links whose target leaves every
        workspace root.
        """
        return self._reason(path, 1)

    def dir_excluded(self, path: Path) -> bool:
        """Whether a whole directory is `.gitignore`d or `.devstralignore`d (for pruning)."""
        located = self._locate(Path(os.path.abspath(path)), real=False)
        if located is None or not located[1]:
            return False
        root, parts = located
        if any(part in VCS_DIR_NAMES for part in parts):
            return True
        return self._devstral[root].matches(parts, True) or self._git[root].matches(parts, True)

    def excluded_reason(self, path: Path) -> str | None:
        """Why `path` may not be used as cross-file context (None: allowed)."""
        memo = self._excluded
        if path in memo:
            return memo[path]
        reason = self._reason(path, 2)
        if len(memo) >= 4096:
            memo.clear()
        memo[path] = reason
        return reason


def is_blocked(path: Path, roots: Sequence[Path] = ()) -> str | None:
    """One-off form of `PrivacyGuard(roots).blocked_reason(path)`."""
    return PrivacyGuard(roots).blocked_reason(path)
