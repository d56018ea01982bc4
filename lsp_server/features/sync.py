"""Document sync: keep our line-indexed store current and tell the pipeline about edits."""

from __future__ import annotations

import logging

from lsprotocol import types

from ..config import PROJECT_FILE
from ..server import DevstralServer
from . import next_edit

log = logging.getLogger(__name__)


def register(server: DevstralServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DevstralServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        ls.documents.open(doc.uri, doc.text, doc.version, doc.language_id)
        ls.context.on_open(doc.uri, doc.text, doc.language_id)

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
        ls.documents.change(uri, changes, params.text_document.version, ls.encoding)
        ls.pipeline.note_edit(uri, deletion=deletion and bool(changes))
        next_edit.note_edit(ls, uri)
        ls.context.on_change(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DevstralServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.context.on_save(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DevstralServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.documents.close(uri)
        ls.pipeline.forget(uri)
        ls.context.on_close(uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(
        ls: DevstralServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        for event in params.changes:
            if event.uri.endswith("/" + PROJECT_FILE):
                ls.load_project_config()
                ls.apply_settings()
            if event.uri not in ls.documents:  # open buffers are the truth for open files
                ls.context.on_watched_file(event.uri, int(event.type))
