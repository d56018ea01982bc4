"""`Endpoint`: everything one model call needs (provider, URL, model, key, prompt mode).

It lives in `model/` because the gateway, its error translation and discovery take one; the
resolution from settings, presets, environment and discovery stays in `lsp_server/endpoints.py`,
which imports this. With the type here, `model/` never imports `config`/`endpoints`, so the
`config -> model -> config` cycle is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .providers import AUTO, PromptMode, preset

Role = Literal["main", "completion"]


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to call the model for one role, resolved from settings + preset +
    environment + what discovery found."""

    provider: str
    base_url: str | None
    model: str | None
    api_key: str | None = None
    prompt_mode: PromptMode = "chat"
    prefix_style: str | None = None
    fim_style: str | None = None
    key_source: str = ""
    role: Role = field(default="main", compare=False)
    model_source: str = field(default="", compare=False)
    closest: tuple[str, ...] = field(default=(), compare=False)
    """Served models closest to a `model` the endpoint does not list (for the 404 message)."""
    searching: bool = field(default=False, compare=False)
    """Nothing is configured and the local probe has not answered yet."""
    probe_message: str = field(default="", compare=False)
    """What the local probe found instead of a Devstral model (what to run), if anything."""

    def problem(self) -> str | None:
        """What the user must set before any request can be sent, or None."""
        if self.provider == AUTO:
            return self.probe_message or no_endpoint_message(self.searching)
        p = preset(self.provider)
        if not self.base_url:
            return (
                "devstral-lsp has no endpoint: set DEVSTRAL_BASE_URL (or OPENAI_BASE_URL, or the "
                "`baseUrl` setting) to an OpenAI-compatible URL such as http://localhost:8000/v1"
            )
        if not self.model:
            hint = f" ({p.setup})" if p.local and p.setup else ""
            return (f"devstral-lsp has no model: {self.base_url} lists none to use{hint}; set "
                    "DEVSTRAL_MODEL or the `model` setting")
        if p.needs_key and not self.api_key:
            vars_ = " or ".join(v for v in ("DEVSTRAL_API_KEY", p.key_env) if v)
            return (
                f"devstral-lsp needs an API key for {p.label}: set {vars_} "
                "(or the `apiKey` setting)"
            )
        return None

    def masked_key(self) -> str:
        """The key as it may be shown: never more than its last four characters."""
        if not self.api_key:
            return "(none)"
        return "…" + self.api_key[-4:] if len(self.api_key) > 12 else "***"

    def not_found_hint(self) -> str:
        """Appended to a 404: the served models closest to the configured one."""
        if not self.closest:
            return ""
        return f"; closest served: {', '.join(self.closest)}"

    def describe(self) -> str:
        """`model X at URL (provider, promptMode)`, for logs and `doctor`."""
        return (f"{self.model or '(none)'} at {self.base_url or '(no endpoint)'} "
                f"({self.provider}, promptMode {self.prompt_mode})")


def no_endpoint_message(searching: bool = False) -> str:
    """The one message for "nothing configured, nothing local": what to run or set."""
    if searching:
        return "devstral-lsp is looking for a local model server (Ollama, LM Studio, vLLM, …)"
    return (
        "devstral-lsp has no model: no API key or endpoint is set and no local runtime "
        "(Ollama :11434, LM Studio :1234, vLLM :8000, llama.cpp :8080) serves a Devstral model. "
        "Run `ollama pull devstral-small-2` (then retry), or set MISTRAL_API_KEY "
        "(or DEVSTRAL_API_KEY), or DEVSTRAL_PROVIDER and DEVSTRAL_BASE_URL"
    )
