"""textDocument/inlineCompletion and textDocument/completion over the shared pipeline.

Inline items replace the cursor line up to the cursor with that text plus the suggestion
(what Copilot does), so a client that re-filters as the user types keeps showing it. Completion
items carry a `textEdit` over the typed word, so clients that filter by that word still show
the suggestion; with snippet support they use snippet format with label = the whole first
line, which makes Neovim 0.11's omnifunc insert the full text rather than its first word.
"""

from __future__ import annotations

import logging
import re

from lsprotocol import types

from ..completion.pipeline import Suggestion
from ..documents import Document
from ..server import DevstralServer

log = logging.getLogger(__name__)

_WORD = re.compile(r"[\w$]+$")
TRIGGER_CHARACTERS = [".", "(", "[", "{", ",", ":", "=", " "]


def _offset(ls: DevstralServer, doc: Document, pos: types.Position) -> int:
    return doc.offset_at(pos.line, pos.character, ls.encoding)


def _line_before(doc: Document, offset: int) -> str:
    return doc.text_range(offset - 4000, offset).rsplit("\n", 1)[-1]


async def _suggest(ls: DevstralServer, uri: str, pos: types.Position, invoked: bool
                   ) -> tuple[Document, int, Suggestion] | None:
    await ls.wait_configured()
    doc = ls.documents.get(uri)
    if doc is None:
        log.info("completion for %s, which is not open: nothing to do", uri)
        return None
    offset = _offset(ls, doc, pos)
    suggestion = await ls.pipeline.complete(uri, doc.text_range, offset, invoked=invoked)
    if suggestion is None or not suggestion.text:
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
    suggestion: Suggestion, snippets: bool, markdown: bool = True,
) -> list[types.CompletionItem]:
    word = _WORD.search(_line_before(doc, offset))
    typed = word.group(0) if word else ""
    items = []
    for rank, text in enumerate([suggestion.text, *suggestion.alternatives]):
        full = typed + text
        first_line = full.split("\n", 1)[0]
        label = first_line if first_line.strip() else full.strip().split("\n", 1)[0]
        rng = types.Range(start=word_start, end=pos)
        eol_text = _with_eol(doc, full)
        new_text = snippet_escape(eol_text) if snippets else eol_text
        items.append(types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet if snippets else types.CompletionItemKind.Text,
            detail="Devstral",
            documentation=(
                types.MarkupContent(kind=types.MarkupKind.Markdown,
                                    value=f"```{doc.language_id}\n{full}\n```")
                if markdown else full
            ),
            filter_text=first_line or typed,
            sort_text=f"0000{rank}",
            preselect=rank == 0,
            insert_text_format=(types.InsertTextFormat.Snippet if snippets
                                else types.InsertTextFormat.PlainText),
            text_edit=types.TextEdit(range=rng, new_text=new_text),
        ))
    return items


def _item_caps(ls: DevstralServer) -> types.ClientCompletionItemOptions | None:
    td = ls.client_capabilities.text_document
    return td.completion.completion_item if td and td.completion else None


def _snippet_support(ls: DevstralServer) -> bool:
    item = _item_caps(ls)
    return bool(item and item.snippet_support)


def _markdown_docs(ls: DevstralServer) -> bool:
    item = _item_caps(ls)
    formats = item.documentation_format if item else None
    return bool(formats and types.MarkupKind.Markdown in formats)


def register(server: DevstralServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: DevstralServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
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
        if not ls.offer_completion_items and ls.settings.completion_items != "always":
            return empty
        if ls.settings.completion_items == "never":
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
                                   _snippet_support(ls), _markdown_docs(ls)),
        )
