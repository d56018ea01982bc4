"""Where automatic suggestions are wanted: tree-sitter's view of comments and strings."""

from __future__ import annotations

import pytest

from lsp_server.completion.placement import automatic_blocked, cursor_place
from lsp_server.config import Settings, build_settings


def place(marked: str, lang: str) -> str | None:
    offset = marked.index("|")
    text = marked.replace("|", "", 1)
    return cursor_place(lambda a, b: text[max(a, 0):max(b, 0)], offset, lang)


@pytest.mark.parametrize(("marked", "lang", "expected"), [
    ("x = 1  # hello |\ny = 2\n", "python", "comment"),
    ('x = "abc|"\n', "python", "string"),
    ('x = "abc"|\n', "python", None),
    ('x = "abc|\n', "python", "string"),  # still typing: no closing quote yet
    ('def f():\n    """Doc |\n    x = 1\n', "python", "string"),
    ('def f():\n    """Doc."""\n    return |\n', "python", None),
    ("def f():\n    return |\n", "python", None),
    ('x = "abc"\ny = f(|\n', "python", None),
    ("// note |\nlet x = 1;\n", "javascript", "comment"),
    ("/* a */|\nlet x = 1;\n", "javascript", None),
    ("/* a |*/\nlet x = 1;\n", "javascript", "comment"),
    ("const s = `hi ${|}`;\n", "javascript", "string"),
    ('const s = "ab|\nlet y = 2;\n', "javascript", "string"),
    ("const s = f(|\n", "javascript", None),
    ("const s: string = 'ab|';\n", "typescript", "string"),
    ("function f(): number {\n  return |\n}\n", "typescript", None),
    ("fn main() { // c |\n}\n", "rust", "comment"),
    ('fn main() { let s = "x|"; }\n', "rust", "string"),
    ('package main\nfunc f() { s := "ab|" }\n', "go", "string"),
    ("package main\nfunc f() {\n\t|\n}\n", "go", None),
    ("# a heading |\n", "markdown", None),  # no grammar: not filtered
])
def test_cursor_place(marked: str, lang: str, expected: str | None) -> None:
    assert place(marked, lang) == expected


def test_comment_far_above_the_window_is_not_seen() -> None:
    # Documented limit: only WINDOW_LINES around the cursor are parsed.
    text = '"""\n' + "word\n" * 400 + "|\n"
    assert place(text, "python") is None


def test_automatic_blocked_follows_the_settings() -> None:
    text = "x = 1  # hello \n"
    read = lambda a, b: text[max(a, 0):max(b, 0)]  # noqa: E731
    offset = text.index("\n")
    assert automatic_blocked(Settings(), read, offset, "python") is not None
    on, problems = build_settings({}, {"suggestInComments": True})
    assert not problems and automatic_blocked(on, read, offset, "python") is None
    off, _ = build_settings({}, {"disabledLanguages": ["Python"]})
    assert off.disabled_languages == ["python"]
    assert automatic_blocked(off, read, 0, "python") == "language python is disabled"


def test_placement_settings_are_validated() -> None:
    settings, problems = build_settings(
        {}, {"suggestInStrings": "yes", "disabledLanguages": "markdown", "multiline": "never"})
    assert settings.suggest_in_strings is False and settings.disabled_languages == []
    assert settings.multiline == "never"  # the one-line mode
    assert len(problems) == 2
