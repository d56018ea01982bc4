"""Which tree-sitter grammar reads a file, and the per-thread parsers for it.

Kept apart from extraction and the index because two callers need only this: the index (to
parse workspace files) and completion placement (to ask whether the cursor is in a string or a
comment). Grammars come from the per-language wheels, which work offline, and load lazily on
first use: importing them all costs time the `initialize` reply should not pay. A tree-sitter
`Parser` is not thread-safe, so each thread gets its own (the indexer runs on a worker thread
while requests parse on others).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
}
LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "go": "go",
    "rust": "rust",
}


def language_for(path: Path | str, language_id: str | None = None) -> str | None:
    """Grammar name for a file, from the LSP language id or the extension."""
    if language_id and language_id in LANGUAGE_IDS:
        lang = LANGUAGE_IDS[language_id]
        if lang == "typescript" and str(path).endswith(".tsx"):
            return "tsx"
        return lang
    return EXTENSIONS.get(os.path.splitext(str(path))[1].lower())


_grammar_lock = threading.Lock()
_languages: dict[str, Language] = {}
_local = threading.local()


def _language(name: str) -> Language:
    with _grammar_lock:
        lang = _languages.get(name)
        if lang is None:
            from tree_sitter import Language

            if name == "python":
                import tree_sitter_python as mod

                lang = Language(mod.language())
            elif name == "javascript":
                import tree_sitter_javascript as mod_js

                lang = Language(mod_js.language())
            elif name in ("typescript", "tsx"):
                import tree_sitter_typescript as mod_ts

                raw = mod_ts.language_tsx() if name == "tsx" else mod_ts.language_typescript()
                lang = Language(raw)
            elif name == "go":
                import tree_sitter_go as mod_go

                lang = Language(mod_go.language())
            elif name == "rust":
                import tree_sitter_rust as mod_rs

                lang = Language(mod_rs.language())
            else:
                raise KeyError(name)
            _languages[name] = lang
        return lang


def parser_for(name: str) -> Parser:
    """This thread's parser for grammar `name` (KeyError for a grammar we do not ship)."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = {}
        _local.parsers = parsers
    parser = parsers.get(name)
    if parser is None:
        from tree_sitter import Parser

        parser = Parser(_language(name))
        parsers[name] = parser
    return parser

