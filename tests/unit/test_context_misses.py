"""The four causes of context misses from issue 14 (item 8), each on its smallest example;
bench/bench_context.py --heldout bench/data/context_heldout measures them on a held-out set."""

from __future__ import annotations

from pathlib import Path

from lsp_server.context.definitions import MAX_DOC_LINES, extract
from lsp_server.context.names import _module_target, rank_names, receiver_type


def test_capitalised_stop_words_are_names() -> None:
    text = "return nodes.Continue("
    assert "Continue" in rank_names(text, len(text), "python")
    text = "x = If(a)\ncontinue\n"
    ranked = rank_names(text, len(text), "python")
    assert "If" in ranked and "continue" not in ranked


def test_rust_crate_super_and_self_paths_resolve_against_the_file() -> None:
    here = Path("/w/src/parser/expr.rs")
    assert _module_target("super", here) == (("/", "w", "src", "parser"), True)
    assert _module_target("crate", here) == (("/", "w", "src"), True)
    assert _module_target("crate::util", here) == (("/", "w", "src", "util"), True)
    assert _module_target("self::cursor", Path("/w/src/parser/mod.rs")) == (
        ("/", "w", "src", "parser", "cursor"), True)
    assert _module_target("super::super::x", Path("/w/src/a/b/c.rs")) == (
        ("/", "w", "src", "a", "x"), True)


def test_receiver_type_from_constructor_and_annotation() -> None:
    py = "class P:\n    def __init__(self):\n        self._live = Live(c)\n    def s(self):\n"
    py += "        self._live.start("
    assert receiver_type(py, len(py), "_live") == "Live"
    py = "def merge(url: httpx.URL):\n    return url.copy_with("
    assert receiver_type(py, len(py), "url") == "URL"
    ts = "this.http = new HttpClient(base);\nthis.http.send("
    assert receiver_type(ts, len(ts), "http") == "HttpClient"
    rs = "fn f(p: &mut Parser) {\n    p.advance("
    assert receiver_type(rs, len(rs), "p") == "Parser"
    go = "func run(c *Client) {\n\tc.Send("
    assert receiver_type(go, len(go), "c") == "Client"
    assert receiver_type("x = make()\nx.go(", 15, "x") is None
    assert receiver_type("self.go(", 8, "self") is None


def test_long_doc_comment_keeps_the_signature() -> None:
    doc = "".join(f"/// line {i} of a long explanation\n" for i in range(40))
    src = doc + "pub fn normalize(path: &str) -> String {\n    path.to_string()\n}\n"
    [d] = [d for d in extract(Path("/w/src/util.rs"), src, "rust").definitions
           if d.name == "normalize"]
    assert "pub fn normalize(path: &str) -> String" in d.text
    assert d.text.count("///") <= MAX_DOC_LINES
    assert d.text.startswith("/// line 0")  # the comment is shortened, not dropped
