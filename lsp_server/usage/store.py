"""The per-user usage file: daily totals shared by every devstral-lsp process of the user.

`$XDG_STATE_HOME/devstral-lsp/usage.json` (default `~/.local/state/...`). What it tells
(which days, how many tokens and dollars) is private, and the directory may be on a shared
machine, so: the directory is created 0700 and must belong to the user, the file is 0600 and
must belong to the user, it is opened with O_NOFOLLOW (a planted symlink cannot redirect a
read or a write), and every write is a fresh temporary file renamed over the old one (atomic:
a crash or a concurrent reader never sees half a file). Writers add their own pending totals
to what is on disk under an exclusive `flock`, so two editors open at once both count.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .meter import Totals

log = logging.getLogger(__name__)

FILE_NAME = "usage.json"
KEEP_DAYS = 92
"""Days kept in the file (about a quarter: enough for a monthly look back)."""


class UnsafeStateDir(Exception):
    """The state directory or file is not private to this user; nothing is read or written."""


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "devstral-lsp"


def _check_owned(st: os.stat_result, what: Path) -> None:
    if st.st_uid != os.getuid():
        raise UnsafeStateDir(f"{what} belongs to another user")


def ensure_private_dir(path: Path) -> Path:
    """Create `path` 0700 (parents as needed); refuse a symlink, a non-directory or another
    owner's directory; tighten our own directory's mode if it is wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeStateDir(f"{path} is not a directory")
    _check_owned(st, path)
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return {}
    except OSError as exc:  # ELOOP: a symlink was planted
        raise UnsafeStateDir(f"{path} cannot be opened safely ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        _check_owned(st, path)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeStateDir(f"{path} is not a regular file")
        try:
            data = json.loads(fh.read(4_000_000) or b"{}")
        except ValueError:
            log.warning("%s is damaged; starting its totals again", path)
            return {}
    return data if isinstance(data, dict) else {}


class UsageStore:
    """Reads and updates the usage file in `directory` (created on first write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        ensure_private_dir(self.directory)
        fd = os.open(self.directory / ".lock",
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def day(self, day: str) -> Totals:
        """The stored totals of `day` (empty when the file or the day is missing)."""
        if not self.directory.exists():
            return Totals.empty()
        st = os.lstat(self.directory)
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeStateDir(f"{self.directory} is not a directory")
        _check_owned(st, self.directory)
        return Totals.from_wire(_read(self.path).get("days", {}).get(day))

    def days(self) -> dict[str, Totals]:
        if not self.directory.exists():
            return {}
        raw = _read(self.path).get("days", {})
        return {d: Totals.from_wire(t) for d, t in raw.items()} if isinstance(raw, dict) else {}

    def add(self, day: str, pending: Totals) -> Totals:
        """Add `pending` to `day` on disk (atomically, under the lock); return the new day."""
        with self._locked():
            data = _read(self.path)
            days = data.get("days")
            days = days if isinstance(days, dict) else {}
            total = Totals.from_wire(days.get(day))
            total.merge(pending)
            days[day] = total.to_wire()
            for old in sorted(days)[:-KEEP_DAYS]:
                del days[old]
            self._write({"version": 1, "days": days})
            return total

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".usage-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
