"""Bounded, regular-files-only access to a workspace the attacker may have shaped.

Everything inside a workspace is untrusted: a `dev.py` may be a link to `/dev/stdin` (opening it
reads the server's own protocol pipe), to `/dev/zero` (an endless read), a FIFO (opening it blocks
until someone writes), and a folder chain may be hundreds of levels deep. So the server reads
workspace files only through `read_regular` and walks workspace trees only through `walk_files`:

* `read_regular` never opens anything but a regular file (checked before opening, and again on
  the open descriptor, which is opened non-blocking so even a FIFO swapped in between cannot hang
  it), and never reads more than the caller's byte limit.
* `walk_files` never follows directory links, stops at `MAX_WALK_DEPTH` levels and after
  `max_files` files, and checks a cancel flag between directories.

Which paths may be read at all (symlinks out of the workspace, `.git`, secret and ignored files)
is decided by `privacy.policy.PrivacyGuard` on the resolved path; this module only makes the
read itself safe.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_WALK_DEPTH = 32
"""Folder levels below a root that walks enter. Real source trees stay well under 20 (Java's
`src/main/java/com/org/product/...` is ~12); a 300-level chain is an attack on the walker."""

MAX_WALK_FILES = 20_000
"""Default cap on files one walk yields."""

MAX_WALK_DIRS = 20_000
"""Directories one walk enters (a tree of empty folders yields no files but costs time)."""

MAX_SMALL_FILE_BYTES = 256_000
"""Limit for ignore files and project settings: real ones are a few KB."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(
    os, "O_CLOEXEC", 0
)


class UnreadableFile(OSError):
    """Not a regular file, or larger than allowed; `reason` is a short phrase for messages."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def is_regular_file(path: Path | str) -> bool:
    """True for a regular file (following links), without opening anything."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_regular(path: Path | str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; `UnreadableFile` otherwise.

    Links are followed (the caller's policy already decided on the resolved path). Other
    `OSError`s (missing, permission) propagate unchanged.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(path, _kind(st.st_mode))
    if st.st_size > max_bytes:
        raise UnreadableFile(path, f"too large ({st.st_size} bytes; the limit is {max_bytes})")
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)  # the file may have been swapped since the first check
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(path, _kind(st.st_mode))
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while we read
                raise UnreadableFile(path, f"too large (over {max_bytes} bytes)")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_small_text(path: Path | str, max_bytes: int = MAX_SMALL_FILE_BYTES) -> str | None:
    """A small text file (ignore file, settings) as text; None when absent or unreadable.

    Never raises: a FIFO, a device or a huge file in its place reads as "no such file", which
    is also how the caller must treat it.
    """
    try:
        return read_regular(path, max_bytes).decode("utf-8", errors="replace")
    except OSError:
        return None


def walk_files(
    root: Path,
    *,
    prune: Callable[[Path, str], bool] | None = None,
    keep_file: Callable[[Path, str], bool] | None = None,
    max_depth: int = MAX_WALK_DEPTH,
    max_files: int = MAX_WALK_FILES,
    max_dirs: int = MAX_WALK_DIRS,
    cancel: threading.Event | None = None,
) -> Iterator[Path]:
    """Files below `root` in sorted, depth-first order, bounded in depth, files and folders.

    `prune(dir_path, name)` returns True to skip a sub-directory; `keep_file(path, name)`
    filters files (both called before anything below is touched). Directory links are never
    entered (their targets are either elsewhere in the tree or outside it); file links are
    yielded, for the caller's policy to judge by their target.
    """
    files = 0
    dirs = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        if cancel is not None and cancel.is_set():
            return
        directory, depth = stack.pop()
        dirs += 1
        if dirs > max_dirs:
            return
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[Path] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            path = directory / entry.name
            if not is_dir and entry.is_symlink() and os.path.isdir(path):
                continue  # a directory link: never entered, never yielded
            if is_dir:
                if depth + 1 <= max_depth and not (prune and prune(path, entry.name)):
                    subdirs.append(path)
                continue
            if keep_file is not None and not keep_file(path, entry.name):
                continue
            yield path
            files += 1
            if files >= max_files:
                return
        stack.extend((d, depth + 1) for d in reversed(subdirs))
