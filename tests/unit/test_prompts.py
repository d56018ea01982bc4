"""Prompt rendering: the layout from stable to volatile that providers' prompt caches need."""

from __future__ import annotations

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
