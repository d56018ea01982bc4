"""Inline completions and completion items, end to end over stdio, per real client."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types

from tests.fake_backend import FakeBackend, Reply
from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import (
    CLIENTS,
    MODEL,
    TEST_KEY,
    apply_edit,
    complete,
    encoding_of,
    fake_env,
    inline,
    lsp_session,
    open_doc,
)

URI = "file:///tmp/devstral-e2e/calc.py"
SOURCE = "def add(a, b):\n    return a\n\n\nprint(add(1, 2))\n"


@pytest.mark.parametrize("client", CLIENTS)
async def test_initialize_advertises_by_client(fake: FakeBackend, client: str) -> None:
    async with lsp_session(fake_env(fake), client=client) as (_lsp, result):
        caps = result.capabilities
        assert caps.inline_completion_provider is not None
        sync = caps.text_document_sync
        assert isinstance(sync, types.TextDocumentSyncOptions)
        assert sync.change == types.TextDocumentSyncKind.Incremental
        if client == "vscode-inline":
            assert caps.completion_provider is None  # VS Code would show everything twice
        else:
            assert caps.completion_provider is not None
        expected = "utf-8" if client == "neovim-0.11.4" else "utf-16"
        assert encoding_of(result) == expected
        assert result.server_info is not None and result.server_info.name == "devstral-lsp"


@pytest.mark.parametrize("client", CLIENTS)
async def test_inline_completion_streams_cleaned_answer(fake: FakeBackend, client: str) -> None:
    # A chatty instruct answer: prose, a fence, the line repeated, then the code.
    fake.enqueue(Reply.text("Sure! Here is the completion:\n```python\n    return a + b\n```\n",
                            chunk_chars=3))
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        open_doc(lsp, URI, SOURCE)
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and got.items, "no inline item"
        item = got.items[0]
        assert isinstance(item.insert_text, str) and item.range is not None
        applied = apply_edit(SOURCE, item.range, item.insert_text, encoding_of(result))
        assert applied.splitlines()[1] == "    return a + b"
        assert applied.endswith("print(add(1, 2))\n")
    [req] = fake.completion_requests
    assert req.path.endswith("/chat/completions")
    assert req.body["stream"] is True and req.body["model"] == MODEL
    assert req.authorization == f"Bearer {TEST_KEY}"
    user = req.body["messages"][-1]["content"]
    assert "{{FILL_HERE}}" in user and "calc.py" in user
    assert "    return a{{FILL_HERE}}\n" in user


@pytest.mark.parametrize("client", ["neovim-0.7.2", "neovim-0.11.4", "emacs-eglot-1.9"])
async def test_completion_items_cover_the_typed_word(fake: FakeBackend, client: str) -> None:
    text = "import math\n\n\ndef area(r):\n    return math.pi * ra\n"
    fake.enqueue(Reply.text("dius ** 2"))
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        open_doc(lsp, URI, text)
        got = await complete(lsp, URI, 4, 23)
        assert got.items, "no completion item"
        item = got.items[0]
        assert item.label == "radius ** 2"
        assert isinstance(item.text_edit, types.TextEdit)
        edit = item.text_edit
        assert (edit.range.start.line, edit.range.start.character) == (4, 21)
        assert (edit.range.end.line, edit.range.end.character) == (4, 23)
        doc = item.documentation
        doc_text = doc.value if isinstance(doc, types.MarkupContent) else doc
        assert doc_text is not None and "radius ** 2" in doc_text
        assert isinstance(doc, types.MarkupContent) == (client != "emacs-eglot-1.9")
        snippet = item.insert_text_format == types.InsertTextFormat.Snippet
        assert snippet == (client == "neovim-0.11.4")
        applied = apply_edit(text, edit.range, edit.new_text, encoding_of(result))
        assert "    return math.pi * radius ** 2\n" in applied


async def test_multiline_completion_item_and_alternative(fake: FakeBackend) -> None:
    text = "def mean(xs):\n    \n"
    fake.enqueue(Reply.text("    total = sum(xs)\n    return total / len(xs)\n"))
    async with lsp_session(fake_env(fake), client="emacs-eglot-1.9") as (lsp, _result):
        open_doc(lsp, URI, text)
        got = await complete(lsp, URI, 1, 4)
        # eglot without yasnippet has no snippet support: the first line now, the rest on the
        # next request (tests/e2e/test_completion_items.py), one item per label.
        assert [i.label for i in got.items] == ["total = sum(xs)"]
        first = got.items[0]
        assert isinstance(first.text_edit, types.TextEdit)
        applied = apply_edit(text, first.text_edit.range, first.text_edit.new_text, "utf-16")
        assert applied == "def mean(xs):\n    total = sum(xs)\n"


@pytest.mark.parametrize("client", ["neovim-0.11.4", "emacs-eglot-1.9"])
async def test_positions_with_emoji_cjk_and_crlf(fake: FakeBackend, client: str) -> None:
    text = 'greeting = "héllo 😀 世界"\r\nname = greet\r\nprint(name)\r\n'
    fake.enqueue(Reply.text("ing.upper()"))
    async with lsp_session(fake_env(fake), client=client) as (lsp, result):
        open_doc(lsp, URI, text)
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and got.items
        item = got.items[0]
        assert item.range is not None and isinstance(item.insert_text, str)
        encoding = encoding_of(result)
        lines = text.split("\r\n")
        applied_line = apply_edit(lines[1], types.Range(
            start=types.Position(line=0, character=item.range.start.character),
            end=types.Position(line=0, character=item.range.end.character)),
            item.insert_text, encoding)
        assert applied_line == "name = greeting.upper()"
    user = fake.completion_requests[0].body["messages"][-1]["content"]
    assert 'greeting = "héllo 😀 世界"\nname = greet{{FILL_HERE}}\nprint(name)' in user


async def test_emoji_before_cursor_on_the_same_line(fake: FakeBackend) -> None:
    text = 'label = "😀😀" + na\n'
    fake.enqueue(Reply.text("me"))
    for client, col in (("neovim-0.11.4", len('label = "😀😀" + na'.encode())),
                        ("emacs-eglot-1.9", 19)):
        async with lsp_session(fake_env(fake), client=client) as (lsp, _):
            fake.enqueue(Reply.text("me"))
            open_doc(lsp, URI, text)
            got = await inline(lsp, URI, 0, col)
            assert got is not None and got.items
            assert got.items[0].insert_text == 'label = "😀😀" + name'
    for req in fake.completion_requests:
        assert 'label = "😀😀" + na{{FILL_HERE}}' in req.body["messages"][-1]["content"]


async def test_unknown_document_gives_empty_result(fake: FakeBackend) -> None:
    async with lsp_session(fake_env(fake)) as (lsp, _):
        got = await inline(lsp, "file:///nowhere/x.py", 0, 0)
        assert got is not None and not got.items
    assert fake.completion_requests == []


async def test_prefix_mode_on_mistral_strips_the_echoed_prefix(fake: FakeBackend) -> None:
    env = fake_env(fake, DEVSTRAL_PROVIDER="mistral")
    fake.enqueue(Reply.text(" + b"))  # the fake echoes the prefix as Mistral does
    async with lsp_session(env) as (lsp, _):
        open_doc(lsp, URI, SOURCE)
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and got.items
        assert got.items[0].insert_text == "    return a + b"
    req = fake.completion_requests[0]
    last = req.body["messages"][-1]
    assert last == {"role": "assistant", "content": "    return a", "prefix": True}
    assert "stop" not in req.body  # end of line: a multi-line answer is allowed


async def test_fim_mode_uses_completions_with_suffix(fake: FakeBackend) -> None:
    env = fake_env(fake)
    fake.enqueue(Reply.text(" + b"))
    async with lsp_session(env, init_options={"promptMode": "fim"}) as (lsp, _):
        open_doc(lsp, URI, SOURCE)
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and got.items
        assert got.items[0].insert_text == "    return a + b"
    req = fake.completion_requests[0]
    assert req.path.endswith("/v1/completions")
    assert req.body["prompt"].endswith("def add(a, b):\n    return a")
    assert req.body["suffix"].startswith("\n\n\nprint(add(1, 2))")


async def test_typing_along_a_suggestion_needs_no_new_call(fake: FakeBackend) -> None:
    from tests.helpers.lsp import change_doc

    fake.enqueue(Reply.text(" + b"))
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, _):
        open_doc(lsp, URI, SOURCE)
        got = await inline(lsp, URI, 1, 12)
        assert got is not None and got.items[0].insert_text == "    return a + b"
        change_doc(lsp, URI, 2, (1, 12), (1, 12), " +")
        got = await inline(lsp, URI, 1, 14, invoked=False)
        assert got is not None and got.items[0].insert_text == "    return a + b"
    assert len(fake.completion_requests) == 1


async def test_cancel_closes_the_model_stream(fake: FakeBackend) -> None:
    from tests.helpers.lsp import cancel_request, inline_params, send_cancellable

    fake.enqueue(Reply.text("pass"), Reply.hang())
    async with lsp_session(fake_env(fake), client="vscode-inline") as (lsp, _):
        open_doc(lsp, URI, SOURCE)
        # A first answered request loads the tokenizer (seconds on a busy machine), so that
        # the wait below is for the hanging request alone.
        await inline(lsp, URI, 3, 0)
        msg_id, future = send_cancellable(
            lsp, types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(URI, 1, 12))
        req = (await fake.wait_for_requests_async(2))[-1]
        cancelled_at = time.monotonic()
        cancel_request(lsp, msg_id)
        # The stream hangs forever, so only the cancellation can end it; how fast is a figure
        # for bench/bench_latency.py (cancel -> disconnect), not an assert on this machine's load.
        await req.wait_done_async()
        assert req.client_disconnected and req.t_disconnected is not None
        assert req.t_disconnected >= cancelled_at
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(future, WAIT_GUARD_S)
