"""Document sync: keep our line-indexed store current and tell the pipeline about edits."""

from __future__ import annotations

import logging

from lsprotocol import types

from ..server import DevstralServer

log = logging.getLogger(__name__)


def register(server: DevstralServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DevstralServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        ls.documents.open(doc.uri, doc.text, doc.version, doc.language_id)
        if ls.context_engine is not None:
            ls.context_engine.on_open(doc.uri, doc.text, doc.language_id)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DevstralServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.documents.get(uri)
        if doc is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        changes: list[tuple[str, tuple[int, int, int, int] | None]] = []
        deletion = True
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                r = change.range
                changes.append((change.text, (r.start.line, r.start.character,
                                              r.end.line, r.end.character)))
                if change.text or r.start == r.end:
                    deletion = False
            else:
                changes.append((change.text, None))
                deletion = False
        before = ls.context_engine is not None and ls.context_engine.wants_old_text
        old_text = doc.text if before else None
        ls.documents.change(uri, changes, params.text_document.version, ls.encoding)
        ls.pipeline.note_edit(uri, deletion=deletion and bool(changes))
        if ls.context_engine is not None:
            ls.context_engine.on_change(uri, old_text, doc)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DevstralServer, params: types.DidSaveTextDocumentParams) -> None:
        if ls.context_engine is not None:
            doc = ls.documents.get(params.text_document.uri)
            if doc is not None:
                ls.context_engine.on_save(doc.uri, doc.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DevstralServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.documents.close(uri)
        ls.pipeline.forget(uri)
        if ls.context_engine is not None:
            ls.context_engine.on_close(uri)
