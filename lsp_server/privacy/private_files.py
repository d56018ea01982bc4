"""Files the server writes for the user alone (explanations shown as documents).

Never in a shared temp folder: there another local account can predict the name, plant a
symlink (and have the user's file overwritten) or read what was written. The folder is the
user's cache (`$XDG_CACHE_HOME`, default `~/.cache`), else `$XDG_RUNTIME_DIR` (per-user by
definition); every folder created is 0700 and is checked to be a real directory owned by the
user and not writable by others, and files are created exclusively (`O_EXCL`) without following
links (`O_NOFOLLOW`) with mode 0600, under a random name.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

APP_DIR = "devstral-lsp"
KEEP_FILES = 50
"""Older files in a private folder are removed beyond this many (explanations pile up)."""


class NotPrivate(OSError):
    """No folder that only the user can write was available; the caller shows text instead."""


def _base_dirs(environ: Mapping[str, str]) -> list[Path]:
    out: list[Path] = []
    cache = environ.get("XDG_CACHE_HOME")
    if cache and os.path.isabs(cache):
        out.append(Path(cache))
    home = environ.get("HOME") or os.path.expanduser("~")
    if home and os.path.isabs(home):
        out.append(Path(home) / ".cache")
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        out.append(Path(runtime))
    return out


def _check_private(path: Path) -> None:
    """A real directory (not a link), owned by this user, not writable by group or others."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotPrivate(f"{path} is not a directory")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise NotPrivate(f"{path} is owned by another user")
    if st.st_mode & 0o022:
        raise NotPrivate(f"{path} is writable by other users")


def _ensure(path: Path) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    _check_private(path)


def private_dir(*parts: str, environ: Mapping[str, str] | None = None) -> Path:
    """`<base>/devstral-lsp/<parts…>`, created 0700 and checked; `NotPrivate` if impossible."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    for base in _base_dirs(env):
        try:
            if not base.is_dir():
                os.makedirs(base, 0o700, exist_ok=True)
            folder = base / APP_DIR
            _ensure(folder)
            for part in parts:
                folder = folder / part
                _ensure(folder)
            return folder
        except OSError as exc:
            problems.append(str(exc))
    raise NotPrivate("no private folder: " + ("; ".join(problems) or "no home or cache folder"))


def write_private(folder: Path, stem: str, suffix: str, text: str) -> Path:
    """Create a new file `stem-<random><suffix>` in a `private_dir` folder; never overwrites."""
    _check_private(folder)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)[:80] or "file"
    path = folder / f"{safe}-{secrets.token_hex(4)}{suffix}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(
        os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    try:
        entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
        if len(entries) <= KEEP_FILES:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime)
        for e in entries[: len(entries) - KEEP_FILES]:
            os.unlink(e.path)
    except OSError:
        pass
