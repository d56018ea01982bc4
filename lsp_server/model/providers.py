"""Provider presets: where each OpenAI-compatible endpoint lives and how to prompt it.

Devstral has no fill-in-the-middle, so what a provider can do decides the prompt: Mistral's
API continues an assistant message marked `prefix: true` (and repeats that prefix), vLLM
continues the final message with `continue_final_message`, OpenRouter-style endpoints continue
a trailing assistant message ("prefill"), and the rest only answer plain chat. FIM is offered
where the endpoint has one, for users who point completions at a FIM model such as Codestral.

Model ids change (Mistral's API retired every Devstral model during 2026), so a preset's
`model` is only a fallback that is served today: `model/discovery.py` lists what the endpoint
serves and picks from it (a Devstral model first, then the preset's `successors`). Facts as of
December 2026: see `shared/design.md`, "Providers in December 2026".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PromptMode = Literal["chat", "prefix", "fim"]
PrefixStyle = Literal["mistral", "vllm", "prefill"]
FimStyle = Literal["mistral", "completions"]
PromptLayout = Literal["file", "suffixFirst"]
"""How the chat prompt shows the current file.

- `file`: the file in order, the hole at the cursor. What a reader expects; but everything after
  the cursor line (the code below it, the edits, the task) changes position with every typed
  line, so providers' prefix caches never hit it: on a paid endpoint it is most of the input
  billed at full price, and a local runtime re-reads it on every call.
- `suffixFirst`: the code after the cursor in its own block first, then the file up to the
  cursor ending at the hole — the order Mistral's own fill-in-the-middle format uses
  (`[SUFFIX]…[PREFIX]…`). While the user types, only the end of the second block, the edits
  and the task are new to the cache (rendered in `model/prompts.py`; figures in
  `bench/RESULTS.md`, issue 16, billed tokens per layout).
"""

AUTO = "auto"
"""`provider: auto` (the default): chosen from the keys and URLs the user set, else a local
runtime found on loopback (see `resolve_provider` in config.py)."""


@dataclass(frozen=True)
class Preset:
    """What the server knows about one kind of endpoint."""

    name: str
    base_url: str | None
    model: str | None
    """Fallback model id, served today; discovery may choose better. None: discovery only."""
    modes: tuple[PromptMode, ...]
    """Prompt modes the endpoint supports; the first is the default for `promptMode: auto`."""
    key_env: str | None
    """Environment variable conventionally holding this provider's key."""
    needs_key: bool
    prefix_style: PrefixStyle | None = None
    fim_style: FimStyle | None = None
    label: str = ""
    local: bool = False
    """A runtime on the user's machine (no key, no cost; probed on loopback when nothing is set)."""
    completion_model: str | None = None
    """Default model of the completion role when it differs from the main one (fast/FIM)."""
    successors: tuple[str, ...] = ()
    """Models to prefer, in order, when the endpoint serves no Devstral model."""
    setup: str = ""
    """What to run or set when this provider serves nothing usable (shown in messages)."""


PRESETS: dict[str, Preset] = {
    "mistral": Preset(
        name="mistral",
        base_url="https://api.mistral.ai/v1",
        # No Devstral model is served by Mistral's API any more (the last retired 2026-07-31);
        # Mistral names Mistral Small 4 as the successor, Codestral for FIM.
        model="mistral-small-latest",
        modes=("prefix", "chat", "fim"),
        key_env="MISTRAL_API_KEY",
        needs_key=True,
        prefix_style="mistral",
        fim_style="mistral",
        label="Mistral API",
        completion_model="codestral-latest",
        successors=("mistral-small-latest", "mistral-small-2603", "mistral-medium-3-5",
                    "mistral-medium-latest"),
        setup="set MISTRAL_API_KEY (https://console.mistral.ai)",
    ),
    "codestral": Preset(
        name="codestral",
        base_url="https://codestral.mistral.ai/v1",
        model="codestral-latest",
        modes=("fim", "chat", "prefix"),
        key_env="CODESTRAL_API_KEY",
        needs_key=True,
        prefix_style="mistral",
        fim_style="mistral",
        label="Codestral (codestral.mistral.ai)",
        successors=("codestral-latest", "codestral-2508"),
        setup="set CODESTRAL_API_KEY (the Codestral key from https://console.mistral.ai)",
    ),
    "openrouter": Preset(
        name="openrouter",
        base_url="https://openrouter.ai/api/v1",
        model="mistralai/devstral-2512",
        modes=("chat", "prefix"),
        key_env="OPENROUTER_API_KEY",
        needs_key=True,
        prefix_style="prefill",
        label="OpenRouter",
        completion_model="mistralai/devstral-small",
        successors=("mistralai/devstral-2512", "mistralai/devstral-small"),
        setup="set OPENROUTER_API_KEY",
    ),
    "bazaarlink": Preset(
        name="bazaarlink",
        base_url="https://bazaarlink.ai/api/v1",
        model="mistralai/devstral-small",
        modes=("chat",),
        key_env="BAZAARLINK_API_KEY",
        needs_key=True,
        label="BazaarLink",
        successors=("mistralai/devstral-small",),
        setup="set BAZAARLINK_API_KEY",
    ),
    "vllm": Preset(
        name="vllm",
        base_url="http://localhost:8000/v1",
        model="mistralai/Devstral-Small-2-24B-Instruct-2512",
        modes=("prefix", "chat", "fim"),
        key_env=None,
        needs_key=False,
        prefix_style="vllm",
        fim_style="completions",
        label="vLLM",
        local=True,
        setup=("vllm serve mistralai/Devstral-Small-2-24B-Instruct-2512 --tokenizer-mode mistral "
               "--config-format mistral --load-format mistral --tool-call-parser mistral "
               "--enable-auto-tool-choice"),
    ),
    "ollama": Preset(
        name="ollama",
        base_url="http://localhost:11434/v1",
        model="devstral-small-2",
        modes=("chat", "fim"),
        key_env=None,
        needs_key=False,
        fim_style="completions",
        label="Ollama",
        local=True,
        setup="ollama pull devstral-small-2",
    ),
    "lmstudio": Preset(
        name="lmstudio",
        base_url="http://localhost:1234/v1",
        model=None,  # LM Studio lists what the user downloaded; discovery picks from it
        modes=("chat",),
        key_env=None,
        needs_key=False,
        label="LM Studio",
        local=True,
        setup="download Devstral Small 2 in LM Studio and start its server (lms server start)",
    ),
    "llamacpp": Preset(
        name="llamacpp",
        base_url="http://localhost:8080/v1",
        model=None,  # llama-server serves the one GGUF it was started with
        modes=("chat", "prefix"),
        key_env=None,
        needs_key=False,
        prefix_style="prefill",
        label="llama.cpp (llama-server)",
        local=True,
        setup="llama-server --jinja -m <a Devstral-Small-2-24B-Instruct-2512 GGUF>",
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
        setup="set DEVSTRAL_BASE_URL (or OPENAI_BASE_URL) and DEVSTRAL_MODEL",
    ),
}

LOCAL_PROBE_ORDER: tuple[tuple[str, int], ...] = (
    ("ollama", 11434), ("lmstudio", 1234), ("vllm", 8000), ("llamacpp", 8080))
"""Local runtimes' default ports, probed on 127.0.0.1 in this order when nothing is set."""

KEY_ENV_VARS: tuple[str, ...] = ("DEVSTRAL_API_KEY", *dict.fromkeys(
    p.key_env for p in PRESETS.values() if p.key_env))
"""Every environment variable that may hold a user's key: the one list the settings, the
log's key masking and the tests' environment scrubbing share."""


def preset(name: str) -> Preset:
    """Return the preset for `name` (validated by the settings layer beforehand)."""
    return PRESETS[name]
