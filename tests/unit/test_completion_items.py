"""The completion items each captured client gets for realistic suggestions, in-process.

The capabilities are the real `initialize` params of the clients (tests/data/client-capabilities):
Neovim 0.7.2 and Emacs eglot 1.9 cannot insert an item's line break (plain text, no snippets),
Neovim 0.11.4 and VS Code expand snippets. `vscode-inline.json`'s `completionItem` block is what
vscode-languageclient 10.1.2 (editors/vscode's dependency) sends in `fillClientCapabilities`,
except `labelDetailsSupport`, which the builders do not read. Each test states the exact items,
so a change in what a client receives (format, first line only, label, escaping, documentation
kind, range) fails here before an editor shows it. e2e coverage of the same shapes over stdio is
in tests/e2e/test_completion_items.py.
"""

from __future__ import annotations

import pytest
from lsprotocol import types as t

from lsp_server.completion.offer import client_asks_for_items, completion_items_wanted
from lsp_server.completion.pipeline import Suggestion
from lsp_server.config import CompletionItemsMode
from lsp_server.documents import Document
from lsp_server.features.completion_items import ItemStyle, completion_items, word_start
from lsp_server.positions import PositionEncoding
from tests.helpers.lsp import CLIENTS, load_capabilities

URI = "file:///w/stats.py"
FIRST_LINE_ONLY = ["neovim-0.7.2", "emacs-eglot-1.9"]
SNIPPETS = ["neovim-0.11.4", "vscode-inline"]
MARKDOWN_DOCS = {"neovim-0.7.2": True, "neovim-0.11.4": True, "emacs-eglot-1.9": False,
                 "vscode-inline": True}
"""From the captures: eglot 1.9 sends no documentationFormat; the others list markdown first."""


def test_the_captures_cover_both_kinds_of_client() -> None:
    assert sorted(FIRST_LINE_ONLY + SNIPPETS) == sorted(CLIENTS)


@pytest.mark.parametrize("client", CLIENTS)
def test_style_read_from_the_captured_capabilities(client: str) -> None:
    snippets = client in SNIPPETS
    assert ItemStyle.of(load_capabilities(client)) == ItemStyle(
        snippets=snippets, line_breaks=snippets, markdown=MARKDOWN_DOCS[client])


def test_no_capabilities_yet_means_plain_items() -> None:
    assert ItemStyle.of(None) == ItemStyle(snippets=False, line_breaks=False, markdown=False)
    assert ItemStyle.of(t.ClientCapabilities()) == ItemStyle(False, False, False)


def test_insert_replace_support_alone_allows_line_breaks_but_not_snippets() -> None:
    caps = t.ClientCapabilities(text_document=t.TextDocumentClientCapabilities(
        completion=t.CompletionClientCapabilities(completion_item=t.ClientCompletionItemOptions(
            insert_replace_support=True, documentation_format=[t.MarkupKind.PlainText]))))
    assert ItemStyle.of(caps) == ItemStyle(snippets=False, line_breaks=True, markdown=False)


def test_markdown_only_when_the_client_prefers_it() -> None:
    """The spec's documentationFormat is in order of preference: markdown second is plain."""
    def style(formats: list[t.MarkupKind]) -> ItemStyle:
        return ItemStyle.of(t.ClientCapabilities(text_document=t.TextDocumentClientCapabilities(
            completion=t.CompletionClientCapabilities(
                completion_item=t.ClientCompletionItemOptions(documentation_format=formats)))))

    assert not style([t.MarkupKind.PlainText, t.MarkupKind.Markdown]).markdown
    assert not style([]).markdown
    assert style([t.MarkupKind.Markdown]).markdown


@pytest.mark.parametrize("asks", [False, True])
@pytest.mark.parametrize("mode", ["auto", "always", "never"])
@pytest.mark.parametrize("client", CLIENTS)
def test_which_clients_are_offered_items(client: str, mode: CompletionItemsMode, asks: bool
                                         ) -> None:
    """Only VS Code of the captures has inline completion: in auto it gets no items (it would
    show everything twice) unless it asks for both, as the Neovim plugin does."""
    caps = load_capabilities(client)
    if asks:
        caps.experimental = {"devstral": {"completionItems": True}}
    has_inline = caps.text_document is not None and caps.text_document.inline_completion is not None
    assert has_inline == (client == "vscode-inline")
    assert client_asks_for_items(caps.experimental) == asks
    wanted = completion_items_wanted(mode, client_has_inline=has_inline,
                                     client_asks=client_asks_for_items(caps.experimental))
    expected = {"never": False, "always": True,
                "auto": client != "vscode-inline" or asks}[mode]
    assert wanted == expected


def items_for(client: str, text: str, line: int, character: int, suggestion: str,
              *alternatives: str, language: str = "python",
              encoding: PositionEncoding = PositionEncoding.UTF16) -> list[t.CompletionItem]:
    """What the completion handler answers this client at (line, character)."""
    doc = Document(URI, text, version=1, language_id=language)
    offset = doc.offset_at(line, character, encoding)
    return completion_items(
        doc, offset, t.Position(line=line, character=character),
        word_start(doc, offset, encoding),
        Suggestion(suggestion, "model", alternatives=list(alternatives)),
        ItemStyle.of(load_capabilities(client)))


def item(client: str, *, label: str, new_text: str, start: tuple[int, int], end: tuple[int, int],
         doc: str, language: str = "python", first_line_only: bool = False,
         filter_text: str | None = None, insert_text: str | None = None, index: int = 0,
         adjust_indentation: bool = False) -> t.CompletionItem:
    snippets = client in SNIPPETS
    return t.CompletionItem(
        label=label,
        kind=t.CompletionItemKind.Snippet if snippets else t.CompletionItemKind.Text,
        detail="Devstral (first line; more follows)" if first_line_only else "Devstral",
        documentation=(t.MarkupContent(kind=t.MarkupKind.Markdown,
                                       value=f"```{language}\n{doc}\n```")
                       if MARKDOWN_DOCS[client] else doc),
        filter_text=label if filter_text is None else filter_text,
        insert_text=insert_text,
        sort_text=f"0000{index}",
        preselect=index == 0,
        insert_text_format=(t.InsertTextFormat.Snippet if snippets
                            else t.InsertTextFormat.PlainText),
        insert_text_mode=t.InsertTextMode.AdjustIndentation if adjust_indentation else None,
        text_edit=t.TextEdit(
            range=t.Range(start=t.Position(line=start[0], character=start[1]),
                          end=t.Position(line=end[0], character=end[1])),
            new_text=new_text),
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_single_line_replaces_the_typed_word(client: str) -> None:
    got = items_for(client, "def mean(xs):\n    return su\n", 1, 13, "m(xs) / len(xs)")
    assert got == [item(client, label="sum(xs) / len(xs)", new_text="sum(xs) / len(xs)",
                        start=(1, 11), end=(1, 13), doc="sum(xs) / len(xs)")]


MEAN = "def mean(xs):\n    tot\n"
BODY = "al = sum(xs)\n    return total / len(xs)"


@pytest.mark.parametrize("client", FIRST_LINE_ONLY)
def test_multi_line_gives_the_first_line_to_clients_without_line_breaks(client: str) -> None:
    got = items_for(client, MEAN, 1, 7, BODY)
    assert got == [item(client, label="total = sum(xs)", new_text="total = sum(xs)",
                        start=(1, 4), end=(1, 7), first_line_only=True,
                        doc="total = sum(xs)\n    return total / len(xs)")]


@pytest.mark.parametrize("client", SNIPPETS)
def test_multi_line_snippet_is_sent_relative_to_the_cursor_indentation(client: str) -> None:
    got = items_for(client, MEAN, 1, 7, BODY)
    assert got == [item(client, label="total = sum(xs)",
                        new_text="total = sum(xs)\nreturn total / len(xs)",
                        start=(1, 4), end=(1, 7), adjust_indentation=True,
                        doc="total = sum(xs)\n    return total / len(xs)")]


@pytest.mark.parametrize("client", CLIENTS)
def test_suggestion_starting_with_a_line_break(client: str) -> None:
    got = items_for(client, "def square(x):\n", 0, 14, "\n    return x * x")
    if client in FIRST_LINE_ONLY:
        assert got == []  # nothing of it fits on the cursor line
        return
    # Neovim 0.11's omnifunc inserts `insertText` (the typed word, here none); expanding
    # clients insert the textEdit; the label says what that is.
    assert got == [item(client, label="return x * x", new_text="\n    return x * x",
                        start=(0, 14), end=(0, 14), filter_text="", insert_text="",
                        adjust_indentation=True, doc="\n    return x * x")]


GREET = "function greet(name) {\n  return `Hello, ${na\n}\n"


@pytest.mark.parametrize("client", CLIENTS)
def test_snippet_characters_are_escaped_only_for_snippet_clients(client: str) -> None:
    got = items_for(client, GREET, 1, 21, "me}!\\n`;", language="javascript")
    new_text = "name\\}!\\\\n`;" if client in SNIPPETS else "name}!\\n`;"
    assert got == [item(client, label="name}!\\n`;", new_text=new_text, start=(1, 19),
                        end=(1, 21), doc="name}!\\n`;", language="javascript")]


PHP = "<?php\nfunction add($a, $b) {\n    $tot\n}\n"


@pytest.mark.parametrize("client", CLIENTS)
def test_dollar_word_is_replaced_whole_and_escaped(client: str) -> None:
    got = items_for(client, PHP, 2, 8, "al = $a + $b;\n    return $total;", language="php")
    doc = "$total = $a + $b;\n    return $total;"
    if client in SNIPPETS:
        expected = item(client, label="$total = $a + $b;", start=(2, 4), end=(2, 8),
                        new_text="\\$total = \\$a + \\$b;\nreturn \\$total;",
                        adjust_indentation=True, doc=doc, language="php")
    else:
        expected = item(client, label="$total = $a + $b;", new_text="$total = $a + $b;",
                        start=(2, 4), end=(2, 8), first_line_only=True, doc=doc,
                        language="php")
    assert got == [expected]


@pytest.mark.parametrize("client", CLIENTS)
def test_one_item_per_label_in_the_model_order(client: str) -> None:
    got = items_for(client, MEAN, 1, 7, BODY,
                    "al = sum(xs)\n    return total / max(len(xs), 1)",  # same label: dropped
                    "al = 0.0")
    assert [i.label for i in got] == ["total = sum(xs)", "total = 0.0"]
    assert [i.preselect for i in got] == [True, False]
    assert [i.sort_text for i in got] == ["00000", "00001"]
    assert got[1] == item(client, label="total = 0.0", new_text="total = 0.0", start=(1, 4),
                          end=(1, 7), doc="total = 0.0", index=1)


@pytest.mark.parametrize("client", CLIENTS)
def test_nothing_new_gives_no_item(client: str) -> None:
    assert items_for(client, MEAN, 1, 7, "   ") == []


CRLF = "def f(name):\r\n    x = '\U0001F600' + na\r\n"


@pytest.mark.parametrize("encoding", [PositionEncoding.UTF16, PositionEncoding.UTF8])
@pytest.mark.parametrize("client", CLIENTS)
def test_range_in_the_client_encoding_and_the_file_line_ending(
    client: str, encoding: PositionEncoding
) -> None:
    # The emoji before the word is 2 UTF-16 code units and 4 UTF-8 bytes.
    end = 17 if encoding == PositionEncoding.UTF16 else 19
    got = items_for(client, CRLF, 1, end, "me\n    return x", encoding=encoding)
    doc = "name\n    return x"
    if client in SNIPPETS:
        expected = item(client, label="name", new_text="name\r\nreturn x", start=(1, end - 2),
                        end=(1, end), adjust_indentation=True, doc=doc)
    else:
        expected = item(client, label="name", new_text="name", start=(1, end - 2),
                        end=(1, end), first_line_only=True, doc=doc)
    assert got == [expected]
