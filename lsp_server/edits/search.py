"""The agent's `search` tool: `grep -rn` over the overlay that cannot hang the server.

The model chooses the pattern and the workspace chooses the files, and both are untrusted: a
catastrophic regular expression or a huge tree must not freeze the event loop. So patterns run on
the `regex` engine with a timeout and released GIL, under one deadline for the whole search, and
results are capped in count and line length. Its own module because these guards are the point
of it and deserve to be read (and tested) apart from the editor commands.
"""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Any

from .overlay import Overlay
from .paths import WORKSPACE
from .tool_output import ToolOutcome, error
from .tool_specs import as_bool

MAX_SEARCH_MATCHES = 100
MAX_SEARCH_LINE_CHARS = 200
SEARCH_TIME_BUDGET_S = 5.0
MAX_PATTERN_CHARS = 1_000


def search(overlay: Overlay, args: dict[str, Any], deadline: float | None = None) -> ToolOutcome:
    """`grep -rn` over the overlay, bounded in time whatever the pattern or the tree.

    Patterns run on the `regex` engine with a timeout (Python's `re` has none, and holds
    the GIL: `(a+)+$` on a line of 40 `a`s would freeze the whole server for minutes),
    against one deadline for the whole search: `SEARCH_TIME_BUDGET_S` or the agent's
    wall-clock limit (`deadline`, a `time.monotonic()` value), whichever comes first. The walk
    is bounded too (`iter_files`).
    """
    import regex

    pattern = args.get("pattern")
    if not isinstance(pattern, str) or pattern == "":
        return error("Parameter `pattern` is required for the search tool.")
    if len(pattern) > MAX_PATTERN_CHARS:
        return error(f"The pattern is too long ({len(pattern)} characters; the limit is "
                     f"{MAX_PATTERN_CHARS}).")
    flags = regex.IGNORECASE if as_bool(args.get("ignore_case", False)) else 0
    try:
        rx = regex.compile(
            pattern if as_bool(args.get("regex", False)) else regex.escape(pattern), flags
        )
    except (regex.error, OverflowError, RecursionError) as exc:
        return error(f"Invalid regular expression `{pattern}`: {exc}.")
    raw_path = str(args.get("path") or WORKSPACE)
    targets: list[Path]
    if overlay.paths.is_virtual_root(raw_path):
        targets = [r.path for r in overlay.paths.roots]
        shown = WORKSPACE
    else:
        real = overlay.resolve(raw_path)
        shown = overlay.display(real)
        if not overlay.is_file(real) and not overlay.is_dir(real):
            return error(f"The path {shown} does not exist. Please provide a valid path.")
        targets = [real]
    include = args.get("include")
    include = str(include) if include else None
    budget = time.monotonic() + SEARCH_TIME_BUDGET_S
    deadline = budget if deadline is None else min(budget, deadline)

    def found(text: str) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        # concurrent=True releases the GIL while matching: the event loop keeps running.
        return rx.search(text, timeout=left, concurrent=True) is not None

    matches: list[str] = []
    more = False
    timed_out = False
    try:
        for p in (p for t in targets for p in overlay.iter_files(t)):
            if include and not (
                fnmatch.fnmatch(p.name, include)
                or fnmatch.fnmatch(overlay.display(p), include)
            ):
                continue
            if time.monotonic() > deadline:
                raise TimeoutError
            text = overlay.peek(p)
            if not text or not found(text):
                continue
            display = overlay.display(p)
            for lineno, line in enumerate(text.split("\n"), 1):
                if found(line[:2000]):
                    if len(matches) >= MAX_SEARCH_MATCHES:
                        more = True
                        break
                    if len(line) > MAX_SEARCH_LINE_CHARS:
                        line = line[:MAX_SEARCH_LINE_CHARS] + "…"
                    matches.append(f"{display}:{lineno}:{line}")
            if more:
                break
    except TimeoutError:
        timed_out = True
    if not matches:
        suffix = " (the search stopped early: time limit)" if timed_out else ""
        return ToolOutcome(content=f"No matches found for `{pattern}` in {shown}{suffix}.")
    head = f"Found {len(matches)}{'+' if more else ''} matches for `{pattern}` in {shown}:\n"
    tail = ""
    if more:
        tail = (
            f"\n[Only the first {MAX_SEARCH_MATCHES} matches are shown; narrow the search with "
            "`path` or `include`.]"
        )
    elif timed_out:
        tail = "\n[The search stopped early (time limit); narrow it with `path` or `include`.]"
    return ToolOutcome(content=head + "\n".join(matches) + tail)
