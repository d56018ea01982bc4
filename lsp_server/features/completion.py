"""textDocument/inlineCompletion and textDocument/completion over the shared pipeline.

Inline items replace the cursor line up to the cursor with that text plus the suggestion
(what Copilot does), so a client that re-filters as the user types keeps showing it.

Completion items are shaped per client, because clients insert them very differently
(tests/data/client-capabilities, design notes):
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
"""

from __future__ import annotations

import logging
import re

from lsprotocol import types

from ..completion.pipeline import Suggestion
from ..completion.placement import automatic_blocked
from ..config import CompletionItemsMode
from ..documents import Document
from ..server import DevstralServer

log = logging.getLogger(__name__)

_WORD = re.compile(r"[\w$]+$")
TRIGGER_CHARACTERS = [".", "(", "[", "{", ",", ":", "=", " "]
ASKS_FOR_ITEMS = "completionItems"
"""`capabilities.experimental.devstral.completionItems = true`: a client that shows inline
completions itself (the Neovim plugin's ghost text) and still wants completion-menu items."""


def completion_items_wanted(
    mode: CompletionItemsMode, *, client_has_inline: bool, client_asks: bool
) -> bool:
    """The one decision whether completion items are offered (advertised and answered).

    auto: to clients without inline completion (VS Code would show everything twice), and to
    clients that say they want both.
    """
    if mode == "never":
        return False
    return mode == "always" or not client_has_inline or client_asks


def client_asks_for_items(caps: types.ClientCapabilities | None) -> bool:
    experimental = caps.experimental if caps is not None else None
    ours = experimental.get("devstral") if isinstance(experimental, dict) else None
    return isinstance(ours, dict) and ours.get(ASKS_FOR_ITEMS) is True


def _offset(ls: DevstralServer, doc: Document, pos: types.Position) -> int:
    return doc.offset_at(pos.line, pos.character, ls.encoding)


def _line_before(doc: Document, offset: int) -> str:
    return doc.text_range(offset - 4000, offset).rsplit("\n", 1)[-1]


async def _suggest(ls: DevstralServer, uri: str, pos: types.Position, invoked: bool
                   ) -> tuple[Document, int, Suggestion] | None:
    """Every log line of one completion request carries its id (`c<n>`)."""
    from ..logging_setup import request_scope

    with request_scope("c"):
        return await _suggest_now(ls, uri, pos, invoked)


async def _suggest_now(ls: DevstralServer, uri: str, pos: types.Position, invoked: bool
                       ) -> tuple[Document, int, Suggestion] | None:
    await ls.wait_configured()
    doc = ls.documents.get(uri)
    if doc is None:
        log.info("completion for %s, which is not open: nothing to do", uri)
        return None
    if pos.line >= doc.line_count:
        log.info("completion at line %d of %s, which has %d lines: nothing to do",
                 pos.line, uri, doc.line_count)
        return None
    version = doc.version
    offset = _offset(ls, doc, pos)
    if invoked and doc.language_id.lower() in ls.settings.disabled_languages:
        return None
    if not invoked and (why := automatic_blocked(ls.settings, doc.text_range, offset,
                                                 doc.language_id, uri)):
        log.debug("no automatic suggestion: %s", why)
        return None
    suggestion = await ls.pipeline.complete(uri, doc.text_range, offset, invoked=invoked)
    if suggestion is None or not suggestion.text:
        return None
    if ls.documents.get(uri) is not doc or doc.version != version:
        # The text changed while the model answered and no newer request replaced this one:
        # positions computed for the old text would land elsewhere (or past the end).
        log.debug("suggestion for version %s dropped: the document is now at %s",
                  version, doc.version)
        return None
    log.debug("suggestion (%s): %r", suggestion.source, suggestion.text[:200])
    return doc, offset, suggestion


def snippet_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def _with_eol(doc: Document, text: str) -> str:
    eol = doc.line_ending()
    return text.replace("\n", eol) if eol != "\n" else text


def inline_items(doc: Document, offset: int, pos: types.Position, suggestion: Suggestion,
                 encoding_line_start: types.Position) -> list[types.InlineCompletionItem]:
    before = _line_before(doc, offset)
    rng = types.Range(start=encoding_line_start, end=pos)
    texts = [suggestion.text, *suggestion.alternatives]
    return [types.InlineCompletionItem(insert_text=before + _with_eol(doc, t), range=rng)
            for t in texts]


def completion_items(
    doc: Document, offset: int, pos: types.Position, word_start: types.Position,
    suggestion: Suggestion, snippets: bool, markdown: bool = True, line_breaks: bool = True,
) -> list[types.CompletionItem]:
    """Completion items for a suggestion; see the module docstring for why they look so."""
    word = _WORD.search(_line_before(doc, offset))
    typed = word.group(0) if word else ""
    items: list[types.CompletionItem] = []
    labels: set[str] = set()
    for text in [suggestion.text, *suggestion.alternatives]:
        full = typed + text
        first_line = full.split("\n", 1)[0]
        starts_below = not first_line[len(typed):].strip()
        if not line_breaks:
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
            eol_text = _with_eol(doc, _relative_indent(full, _line_before(doc, offset)))
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
                if markdown else typed + text
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


def _relative_indent(text: str, line_before: str) -> str:
    """Lines after the first without the cursor line's indentation (the client adds it back);
    a line indented less than the cursor line is left as it is."""
    base = line_before[: len(line_before) - len(line_before.lstrip(" \t"))]
    if not base or "\n" not in text:
        return text
    head, *rest = text.split("\n")
    return "\n".join([head, *(ln[len(base):] if ln.startswith(base) else ln for ln in rest)])


def _client_caps(ls: DevstralServer) -> types.ClientCapabilities | None:
    """None before `initialize` (a request may come first; it gets an empty answer)."""
    try:
        return ls.client_capabilities
    except AttributeError:
        return None


def _item_caps(ls: DevstralServer) -> types.ClientCompletionItemOptions | None:
    caps = _client_caps(ls)
    td = caps.text_document if caps is not None else None
    return td.completion.completion_item if td and td.completion else None


def _snippet_support(ls: DevstralServer) -> bool:
    item = _item_caps(ls)
    return bool(item and item.snippet_support)


def _line_break_support(ls: DevstralServer) -> bool:
    """Clients that insert a line break of an item as a line break (see module docstring)."""
    item = _item_caps(ls)
    return bool(item and (item.snippet_support or item.insert_replace_support))


def _markdown_docs(ls: DevstralServer) -> bool:
    """Markdown only for clients that list it first (the spec's order of preference)."""
    item = _item_caps(ls)
    formats = item.documentation_format if item else None
    return formats is not None and len(formats) > 0 and formats[0] == types.MarkupKind.Markdown


def register(server: DevstralServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: DevstralServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        from .next_edit import insert_at_cursor  # a next-edit suggestion that only inserts here

        if (item := insert_at_cursor(ls, params.text_document.uri, params.position)) is not None:
            return types.InlineCompletionList(items=[item])
        found = await _suggest(ls, params.text_document.uri, params.position, invoked)
        if found is None:
            return types.InlineCompletionList(items=[])
        doc, offset, suggestion = found
        line_start = types.Position(line=params.position.line, character=0)
        return types.InlineCompletionList(
            items=inline_items(doc, offset, params.position, suggestion, line_start)
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=False),
    )
    async def completion(
        ls: DevstralServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        empty = types.CompletionList(is_incomplete=True, items=[])
        if not completion_items_wanted(ls.settings.completion_items,
                                       client_has_inline=ls.client_has_inline,
                                       client_asks=client_asks_for_items(_client_caps(ls))):
            return empty
        ctx = params.context
        invoked = ctx is None or ctx.trigger_kind == types.CompletionTriggerKind.Invoked
        found = await _suggest(ls, params.text_document.uri, params.position, invoked)
        if found is None:
            return empty
        doc, offset, suggestion = found
        word = _WORD.search(_line_before(doc, offset))
        start_offset = offset - (len(word.group(0)) if word else 0)
        line, char = doc.position_at(start_offset, ls.encoding)
        word_start = types.Position(line=line, character=char)
        return types.CompletionList(
            is_incomplete=True,
            items=completion_items(doc, offset, params.position, word_start, suggestion,
                                   _snippet_support(ls), _markdown_docs(ls),
                                   _line_break_support(ls)),
        )
