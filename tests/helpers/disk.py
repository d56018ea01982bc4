"""Disk helpers for tests that must prove nothing was written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file on disk, to prove the tools never write."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
