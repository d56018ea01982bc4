"""Reply parsing: fenced blocks, tool calls, and clear refusals."""

from __future__ import annotations

import json

import pytest

from lsp_server.actions.parse import (
    ReplyError,
    ToolCallText,
    fenced_blocks,
    parse_code_reply,
    parse_markdown_reply,
)

ORIG = "def add(a, b):\n    return a\n"


def test_single_fenced_block_with_prose() -> None:
    reply = "Sure! Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    assert parse_code_reply(reply, original=ORIG) == "def add(a, b):\n    return a + b\n"


def test_tilde_fence_and_no_language() -> None:
    reply = "~~~\nx = 1\n~~~"
    assert parse_code_reply(reply, original="x = 0\n") == "x = 1\n"


def test_prefers_block_in_document_language() -> None:
    reply = "```bash\npip install x\n```\n\n```python\nx = 2\n```\n"
    assert parse_code_reply(reply, original="x = 0\n", language="python") == "x = 2\n"


def test_unterminated_fence_accepted_unless_truncated() -> None:
    assert parse_code_reply("```python\nx = 3\n", original="x = 0") == "x = 3\n"
    with pytest.raises(ReplyError, match="cut off"):
        parse_code_reply("```python\nx = 3\n", original="x = 0", finish_reason="length")


def test_no_code_block_is_refused() -> None:
    with pytest.raises(ReplyError, match="did not contain a code block"):
        parse_code_reply("I think this code is fine as it is.", original=ORIG)
    with pytest.raises(ReplyError, match="empty"):
        parse_code_reply("   ", original=ORIG)


def test_bare_code_starting_like_the_original_is_accepted() -> None:
    assert parse_code_reply("def add(a, b):\n    return a + b\n", original=ORIG) == (
        "def add(a, b):\n    return a + b\n")


def test_empty_block_for_non_empty_selection_is_refused() -> None:
    with pytest.raises(ReplyError, match="empty code block"):
        parse_code_reply("```python\n```", original=ORIG)


def test_str_replace_tool_call_applies_to_selection() -> None:
    call = ToolCallText("str_replace_editor", json.dumps(
        {"command": "str_replace", "path": "/workspace/a.py", "old_str": "return a",
         "new_str": "return a + b"}))
    assert parse_code_reply("", original=ORIG, tool_calls=[call]) == (
        "def add(a, b):\n    return a + b\n")


def test_str_replace_not_unique_or_missing_is_refused() -> None:
    orig = "x = 1\nx = 1\n"
    call = ToolCallText("str_replace_editor", json.dumps(
        {"command": "str_replace", "old_str": "x = 1", "new_str": "y"}))
    with pytest.raises(ReplyError, match="not unique"):
        parse_code_reply("", original=orig, tool_calls=[call])
    call = ToolCallText("str_replace_editor", json.dumps(
        {"command": "str_replace", "old_str": "zzz", "new_str": "y"}))
    with pytest.raises(ReplyError, match="does not appear"):
        parse_code_reply("", original=orig, tool_calls=[call])


def test_raw_tool_calls_in_content() -> None:
    args = {"command": "str_replace", "old_str": "return a", "new_str": "return b"}
    content = "[TOOL_CALLS]str_replace_editor[ARGS]" + json.dumps(args)
    assert parse_code_reply(content, original=ORIG) == "def add(a, b):\n    return b\n"
    content = "[TOOL_CALLS]" + json.dumps([{"name": "str_replace_editor", "arguments": args}])
    assert parse_code_reply(content, original=ORIG) == "def add(a, b):\n    return b\n"


def test_malformed_tool_arguments_are_refused() -> None:
    call = ToolCallText("str_replace_editor", "{not json")
    with pytest.raises(ReplyError, match="malformed"):
        parse_code_reply("", original=ORIG, tool_calls=[call])


def test_fence_inside_indented_block_is_dedented() -> None:
    blocks, open_ = fenced_blocks("  ```py\n  x = 1\n  ```\n")
    assert not open_ and blocks[0].text == "x = 1\n"


def test_markdown_reply() -> None:
    assert parse_markdown_reply("```markdown\n# Title\ntext\n```") == "# Title\ntext"
    assert parse_markdown_reply("It adds.") == "It adds."
    with pytest.raises(ReplyError):
        parse_markdown_reply("")
