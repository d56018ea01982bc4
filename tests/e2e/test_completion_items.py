"""Completion items and answers that clients must not mangle, per captured client (issue 14).

Positions past the end, answers computed for an older text, multi-line items for clients that
cannot insert a line break, duplicate labels, plain-text documentation, suggestions that start
with a line break, and a client that shows ghost text but still wants menu items.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable

import pytest
from lsprotocol import types

from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.helpers.lsp import (
    CLIENTS,
    apply_edit,
    change_doc,
    complete,
    encoding_of,
    fake_env,
    inline,
    inline_params,
    load_capabilities,
    lsp_session,
    open_doc,
)

URI = "file:///tmp/devstral-e2e/stats.py"
WARM = "file:///tmp/devstral-e2e/warm.py"
MEAN = "def mean(xs):\n    \n"
MEAN_BODY = "    total = sum(xs)\n    return total / len(xs)\n"
MEAN_DONE = "def mean(xs):\n    total = sum(xs)\n    return total / len(xs)\n"
NO_LINE_BREAK = ["neovim-0.7.2", "emacs-eglot-1.9"]
ITEM_CLIENTS = ["neovim-0.7.2", "neovim-0.11.4", "emacs-eglot-1.9"]


def gated(text: str) -> tuple[threading.Event, Callable[[RecordedRequest], Reply]]:
    """A reply that is only produced once the test opens the gate."""
    gate = threading.Event()

    def answer(_rec: RecordedRequest) -> Reply:
        gate.wait(20)
        return Reply.text(text)

    return gate, answer


async def warm_up(lsp: object, fake: FakeBackend) -> None:
    """One answered request first, so the gated one does not also wait for the tokenizer."""
    fake.enqueue(Reply.text("pass"))
    open_doc(lsp, WARM, "def f():\n    \n")  # type: ignore[arg-type]
    await inline(lsp, WARM, 1, 4)  # type: ignore[arg-type]


async def barrier(lsp: object) -> None:
    """A request answered after every notification sent before it has been handled."""
    await lsp.protocol.send_request_async("devstral/stats", None)  # type: ignore[attr-defined]


@pytest.mark.parametrize("client", CLIENTS)
async def test_position_past_the_end_gets_nothing(fake: FakeBackend, client: str) -> None:
    fake.default = Reply.text("return 1")
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        open_doc(lsp, URI, MEAN)
        got = await inline(lsp, URI, 999, 0)
        assert got is not None and not got.items
        if result.capabilities.completion_provider is not None:
            listed = await complete(lsp, URI, 999, 4)
            assert not listed.items
    assert fake.completion_requests == []


@pytest.mark.parametrize("client", CLIENTS)
async def test_answer_for_an_older_text_is_dropped(fake: FakeBackend, client: str) -> None:
    text = "import os\n\n\ndef mean(xs):\n    \n"
    gate, answer = gated("total = sum(xs)\n    return total / len(xs)")
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        await warm_up(lsp, fake)
        fake.enqueue(answer)
        open_doc(lsp, URI, text)
        pending = asyncio.ensure_future(inline(lsp, URI, 4, 4))
        await fake.wait_for_requests_async(2)
        # The user deletes the function while the model is answering; no newer request.
        change_doc(lsp, URI, 2, (1, 0), (5, 0), "")
        await barrier(lsp)
        gate.set()
        got = await pending
        assert got is not None and not got.items, [i.insert_text for i in got.items]
        if result.capabilities.completion_provider is not None:
            gate2, answer2 = gated("x = 1")
            fake.enqueue(answer2)
            listed = asyncio.ensure_future(complete(lsp, URI, 1, 0))
            await fake.wait_for_requests_async(3)
            change_doc(lsp, URI, 3, (0, 0), (0, 0), "# header\n")
            await barrier(lsp)
            gate2.set()
            assert not (await listed).items


@pytest.mark.parametrize("client", NO_LINE_BREAK)
async def test_no_line_break_to_clients_that_cannot_insert_one(fake: FakeBackend,
                                                              client: str) -> None:
    fake.enqueue(Reply.text(MEAN_BODY))
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        open_doc(lsp, URI, MEAN)
        got = await complete(lsp, URI, 1, 4)
        [item] = got.items  # one item: no second one with the same label
        assert item.label == "total = sum(xs)"
        assert isinstance(item.text_edit, types.TextEdit)
        assert "\n" not in item.text_edit.new_text and "\r" not in item.text_edit.new_text
        assert item.insert_text_format in (None, types.InsertTextFormat.PlainText)
        doc = item.documentation
        assert isinstance(doc, str) == (client == "emacs-eglot-1.9")
        shown = doc.value if isinstance(doc, types.MarkupContent) else doc
        assert shown is not None and "return total / len(xs)" in shown
        if isinstance(doc, str):
            assert "```" not in doc  # plain-text clients show raw fences
        text = apply_edit(MEAN, item.text_edit.range, item.text_edit.new_text,
                          encoding_of(result))
        assert text == "def mean(xs):\n    total = sum(xs)\n"
        # The user presses Enter (the editor keeps the indentation) and asks again: the rest,
        # from the typed-through cache, without a second model call.
        change_doc(lsp, URI, 2, (1, 4), (1, 4), "total = sum(xs)")
        change_doc(lsp, URI, 3, (1, 19), (1, 19), "\n    ")
        text = "def mean(xs):\n    total = sum(xs)\n    \n"
        got = await complete(lsp, URI, 2, 4)
        [item] = got.items
        assert isinstance(item.text_edit, types.TextEdit)
        assert "\n" not in item.text_edit.new_text
        text = apply_edit(text, item.text_edit.range, item.text_edit.new_text,
                          encoding_of(result))
        assert text == MEAN_DONE
    assert len(fake.completion_requests) == 1


async def test_snippet_client_gets_the_whole_block_once(fake: FakeBackend) -> None:
    fake.enqueue(Reply.text(MEAN_BODY))
    async with lsp_session(fake_env(fake), client="neovim-0.11.4") as (lsp, result):
        open_doc(lsp, URI, MEAN)
        got = await complete(lsp, URI, 1, 4)
        labels = [i.label for i in got.items]
        assert labels and len(set(labels)) == len(labels), labels
        item = got.items[0]
        assert item.label == "total = sum(xs)"
        assert item.insert_text_format == types.InsertTextFormat.Snippet
        assert isinstance(item.text_edit, types.TextEdit)
        assert "\x00" not in item.text_edit.new_text
        # Snippet clients indent the lines after the first by the cursor line's indentation.
        assert item.insert_text_mode == types.InsertTextMode.AdjustIndentation
        new_text = item.text_edit.new_text.replace("\n", "\n    ")
        text = apply_edit(MEAN, item.text_edit.range, new_text, encoding_of(result))
        assert text == MEAN_DONE
        assert isinstance(item.documentation, types.MarkupContent)
        assert item.documentation.kind == types.MarkupKind.Markdown


@pytest.mark.parametrize("client", ITEM_CLIENTS)
async def test_suggestion_starting_with_a_line_break(fake: FakeBackend, client: str) -> None:
    text = "def square(x):\n"
    fake.enqueue(Reply.text("\n    return x * x"))
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        open_doc(lsp, URI, text)
        got = await complete(lsp, URI, 0, 14)
        if client in NO_LINE_BREAK:
            # Nothing of it fits on this line: no item rather than one that inserts nothing.
            assert not got.items
            return
        [item] = got.items
        assert item.label == "return x * x"  # not the typed word
        assert item.insert_text == ""  # what a non-expanding omnifunc inserts as the word
        assert isinstance(item.text_edit, types.TextEdit)
        applied = apply_edit(text, item.text_edit.range, item.text_edit.new_text,
                             encoding_of(result))
        assert applied == "def square(x):\n    return x * x\n"


def _with_plugin_flag(client: str) -> types.ClientCapabilities:
    """Captured capabilities plus what editors/neovim sends with ghost text on."""
    caps = load_capabilities(client)
    td = caps.text_document or types.TextDocumentClientCapabilities()
    td.inline_completion = types.InlineCompletionClientCapabilities()
    caps.text_document = td
    caps.experimental = {"devstral": {"completionItems": True}}
    return caps


async def test_vscode_never_gets_items_but_the_plugin_asks_for_both(fake: FakeBackend) -> None:
    async with lsp_session(fake_env(fake), client="vscode-inline") as (_lsp, result):
        assert result.capabilities.completion_provider is None
    fake.default = Reply.text(MEAN_BODY, tokens_per_s=200)
    caps = _with_plugin_flag("neovim-0.11.4")
    async with lsp_session(fake_env(fake), capabilities=caps) as (lsp, result):
        assert result.capabilities.completion_provider is not None
        assert result.capabilities.inline_completion_provider is not None
        await warm_up(lsp, fake)
        open_doc(lsp, URI, MEAN)
        # Ghost text and the completion menu ask at once: one model call answers both.
        ghost = asyncio.ensure_future(lsp.text_document_inline_completion_async(
            inline_params(URI, 1, 4, invoked=False)))
        await fake.wait_for_requests_async(2)
        menu = await complete(lsp, URI, 1, 4, invoked=True)
        inline_result = await ghost
        assert inline_result is not None and inline_result.items
        assert inline_result.items[0].insert_text == MEAN_DONE.splitlines(True)[1] + \
            "    return total / len(xs)"
        assert menu.items and menu.items[0].label == "total = sum(xs)"
    assert len(fake.completion_requests) == 2, json.dumps(
        [r.body.get("messages", [])[-1:] for r in fake.completion_requests])[:500]


COMMENTED = "def area(r):\n    # compute the \n    return 3.14 * r * r\n"


async def test_no_automatic_suggestion_in_a_comment_unless_enabled(fake: FakeBackend) -> None:
    fake.default = Reply.text("area of the circle")
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, _):
        open_doc(lsp, URI, COMMENTED)
        got = await inline(lsp, URI, 1, 18, invoked=False)
        assert got is not None and not got.items
        assert fake.completion_requests == []
        got = await inline(lsp, URI, 1, 18, invoked=True)  # asked for: answered
        assert got is not None and got.items
        assert got.items[0].insert_text == "    # compute the area of the circle"
    fake.reset()
    async with lsp_session(fake_env(fake), client="vscode-inline",
                           init_options={"suggestInComments": True}) as (lsp, _):
        open_doc(lsp, URI, COMMENTED)
        got = await inline(lsp, URI, 1, 18, invoked=False)
        assert got is not None and got.items


async def test_disabled_language_and_one_line_mode(fake: FakeBackend) -> None:
    fake.default = Reply.text(MEAN_BODY)
    async with lsp_session(fake_env(fake), client="vscode-inline",
                           init_options={"disabledLanguages": ["python"]}) as (lsp, _):
        open_doc(lsp, URI, MEAN)
        for invoked in (False, True):
            got = await inline(lsp, URI, 1, 4, invoked=invoked)
            assert got is not None and not got.items
        assert fake.completion_requests == []
    async with lsp_session(fake_env(fake), client="vscode-inline",
                           init_options={"multiline": "never"}) as (lsp, _):
        open_doc(lsp, URI, MEAN)
        got = await inline(lsp, URI, 1, 4)
        assert got is not None and got.items
        assert got.items[0].insert_text == "    total = sum(xs)"
