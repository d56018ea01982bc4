"""Per-provider request fields: prompt caching and usage reporting, decided by the preset.

* Mistral (`mistral`, `codestral`) and OpenAI-style APIs (`openai`, `openrouter`) take
  `prompt_cache_key`: a stable id that routes requests sharing a prefix to the same cache. It
  is a hash of the workspace and the role, so no path, name or secret leaves in clear.
* llama.cpp's `llama-server` keeps the KV cache of a shared prefix with `cache_prompt: true`.
* vLLM (automatic prefix caching), Ollama and LM Studio cache a shared prefix by themselves and
  get nothing extra; BazaarLink documents neither field, so it gets none (an unknown field is
  a risk for nothing there).
* Streams ask for usage in their last chunk (`stream_options.include_usage`); endpoints that
  ignore it are measured with Tekken instead (`usage.meter`).
"""

from __future__ import annotations

import hashlib
from typing import Any

CACHE_KEY_PROVIDERS = frozenset({"mistral", "codestral", "openai", "openrouter"})
CACHE_PROMPT_PROVIDERS = frozenset({"llamacpp"})


def prompt_cache_key(scope: str, role: str) -> str:
    """`dlsp-` + 32 hex digits of SHA-256 over the workspace scope and the role.

    Stable for one workspace and role across sessions and machines' restarts; reveals neither.
    """
    digest = hashlib.sha256(f"devstral-lsp\0{scope}\0{role}".encode()).hexdigest()
    return f"dlsp-{digest[:32]}"


def provider_fields(provider: str, *, scope: str, role: str, stream: bool) -> dict[str, Any]:
    """Extra body fields for one request to `provider` (merged under the caller's own)."""
    fields: dict[str, Any] = {}
    if provider in CACHE_KEY_PROVIDERS:
        fields["prompt_cache_key"] = prompt_cache_key(scope, role)
    elif provider in CACHE_PROMPT_PROVIDERS:
        fields["cache_prompt"] = True
    if stream:
        fields["stream_options"] = {"include_usage": True}
    return fields
