"""Provider presets: where each OpenAI-compatible endpoint lives and how to prompt it.

Devstral has no fill-in-the-middle, so what a provider can do decides the prompt: Mistral's
API continues an assistant message marked `prefix: true` (and repeats that prefix), vLLM
continues the final message with `continue_final_message`, OpenRouter-style endpoints continue
a trailing assistant message ("prefill"), and the rest only answer plain chat. FIM is offered
where the endpoint has one, for users who point completions at a FIM model such as Codestral.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PromptMode = Literal["chat", "prefix", "fim"]
PrefixStyle = Literal["mistral", "vllm", "prefill"]
FimStyle = Literal["mistral", "completions"]


@dataclass(frozen=True)
class Preset:
    """What the server knows about one kind of endpoint."""

    name: str
    base_url: str | None
    model: str | None
    modes: tuple[PromptMode, ...]
    """Prompt modes the endpoint supports; the first is the default for `promptMode: auto`."""
    key_env: str | None
    """Environment variable conventionally holding this provider's key."""
    needs_key: bool
    prefix_style: PrefixStyle | None = None
    fim_style: FimStyle | None = None
    label: str = ""


PRESETS: dict[str, Preset] = {
    "mistral": Preset(
        name="mistral",
        base_url="https://api.mistral.ai/v1",
        model="devstral-small-latest",
        modes=("prefix", "chat", "fim"),
        key_env="MISTRAL_API_KEY",
        needs_key=True,
        prefix_style="mistral",
        fim_style="mistral",
        label="Mistral API",
    ),
    "openrouter": Preset(
        name="openrouter",
        base_url="https://openrouter.ai/api/v1",
        model="mistralai/devstral-small",
        modes=("chat", "prefix"),
        key_env="OPENROUTER_API_KEY",
        needs_key=True,
        prefix_style="prefill",
        label="OpenRouter",
    ),
    "bazaarlink": Preset(
        name="bazaarlink",
        base_url="https://bazaarlink.ai/api/v1",
        model="mistralai/devstral-small",
        modes=("chat",),
        key_env="BAZAARLINK_API_KEY",
        needs_key=True,
        label="BazaarLink",
    ),
    "vllm": Preset(
        name="vllm",
        base_url="http://localhost:8000/v1",
        model="mistralai/Devstral-Small-2507",
        modes=("prefix", "chat", "fim"),
        key_env=None,
        needs_key=False,
        prefix_style="vllm",
        fim_style="completions",
        label="vLLM",
    ),
    "ollama": Preset(
        name="ollama",
        base_url="http://localhost:11434/v1",
        model="devstral",
        modes=("chat", "fim"),
        key_env=None,
        needs_key=False,
        fim_style="completions",
        label="Ollama",
    ),
    "lmstudio": Preset(
        name="lmstudio",
        base_url="http://localhost:1234/v1",
        model="devstral-small-2507",
        modes=("chat",),
        key_env=None,
        needs_key=False,
        label="LM Studio",
    ),
    "openai": Preset(
        name="openai",
        base_url=None,
        model=None,
        modes=("chat", "fim"),
        key_env="OPENAI_API_KEY",
        needs_key=False,
        fim_style="completions",
        label="any OpenAI-compatible endpoint",
    ),
}


def preset(name: str) -> Preset:
    """Return the preset for `name` (validated by the settings layer beforehand)."""
    return PRESETS[name]
