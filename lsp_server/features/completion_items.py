"""The items a client gets for a suggestion: inline items, and completion items per client.

Inline items replace the cursor line up to the cursor with that text plus the suggestion
(what Copilot does), so a client that re-filters as the user types keeps showing it.

Completion items are shaped per client, because clients insert them very differently
(tests/data/client-capabilities, design notes; `ItemStyle.of` reads what decides it from the
client's capabilities):
- A `textEdit` over the typed word, so clients that filter by that word still show the item.
- A line break only for clients that can insert one: snippet format (Neovim 0.11, VS Code,
  nvim-cmp, blink.cmp) or insertReplaceSupport. Neovim 0.7–0.9's omnifunc inserts plain text as
  Vim's completed word, where a line break becomes a NUL byte in the file; those clients get the
  first line only, and the next request (typed-through cache, no model call) offers the rest.
- Label = the first line that has code, so the menu says what is inserted, one item per label.
  Neovim 0.11's omnifunc inserts the label of a snippet item; a suggestion that starts with a
  line break therefore carries `insertText` = the typed word, which that omnifunc inserts
  (nothing is corrupted) while snippet-expanding clients insert the `textEdit`.
- Snippet clients indent inserted lines by the cursor line's indentation (insertTextMode
  adjustIndentation, which vim.snippet always does): lines after the first are sent relative.
- Documentation in markdown fences only for clients that prefer markdown.

Pure functions of the document, the suggestion and the client's capabilities, so each captured
client is unit tested in-process (tests/unit/test_completion_items.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

from ..completion.pipeline import Suggestion
from ..documents import Document
from ..positions import PositionEncoding

WORD = re.compile(r"[\w$]+$")
"""The word being typed before the cursor, which items replace (and clients filter by)."""


@dataclass(frozen=True)
class ItemStyle:
    """What a client's completion items must look like, read from its capabilities."""

    snippets: bool
    """`snippetSupport`: items in snippet format (escaped), lines sent relative to the cursor's
    indentation."""
    line_breaks: bool
    """The client inserts an item's line break as a line break (see the module docstring)."""
    markdown: bool
    """Documentation as a markdown fence rather than plain text."""

    @classmethod
    def of(cls, caps: types.ClientCapabilities | None) -> ItemStyle:
        td = caps.text_document if caps is not None else None
        item = td.completion.completion_item if td and td.completion else None
        if item is None:
            return cls(snippets=False, line_breaks=False, markdown=False)
        formats = item.documentation_format
        return cls(
            snippets=bool(item.snippet_support),
            line_breaks=bool(item.snippet_support or item.insert_replace_support),
            # Markdown only for clients that list it first (the spec's order of preference).
            markdown=formats is not None and len(formats) > 0
            and formats[0] == types.MarkupKind.Markdown,
        )


def line_before(doc: Document, offset: int) -> str:
    """The cursor line up to the cursor (at most 4,000 characters of it)."""
    return doc.text_range(offset - 4000, offset).rsplit("\n", 1)[-1]


def word_start(doc: Document, offset: int, encoding: PositionEncoding) -> types.Position:
    """Where the word typed before the cursor starts: completion items replace from there."""
    word = WORD.search(line_before(doc, offset))
    line, char = doc.position_at(offset - (len(word.group(0)) if word else 0), encoding)
    return types.Position(line=line, character=char)


def snippet_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def _with_eol(doc: Document, text: str) -> str:
    eol = doc.line_ending()
    return text.replace("\n", eol) if eol != "\n" else text


def inline_items(doc: Document, offset: int, pos: types.Position, suggestion: Suggestion,
                 encoding_line_start: types.Position) -> list[types.InlineCompletionItem]:
    before = line_before(doc, offset)
    rng = types.Range(start=encoding_line_start, end=pos)
    texts = [suggestion.text, *suggestion.alternatives]
    return [types.InlineCompletionItem(insert_text=before + _with_eol(doc, t), range=rng)
            for t in texts]


def completion_items(
    doc: Document, offset: int, pos: types.Position, word_start: types.Position,
    suggestion: Suggestion, style: ItemStyle,
) -> list[types.CompletionItem]:
    """Completion items for a suggestion; see the module docstring for why they look so."""
    snippets = style.snippets
    word = WORD.search(line_before(doc, offset))
    typed = word.group(0) if word else ""
    items: list[types.CompletionItem] = []
    labels: set[str] = set()
    for text in [suggestion.text, *suggestion.alternatives]:
        full = typed + text
        first_line = full.split("\n", 1)[0]
        starts_below = not first_line[len(typed):].strip()
        if not style.line_breaks:
            if starts_below:
                continue  # nothing this client can insert on this line
            full = first_line
        label = next((ln.strip() for ln in full.split("\n") if ln.strip()), "")
        if not label or not full[len(typed):].strip() or label in labels:
            continue
        labels.add(label)
        rng = types.Range(start=word_start, end=pos)
        if snippets:
            # Snippet clients (vim.snippet, VS Code, LuaSnip) indent every inserted line after
            # the first by the cursor line's indentation: send those lines relative to it.
            eol_text = _with_eol(doc, _relative_indent(full, line_before(doc, offset)))
            new_text = snippet_escape(eol_text)
        else:
            new_text = _with_eol(doc, full)
        items.append(types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet if snippets else types.CompletionItemKind.Text,
            detail="Devstral" if full == typed + text else "Devstral (first line; more follows)",
            documentation=(
                types.MarkupContent(kind=types.MarkupKind.Markdown,
                                    value=f"```{doc.language_id}\n{typed + text}\n```")
                if style.markdown else typed + text
            ),
            filter_text=first_line if first_line.strip() else typed,
            insert_text=(typed if snippets and starts_below else None),
            sort_text=f"0000{len(items)}",
            preselect=not items,
            insert_text_format=(types.InsertTextFormat.Snippet if snippets
                                else types.InsertTextFormat.PlainText),
            insert_text_mode=(types.InsertTextMode.AdjustIndentation if snippets and "\n" in full
                              else None),
            text_edit=types.TextEdit(range=rng, new_text=new_text),
        ))
    return items


def _relative_indent(text: str, before: str) -> str:
    """Lines after the first without the cursor line's indentation (the client adds it back);
    a line indented less than the cursor line is left as it is."""
    base = before[: len(before) - len(before.lstrip(" \t"))]
    if not base or "\n" not in text:
        return text
    head, *rest = text.split("\n")
    return "\n".join([head, *(ln[len(base):] if ln.startswith(base) else ln for ln in rest)])
