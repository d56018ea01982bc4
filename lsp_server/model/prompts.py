"""Inline-completion prompts for Devstral, a chat model without fill-in-the-middle.

Three ways to ask, chosen by the provider preset and the `promptMode` setting:
- chat: the file with a hole marker, the model answers with the hole's text.
- prefix: the same, plus an assistant message holding the cursor line up to the cursor, which
  the model continues; the answer is anchored at the cursor, so it cannot restate the line.
- fim: `/v1/completions` (or Mistral's `/v1/fim/completions`) with prompt + suffix, for users
  who point completions at a FIM model such as Codestral.

The rendered request is plain JSON, the exact body sent, so `devstral-lsp prompt` can print it.
Material is laid out from most stable to most volatile (system prompt, other files' snippets,
the current file, then the recent edits and the task) so consecutive requests share a long
identical prefix for providers' prompt caching. The snippets keep the context engine's order: it
puts those of the previous request of the document first, as they were, and newcomers after them.
The current file is shown in order by default; the `suffixFirst` layout (`PromptLayout`) shows
the code after the cursor before the code up to it, so that part is cached too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..context.types import PromptContext, Snippet
from .providers import PrefixStyle, PromptLayout, PromptMode

Endpoint = Literal["chat", "completions", "fim"]

HOLE_MARKER = "{{FILL_HERE}}"
"""How the prompt shows the cursor; models sometimes echo it (cleanup removes it)."""

SYSTEM_PROMPT = (
    "You are a code completion engine inside a code editor. The user shows a file in which "
    f"{HOLE_MARKER} marks the cursor. Reply with only the code to insert at the cursor: no "
    "explanations, no markdown fences, and never repeat code that is already before or after "
    "the cursor. Keep the file's indentation, style and language. If nothing belongs there, "
    "reply with nothing."
)

_SINGLE_LINE = "Complete only the current line."
_MULTI_LINE = "Complete the current statement or block (a few lines at most)."

_FENCE_LANG = {
    "javascriptreact": "jsx",
    "typescriptreact": "tsx",
    "shellscript": "bash",
}

_LINE_COMMENT = {
    "python": "#", "ruby": "#", "shellscript": "#", "bash": "#", "sh": "#", "perl": "#",
    "r": "#", "yaml": "#", "toml": "#", "dockerfile": "#", "makefile": "#", "elixir": "#",
    "lua": "--", "sql": "--", "haskell": "--",
}


@dataclass(frozen=True)
class CompletionOptions:
    """Sampling knobs for one inline completion."""

    model: str
    mode: PromptMode
    multiline: bool
    max_tokens: int = 128
    temperature: float = 0.1
    prefix_style: PrefixStyle | None = None
    fim_style: str | None = None
    layout: PromptLayout = "file"


@dataclass
class ModelRequest:
    """One request exactly as it goes on the wire."""

    endpoint: Endpoint
    """chat → /chat/completions, completions → /completions, fim → /fim/completions."""
    body: dict[str, Any]
    assistant_prefix: str = ""
    """Text the model continues from; stripped from the answer if the provider echoes it."""
    stop: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return {"chat": "/chat/completions", "completions": "/completions",
                "fim": "/fim/completions"}[self.endpoint]


def suffix_read_first(mode: PromptMode, fim_style: str | None, layout: PromptLayout) -> bool:
    """Whether the model reads the code after the cursor before the code up to it: Mistral's
    FIM endpoint always does (`[SUFFIX]…[PREFIX]…`), a chat prompt with `suffixFirst`. The
    context engine then keeps the suffix's bottom in place while the user types
    (`ContextEngine.build(stable_suffix=)`), or every call would miss the provider's cache
    from the suffix on."""
    if mode == "fim":
        return fim_style == "mistral"
    return layout == "suffixFirst"


def fence_language(language_id: str) -> str:
    return _FENCE_LANG.get(language_id, language_id or "")


_SNIPPET_LABEL = {
    "definition": "definition used near the cursor",
    "similar": "similar code",
    "recent": "recently viewed",
}


def render_snippet(snip: Snippet, language_id: str) -> str:
    """One snippet with its header: the same snippet always renders to the same text."""
    label = _SNIPPET_LABEL.get(snip.kind, snip.kind)
    fence = fence_language(language_id)
    return f"File: {snip.path} ({label})\n```{fence}\n{snip.text.rstrip()}\n```"


def render_context_block(ctx: PromptContext) -> str:
    """Other files' snippets in the given order.

    The order is the context engine's (the previous request's snippets first): re-sorting here
    would move a newcomer in front of snippets the previous request already showed, and
    providers' prompt caches would miss from there on.
    """
    return "\n\n".join(render_snippet(snip, ctx.language_id) for snip in ctx.snippets)


def render_recent_edits(ctx: PromptContext) -> str:
    """The user's recent edits as one diff block ("" when there are none)."""
    if not ctx.recent_edits:
        return ""
    diffs = "\n".join(d.rstrip() for d in ctx.recent_edits)
    return f"The user's recent edits:\n```diff\n{diffs}\n```"


def render_user_message(ctx: PromptContext, *, multiline: bool, prefix_mode: bool,
                        layout: PromptLayout = "file") -> str:
    """The user turn: context from elsewhere, the current file with the hole, then the recent
    edits and the task.

    Stable to volatile, for providers' prompt caches: the snippets change least, the file
    changes at the cursor, and the recent edits change after every pause in typing (a
    committed edit grows the block). Placed before the file, each such change made the whole
    file after it a cache miss, billed in full; placed after it, a changed block costs only
    itself (`bench/RESULTS.md`, issue 16, billed tokens). `layout`: see `PromptLayout`.
    """
    head = render_context_block(ctx)
    lang = fence_language(ctx.language_id)
    elided_top = "…\n" if ctx.prefix_truncated else ""
    elided_bottom = "\n…" if ctx.suffix_truncated else ""
    task = _MULTI_LINE if multiline else _SINGLE_LINE
    if prefix_mode:
        task += " Continue the code exactly from the cursor."
    edits = render_recent_edits(ctx)
    title = f"File: {ctx.path} ({ctx.language_id or 'text'})"
    if layout == "suffixFirst":
        below = (
            f"{title}, the code right after the cursor:\n```{lang}\n"
            f"{ctx.suffix}{elided_bottom}\n```\n"
            if ctx.suffix.strip() else ""
        )
        shown = (
            f"{below}{title}{', up to the cursor' if below else ''}:\n```{lang}\n"
            f"{elided_top}{ctx.prefix}{HOLE_MARKER}\n```\n"
        )
    else:
        shown = (
            f"{title}\n```{lang}\n"
            f"{elided_top}{ctx.prefix}{HOLE_MARKER}{ctx.suffix}{elided_bottom}\n```\n"
        )
    body = shown + (f"{edits}\n" if edits else "") + f"Insert code at {HOLE_MARKER}. {task}"
    return f"{head}\n\n{body}" if head else body


def assistant_prefix_for(prefix: str) -> str:
    """The cursor line up to the cursor (with the line before it when that part is empty).

    The anchor keeps the continuation aligned with what is already typed; an empty assistant
    message is not accepted as a prefix by every provider, hence the line before.
    """
    line_start = prefix.rfind("\n") + 1
    anchor = prefix[line_start:]
    if anchor or line_start == 0:
        return anchor
    prev_start = prefix.rfind("\n", 0, line_start - 1) + 1
    return prefix[prev_start:]


def _commented(text: str, language_id: str) -> str:
    mark = _LINE_COMMENT.get(language_id, "//")
    return "\n".join(f"{mark} {line}".rstrip() for line in text.splitlines())


def build_completion_request(ctx: PromptContext, opts: CompletionOptions) -> ModelRequest:
    """Render one inline-completion request for the chosen mode."""
    stop: list[str] = []
    if opts.mode == "fim":
        preamble_parts = [
            _commented(f"Path: {s.path}\n{s.text.rstrip()}", ctx.language_id) for s in ctx.snippets
        ]
        preamble_parts.append(_commented(f"Path: {ctx.path}", ctx.language_id))
        prompt = "\n".join(preamble_parts) + "\n" + ctx.prefix
        stop = ["\n\n\n"] if opts.multiline else ["\n"]
        body: dict[str, Any] = {
            "model": opts.model,
            "prompt": prompt,
            "suffix": ctx.suffix,
            "max_tokens": opts.max_tokens,
            "temperature": opts.temperature,
            "stop": stop,
            "stream": True,
        }
        endpoint: Endpoint = "fim" if opts.fim_style == "mistral" else "completions"
        return ModelRequest(endpoint=endpoint, body=body, stop=stop)

    prefix_mode = opts.mode == "prefix"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user",
         "content": render_user_message(ctx, multiline=opts.multiline, prefix_mode=prefix_mode,
                                        layout=opts.layout)},
    ]
    body = {
        "model": opts.model,
        "messages": messages,
        "max_tokens": opts.max_tokens,
        "temperature": opts.temperature,
        "stream": True,
    }
    anchor = ""
    if prefix_mode:
        anchor = assistant_prefix_for(ctx.prefix)
        last: dict[str, Any] = {"role": "assistant", "content": anchor}
        if opts.prefix_style == "mistral":
            last["prefix"] = True
        elif opts.prefix_style == "vllm":
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        messages.append(last)
        # Anchored at the cursor, the answer is raw code: a newline ends a single line.
        if not opts.multiline and "\n" not in anchor:
            stop = ["\n"]
    if stop:
        body["stop"] = stop
    return ModelRequest(endpoint="chat", body=body, assistant_prefix=anchor, stop=stop)


def strip_assistant_prefix(answer: str, anchor: str) -> str:
    """Remove the anchor when the provider repeats it (Mistral does; vLLM does not)."""
    if anchor and answer.startswith(anchor):
        return answer[len(anchor):]
    return answer
