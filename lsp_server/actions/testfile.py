"""Where "Generate tests" puts the tests for a source file.

Follows each ecosystem's most common convention so the generated file is picked up by its test
runner without configuration: pytest's `tests/test_<module>.py` (next to the module when the
project has no `tests/` folder), Go's `<name>_test.go`, Jest/Vitest's `<name>.test.<ext>`, RSpec's
`spec/<name>_spec.rb`. Rust keeps unit tests in the file itself (a `#[cfg(test)]` module), so
the "test file" is the source file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..uris import innermost_root

_JS = {".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs"}


def matching_test_path(path: Path, roots: Sequence[Path] = ()) -> Path | None:
    """The matching test file for `path`, or None when the language has no convention here."""
    suffix = path.suffix.lower()
    stem = path.stem
    root = innermost_root(path, roots)
    if suffix == ".py":
        if stem.startswith("test_") or stem.endswith("_test"):
            return None
        if root is not None and (root / "tests").is_dir():
            return root / "tests" / f"test_{stem}.py"
        return path.with_name(f"test_{stem}.py")
    if suffix == ".go":
        return None if stem.endswith("_test") else path.with_name(f"{stem}_test.go")
    if suffix in _JS:
        if stem.endswith((".test", ".spec")):
            return None
        return path.with_name(f"{stem}.test{path.suffix}")
    if suffix == ".rb":
        if stem.endswith("_spec"):
            return None
        base = root if root is not None else path.parent
        return base / "spec" / f"{stem}_spec.rb"
    if suffix == ".rs":
        return path
    return None
