"""The `openai` SDK, imported with only the modules this server uses.

`import openai` runs `openai/types/__init__.py`, which imports every type of the whole API
(~520 modules: responses, realtime, evals, graders, ... each a pydantic model built at import),
while the server uses a handful (chat completion chunks and messages, completions, models,
errors). Those package `__init__` files do nothing but re-export names from their own
submodules, so `load_openai` imports the SDK with such packages made lazy (PEP 562): the
package module is created empty, with a module `__getattr__` that imports the one submodule a
name comes from the first time the name is read. Submodules, classes and behaviour are the
SDK's own; only what is never used is never loaded. Measured on the side-by-side trace
(`bench/RESULTS.md`, issue 16): ~390 instead of ~800 modules after the first completion,
about 9 MB less peak RSS and half the import time.

A package whose `__init__` does anything else (assignments, conditionals, star imports) is
loaded as it is. The finder stays installed once added: it only ever answers for packages
under `openai.types` and for `openai.lib`, later imports of which happen on first use.

`httpcore2` (under `httpx2`) imports `trio` when it is installed, only to support trio event
loops (~0.5 s and ~3.4 MB); this server runs on asyncio, so while the SDK and its transport
are imported, `trio` is hidden as if it were not installed (httpcore2 supports that case and
then offers asyncio only). Afterwards `trio` imports normally again for anyone else.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

LAZY_ROOTS = ("openai.types", "openai.lib")
"""Packages (and, for `openai.types`, their subpackages) that may be made lazy."""

HIDDEN_WHILE_LOADING = ("trio",)
"""Optional modules the SDK's transport imports only for event loops this server never runs."""

_lock = threading.Lock()
_installed = False


def reexports(source: str) -> dict[str, tuple[str, str | None]] | None:
    """`name -> (submodule, attribute or None for the submodule itself)` when `source` (a
    package `__init__`) only re-exports from its own submodules; None when it does anything
    else and must be executed as it is."""
    out: dict[str, tuple[str, str | None]] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__" and node.level == 0:
            continue
        if not (isinstance(node, ast.ImportFrom) and node.level == 1):
            return None
        for alias in node.names:
            if alias.name == "*":
                return None
            if node.module is None:  # `from . import sub as sub`
                out[alias.asname or alias.name] = (alias.name, None)
            else:
                out[alias.asname or alias.name] = (node.module, alias.name)
    return out


def _lazy_candidate(fullname: str) -> bool:
    return fullname == "openai.lib" or fullname == "openai.types" or \
        fullname.startswith("openai.types.")


class _LazyPackageLoader(importlib.abc.Loader):
    """Creates the package without running its `__init__`; names resolve on first read."""

    def __init__(self, exports: dict[str, tuple[str, str | None]]) -> None:
        self.exports = exports

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        exports = self.exports
        package = module.__name__

        def __getattr__(name: str) -> Any:
            try:
                sub, attr = exports[name]
            except KeyError:
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
            submodule = importlib.import_module(f"{package}.{sub}")
            value = submodule if attr is None else getattr(submodule, attr)
            setattr(module, name, value)
            return value

        def __dir__() -> list[str]:
            return sorted(set(module.__dict__) | set(exports))

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__dir__ = __dir__  # type: ignore[method-assign]


class LazyReexportFinder(importlib.abc.MetaPathFinder):
    """Finds the SDK's re-export-only packages through the other finders and swaps their
    loader for `_LazyPackageLoader`; answers None (the normal import) for everything else."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not _lazy_candidate(fullname):
            return None
        spec: importlib.machinery.ModuleSpec | None = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or isinstance(finder, LazyReexportFinder) or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.submodule_search_locations is None:
            return spec
        get_source = getattr(spec.loader, "get_source", None)
        try:
            source = get_source(fullname) if get_source is not None else None
        except (ImportError, OSError):
            source = None
        exports = reexports(source) if source is not None else None
        if exports is not None:
            spec.loader = _LazyPackageLoader(exports)
        return spec


def install() -> None:
    """Add the finder once (before the SDK is first imported, for it to take effect)."""
    global _installed
    with _lock:
        if not _installed and not any(isinstance(f, LazyReexportFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, LazyReexportFinder())
        _installed = True


def load_openai() -> ModuleType:
    """The `openai` module (imported once, lazily as above), with its HTTP transport.
    Thread-safe: the warm-up imports it on a worker thread while requests may ask for it."""
    install()
    with _lock:
        if "openai" in sys.modules:  # imported (or being imported by a plain `import`)
            return importlib.import_module("openai")
        hidden = [name for name in HIDDEN_WHILE_LOADING if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # "not installed"
        try:
            module = importlib.import_module("openai")
            try:  # the transport `AsyncOpenAI()` builds (imported on its first construction)
                importlib.import_module("httpcore2")
            except ImportError:
                pass
        finally:
            for name in hidden:
                if sys.modules.get(name, False) is None:
                    del sys.modules[name]
    return module
