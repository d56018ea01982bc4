"""`file:` URIs to paths: the one conversion every package uses.

pygls' `uris.to_fs_path` does the decoding (percent escapes, Windows drive letters); here the
result is made absolute and normalised (`..` resolved lexically, no symlinks followed), so the
privacy rules, the workspace roots and the edit overlay compare the same paths, and memoised:
it runs for every document event and every completion request.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path

from pygls import uris


@functools.lru_cache(maxsize=2048)
def uri_to_path(uri: str) -> Path | None:
    """Local path of a `file:` URI (absolute, normalised); None for `untitled:` and any other
    scheme, which have no file on disk."""
    if not uri.startswith("file:"):
        return None
    path = uris.to_fs_path(uri)
    if not path:
        return None
    return Path(os.path.abspath(path))


def innermost_root(path: Path, roots: Iterable[Path]) -> Path | None:
    """The innermost of `roots` that contains `path` (or is it), compared lexically.

    One answer for every feature that maps a file to its workspace folder (the privacy
    rules, the test-file convention), so nested folders resolve the same way everywhere.
    """
    best: Path | None = None
    for root in roots:
        if (path == root or root in path.parents) and (
                best is None or len(root.parts) > len(best.parts)):
            best = root
    return best
