"""Process-wide memory the server does not need to keep (issue 16: peak RSS ≤ 0.8 × tabby-agent).

attrs compiles the methods of every attrs class (`__init__`, `__eq__`, `__repr__`, ...) from
generated source and keeps that source in `linecache`, so that debuggers can step through it
and tracebacks can quote it. lsprotocol defines ~1,000 attrs classes: the copies are ~1.6 MB
of strings (577 entries) that nothing in a running server reads. `drop_generated_sources`
removes them once the protocol types are loaded; a traceback through such a method still names
its file (`<attrs generated init lsprotocol.types.Position>`) and line, without the line's
text. Measured on the side-by-side trace: peak RSS −1.7 MB (`bench/RESULTS.md`, issue 16).
"""

from __future__ import annotations

import linecache

GENERATED_PREFIX = "<attrs generated"


def drop_generated_sources() -> int:
    """Forget attrs' generated-source copies in `linecache`; returns how many were dropped."""
    names = [name for name in list(linecache.cache) if name.startswith(GENERATED_PREFIX)]
    for name in names:
        linecache.cache.pop(name, None)
    return len(names)
