"""From "new text for the range" to the versioned, minimal edit the editor applies.

The rules (issue 5): the rewrite replaces exactly the range — the range's trailing line breaks
are kept as they were (models add or drop a final newline at random), the first line is not
indented twice when the range starts after the line's indentation, other indentation stays as
the model wrote it — the file's line endings are kept, and the result is a diff of minimal
`TextEdit`s in a `TextDocumentEdit` carrying the document version the text was read at, so an
editor whose buffer moved on rejects it instead of applying it at shifted positions.
"""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from ..edit_builder import EditCapabilities, FileEdit, build_edit
from ..text import normalize_newlines
from ..textdiff import text_edits

_TRAILING_BREAKS = re.compile(r"(?:\r\n|\r|\n)*\Z")


def fit_to_range(original: str, new: str, *, line_prefix: str = "", newline: str = "\n") -> str:
    """Adapt the model's text (`\\n` endings) to replace `original` exactly.

    `line_prefix` is the text of the range's first line before the range start; `newline` the
    document's line ending.
    """
    new = normalize_newlines(new)
    first_orig = original.replace("\r\n", "\n").split("\n", 1)[0]
    if line_prefix and not line_prefix.strip() and not first_orig[:1].isspace():
        # The range starts after the indentation: the model re-indenting its first line would
        # double it.
        head, sep, rest = new.partition("\n")
        if head.startswith(line_prefix):
            head = head[len(line_prefix):]
        elif head.startswith((" ", "\t")) and head.strip():
            head = head.lstrip(" \t")
        new = head + sep + rest
    trailing = _TRAILING_BREAKS.search(original)
    tail = trailing.group(0) if trailing else ""
    body = new.rstrip("\n")
    if not body.strip():
        # Deleting the code (a fix removing an unused import) removes its lines entirely.
        return ""
    if newline != "\n":
        body = body.replace("\n", newline)
    return body + tail


def document_edit(
    doc_text: str,
    start: int,
    end: int,
    replacement: str,
    *,
    uri: str,
    version: int | None,
    encoding: str,
    document_changes: bool = True,
    annotation: lsp.ChangeAnnotation | None = None,
) -> lsp.WorkspaceEdit | None:
    """A `WorkspaceEdit` replacing `doc_text[start:end]` by `replacement`; None if unchanged.

    The whole document is diffed (leading and trailing equal lines are skipped cheaply), so the
    edits are minimal and never touch text outside what actually changed.
    """
    new_text = doc_text[:start] + replacement + doc_text[end:]
    if new_text == doc_text:
        return None
    caps = EditCapabilities(document_changes=document_changes, position_encoding=encoding)
    return build_edit([FileEdit(uri=uri, version=version,
                                edits=text_edits(doc_text, new_text, encoding))],
                      caps, annotation=annotation, annotation_id="devstral-action")


def append_text(existing: str, addition: str, newline: str = "\n") -> str:
    """`existing` with `addition` appended after one blank line, line endings kept."""
    addition = addition.replace("\r\n", "\n").strip("\n")
    if newline != "\n":
        addition = addition.replace("\n", newline)
    if not existing.strip():
        return addition + newline
    base = existing.rstrip("\r\n")
    return base + newline + newline + newline + addition + newline
