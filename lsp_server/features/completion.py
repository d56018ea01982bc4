"""textDocument/inlineCompletion and textDocument/completion over the shared pipeline.

Thin handlers: the suggestion comes from the pipeline, the items from `completion_items.py`
(shaped per client, see there), and whether completion items are offered at all from
`completion/offer.py`.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from ..completion.offer import ASKS_FOR_ITEMS as ASKS_FOR_ITEMS  # what test_bootstrap compares
from ..completion.offer import TRIGGER_CHARACTERS, client_asks_for_items, completion_items_wanted
from ..completion.pipeline import Suggestion
from ..completion.placement import automatic_blocked
from ..documents import Document
from ..server import DevstralServer
from .completion_items import ItemStyle, completion_items, inline_items, word_start

log = logging.getLogger(__name__)


def _offset(ls: DevstralServer, doc: Document, pos: types.Position) -> int:
    return doc.offset_at(pos.line, pos.character, ls.encoding)


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


def _client_caps(ls: DevstralServer) -> types.ClientCapabilities | None:
    """None before `initialize` (a request may come first; it gets an empty answer)."""
    try:
        return ls.client_capabilities
    except AttributeError:
        return None


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
        caps = _client_caps(ls)
        if not completion_items_wanted(ls.settings.completion_items,
                                       client_has_inline=ls.client_has_inline,
                                       client_asks=client_asks_for_items(
                                           caps.experimental if caps is not None else None)):
            return empty
        ctx = params.context
        invoked = ctx is None or ctx.trigger_kind == types.CompletionTriggerKind.Invoked
        found = await _suggest(ls, params.text_document.uri, params.position, invoked)
        if found is None:
            return empty
        doc, offset, suggestion = found
        start = word_start(doc, offset, ls.encoding)
        return types.CompletionList(
            is_incomplete=True,
            items=completion_items(doc, offset, params.position, start, suggestion,
                                   ItemStyle.of(caps)),
        )
