"""Prompt rendering: the layout from stable to volatile that providers' prompt caches need."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

from lsp_server.context.sticky import shared_prefix_ratio
from lsp_server.context.types import PromptContext, Snippet
from lsp_server.model.prompts import (
    HOLE_MARKER,
    SYSTEM_PROMPT,
    CompletionOptions,
    build_completion_request,
    render_context_block,
    render_snippet,
    render_user_message,
)
from lsp_server.text import common_prefix_len

DEF = Snippet("pkg/billing.py", "def total(lines):\n    ...\n", "definition", 1000.0, 3)
SIM = Snippet("pkg/other.py", "x = total(lines)\n", "similar", 0.4, 10)
NEW = Snippet("pkg/aaa.py", "def add(a, b):\n    ...\n", "definition", 500.0, 0)
EDIT = "--- a/pkg/app.py\n+++ b/pkg/app.py\n@@ -1 +1 @@\n-x\n+y\n"


def ctx(snippets: list[Snippet], prefix: str = "def f():\n    y = ", **kw: object) -> PromptContext:
    c = PromptContext(path="pkg/app.py", language_id="python", prefix=prefix, suffix="\n")
    c.snippets = snippets
    return replace(c, **kw)  # type: ignore[arg-type]


def test_snippets_keep_the_given_order() -> None:
    # the engine puts the previous request's snippets first; the renderer must not re-sort
    block = render_context_block(ctx([SIM, DEF]))
    assert block.index("pkg/other.py") < block.index("pkg/billing.py")


def test_the_same_snippet_renders_byte_identical() -> None:
    again = Snippet(DEF.path, DEF.text, DEF.kind, 1.0, DEF.start_line)  # another score
    assert render_snippet(DEF, "python") == render_snippet(again, "python")
    assert render_snippet(DEF, "python") == (
        "File: pkg/billing.py (definition used near the cursor)\n```python\n"
        "def total(lines):\n    ...\n```"
    )


def test_layout_stable_to_volatile() -> None:
    msg = render_user_message(ctx([DEF, SIM], recent_edits=[EDIT]), multiline=False,
                              prefix_mode=False)
    at = [msg.index(s) for s in ("pkg/billing.py", "pkg/other.py", "File: pkg/app.py",
                                 HOLE_MARKER, "recent edits", f"Insert code at {HOLE_MARKER}")]
    assert at == sorted(at)
    assert msg.count(HOLE_MARKER) == 2  # the hole, and the task naming it


def test_a_new_recent_edit_leaves_the_file_cached() -> None:
    """A committed edit changes the edits block after every pause; the file before it (and
    the cursor) stays a shared prefix, so a provider's cache bills only the block again."""
    opts = CompletionOptions(model="m", mode="prefix", multiline=False, prefix_style="mistral")
    first = ctx([DEF, SIM], recent_edits=[EDIT])
    second = ctx([DEF, SIM], recent_edits=[EDIT, "@@ -9 +9 @@\n-x = 1\n+x = 2\n"])
    a = json.dumps(build_completion_request(first, opts).body)
    b = json.dumps(build_completion_request(second, opts).body)
    common = round(shared_prefix_ratio(a, b) * max(len(a), len(b)))
    assert common >= a.index("The user's recent edits") > a.index(HOLE_MARKER, a.index(
        "File: pkg/app.py"))


def test_consecutive_requests_share_everything_before_the_new_material() -> None:
    opts = CompletionOptions(model="m", mode="prefix", multiline=False, prefix_style="mistral")
    first = ctx([DEF, SIM], recent_edits=[EDIT])
    # one more character typed, and a newcomer appended after the snippets already shown
    second = ctx([DEF, SIM, NEW], prefix=first.prefix + "a", recent_edits=[EDIT])
    a = json.dumps(build_completion_request(first, opts).body)
    b = json.dumps(build_completion_request(second, opts).body)
    body_a = build_completion_request(first, opts).body
    assert body_a["messages"][0]["content"] == SYSTEM_PROMPT
    common = round(shared_prefix_ratio(a, b) * max(len(a), len(b)))
    assert common >= a.index("File: pkg/app.py")  # the system prompt and old snippets
    # only typing: everything up to the cursor is shared
    third = ctx([DEF, SIM, NEW], prefix=second.prefix + "b", recent_edits=[EDIT])
    c = json.dumps(build_completion_request(third, opts).body)
    common = round(shared_prefix_ratio(b, c) * max(len(b), len(c)))
    assert common >= b.index(HOLE_MARKER, b.index("File: pkg/app.py"))


# -- promptLayout: file (in order) or suffixFirst (the code after the cursor first) ----------
BELOW = "".join(f"\ndef helper_{n}(x):\n    return x * {n}\n" for n in range(60))


def _typing_bodies(layout: str) -> list[str]:
    """The request bodies while a new line `r0 = 1` is typed above 60 functions, the recent
    edits block showing that line as it grows."""
    opts = CompletionOptions(model="m", mode="prefix", multiline=False,
                             prefix_style="mistral", layout=layout)  # type: ignore[arg-type]
    bodies = []
    line = ""
    for ch in "r0 = 1":
        line += ch
        edit = f"--- a/pkg/app.py\n+++ b/pkg/app.py\n@@ -3 +3 @@\n+    {line}\n"
        c = ctx([DEF, SIM], prefix="def f():\n    y = 2\n    " + line, suffix=BELOW,
                recent_edits=[EDIT, edit])
        bodies.append(json.dumps(build_completion_request(c, opts).body))
    return bodies


def _new_chars(a: str, b: str) -> int:
    """Characters of `b` after the longest prefix it shares with `a` (what a provider's
    prefix cache would not have seen)."""
    return len(b) - common_prefix_len(a, b)


def test_suffix_first_keeps_the_code_below_the_cursor_in_the_cached_prefix() -> None:
    for layout, expect_below_cached in (("file", False), ("suffixFirst", True)):
        bodies = _typing_bodies(layout)
        new = [_new_chars(a, b) for a, b in itertools.pairwise(bodies)]
        below = len(json.dumps(BELOW)) - 2
        if expect_below_cached:
            # only the typed line's end, the edits block and the task are new each time
            assert max(new) < below / 4, (layout, new)
        else:
            assert min(new) > below, (layout, new)


def test_suffix_first_shows_both_parts_once_and_ends_the_file_at_the_hole() -> None:
    c = ctx([DEF], prefix="def f():\n    y = ", suffix="\n    return y\n", suffix_truncated=True,
            recent_edits=[EDIT])
    msg = render_user_message(c, multiline=False, prefix_mode=True, layout="suffixFirst")
    assert msg.count("    return y") == 1 and msg.count("def f():") == 1
    after = msg.index("the code right after the cursor")
    assert msg.index("pkg/billing.py") < after < msg.index("def f():")
    # the second block is the file up to the cursor, closed right after the hole
    assert f"    y = {HOLE_MARKER}\n```\n" in msg
    assert msg.index(HOLE_MARKER) < msg.index("recent edits") < msg.index("Insert code at")
    assert "\n…\n```" in msg  # the cut below the window is still marked
    # the default layout is the file in order, unchanged
    plain = render_user_message(c, multiline=False, prefix_mode=True)
    assert f"    y = {HOLE_MARKER}\n    return y\n\n…" in plain
    assert "right after the cursor" not in plain


def test_suffix_first_without_code_below_shows_one_block() -> None:
    c = ctx([], prefix="x = 1\ny = ", suffix="\n")
    msg = render_user_message(c, multiline=False, prefix_mode=False, layout="suffixFirst")
    assert "after the cursor" not in msg and msg.count("```") == 2
    assert msg.startswith("File: pkg/app.py (python):\n```python\nx = 1\ny = " + HOLE_MARKER)


def test_which_requests_read_the_suffix_first() -> None:
    from lsp_server.model.prompts import suffix_read_first

    assert suffix_read_first("fim", "mistral", "file")  # [SUFFIX]…[PREFIX]… on Mistral
    assert not suffix_read_first("fim", "completions", "suffixFirst")  # the model's template
    assert suffix_read_first("prefix", None, "suffixFirst")
    assert suffix_read_first("chat", None, "suffixFirst")
    assert not suffix_read_first("chat", None, "file")
