"""Typed settings, merged from defaults, environment, initializationOptions and the client.

Precedence, lowest first: defaults ← environment ← `initializationOptions` ←
`workspace/configuration` section `devstral`. Each layer is validated field by field, so one
bad value costs that value only (a clear message, the lower layer's value kept), never the
whole configuration or the server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import attrs
import cattrs

from .model.providers import PRESETS, PromptMode, preset

LogLevel = Literal["error", "warning", "info", "debug"]
CompletionItemsMode = Literal["auto", "always", "never"]
PromptModeSetting = Literal["auto", "chat", "prefix", "fim"]


@attrs.define
class Settings:
    """All user settings; camelCase on the wire (`baseUrl`, `maxTokens`, …)."""

    provider: str = attrs.field(default="mistral")
    """Preset: mistral, openrouter, bazaarlink, vllm, ollama, lmstudio or openai."""
    base_url: str | None = None
    """Override of the preset's endpoint, e.g. `http://localhost:8000/v1`."""
    model: str | None = None
    """Override of the preset's model id."""
    api_key: str | None = attrs.field(default=None, repr=False)
    """The endpoint's key; falls back to DEVSTRAL_API_KEY and the preset's own variable."""
    prompt_mode: PromptModeSetting = "auto"
    """How completions are asked for: chat, prefix (assistant continuation) or fim."""
    temperature: float = 0.1
    max_tokens: int = 128
    """Output cap for one inline completion."""
    timeout_ms: int = 5000
    """Deadline of one completion call; no hidden retries."""
    debounce_ms: int = 120
    """Base debounce for automatic triggers (adapted to typing rhythm); 0 disables."""
    completion_items: CompletionItemsMode = "auto"
    """Offer completion items: auto = only to clients without inline completion."""
    context_tokens: int = 4096
    """Exact Tekken token budget of one completion prompt."""
    multiline: Literal["auto", "always", "never"] = "auto"
    """auto: several lines when the rest of the cursor line is free; never = one-line mode."""
    suggest_in_comments: bool = False
    """Automatic suggestions inside comments (tree-sitter decides); invoked ones always work."""
    suggest_in_strings: bool = False
    """Automatic suggestions inside strings and docstrings; invoked ones always work."""
    disabled_languages: list[str] = attrs.field(factory=list)
    """LSP language ids (`markdown`, `plaintext`, …) that get no suggestions at all."""
    log_level: LogLevel = "info"
    action_timeout_ms: int = 60000
    """Deadline of one code-action model call."""
    edit_max_turns: int = 20
    edit_timeout_ms: int = 180000
    edit_max_tokens: int = 300000
    next_edit: Literal["auto", "onPause", "invoked", "off"] = "auto"
    """Next-edit suggestions: onPause (asked for when you pause after an edit), invoked (only
    on request) or off; auto = onPause for a local (loopback) endpoint, invoked otherwise."""
    daily_budget_usd: float | None = None
    """USD per day (all sessions); when reached, automatic completions pause and invoked
    requests say so without calling the model. User settings only (never a project file)."""
    prices: dict[str, Any] | None = None
    """Price overrides, USD per million tokens, keyed by model id or id prefix:
    `{"my-model": {"input": 0.1, "cachedInput": 0.01, "output": 0.3}}`."""


_BOUNDS: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "max_tokens": (1, 8192),
    "timeout_ms": (100, 600000),
    "debounce_ms": (0, 5000),
    "context_tokens": (256, 120000),
    "action_timeout_ms": (1000, 3600000),
    "edit_max_turns": (1, 200),
    "edit_timeout_ms": (1000, 3600000),
    "edit_max_tokens": (1000, 10_000_000),
}

attrs.resolve_types(Settings)
_converter = cattrs.Converter()
_FIELDS = {f.name: f for f in attrs.fields(Settings)}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_STRING_FIELDS = frozenset(
    name for name, f in _FIELDS.items() if f.type not in (int, float, bool, list[str])
)
CAMEL_TO_FIELD = {_camel(name): name for name in _FIELDS}
SECRET_FIELDS = frozenset({"api_key"})


def _convert_field(name: str, value: Any) -> Any:
    """Structure one value into its field's type, or raise ValueError with a reason."""
    field = _FIELDS[name]
    if value is None:
        if field.default is not None and name not in {"base_url", "model", "api_key",
                                                      "daily_budget_usd", "prices"}:
            raise ValueError("must not be null")
        return None
    if name == "daily_budget_usd":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError("must be a number of US dollars >= 0 (or null for no budget)")
        return float(value)
    if name == "prices":
        from .usage.prices import parse_price

        if not isinstance(value, Mapping):
            raise ValueError("must be an object keyed by model id")
        for model_id, entry in value.items():
            try:
                parse_price(entry)
            except ValueError as exc:
                raise ValueError(f"entry '{model_id}' {exc}") from None
        return dict(value)
    if name == "provider":
        if not isinstance(value, str) or value.lower() not in PRESETS:
            raise ValueError(f"must be one of {', '.join(PRESETS)}")
        return value.lower()
    if isinstance(value, bool) and field.type in (int, float):
        raise ValueError("must be a number")
    if name in _STRING_FIELDS and not isinstance(value, str):
        raise ValueError("must be a string")
    if field.type is bool and not isinstance(value, bool):
        raise ValueError("must be true or false")
    if field.type == list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        return [v.strip().lower() for v in value if v.strip()]
    try:
        converted = _converter.structure(value, field.type)  # type: ignore[arg-type]
    except Exception as exc:  # cattrs raises a family of exceptions; all mean "bad value"
        raise ValueError(f"invalid value {value!r}") from exc
    if name in _BOUNDS:
        low, high = _BOUNDS[name]
        if not low <= converted <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
    if isinstance(converted, str) and name in {"base_url", "model", "api_key"}:
        converted = converted.strip() or None
    if name == "base_url" and converted and not converted.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return converted


def apply_layer(settings: Settings, layer: Mapping[str, Any] | None, source: str) -> list[str]:
    """Apply one camelCase layer in place; return one problem line per rejected key."""
    problems: list[str] = []
    if not layer:
        return problems
    if not isinstance(layer, Mapping):
        return [f"{source}: settings must be an object, got {type(layer).__name__}"]
    for key, value in layer.items():
        name = CAMEL_TO_FIELD.get(key) or (key if key in _FIELDS else None)
        if name is None:
            problems.append(f"{source}: unknown setting '{key}' ignored")
            continue
        try:
            setattr(settings, name, _convert_field(name, value))
        except ValueError as exc:
            shown = "***" if name in SECRET_FIELDS else repr(value)
            problems.append(f"{source}: '{key}' = {shown} {exc}; kept {_shown(settings, name)}")
    return problems


def _shown(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if name in SECRET_FIELDS:
        return "the previous key" if value else "no key"
    return repr(value)


def env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings the environment asks for, as a camelCase layer."""
    layer: dict[str, Any] = {}
    if environ.get("DEVSTRAL_PROVIDER"):
        layer["provider"] = environ["DEVSTRAL_PROVIDER"]
    elif environ.get("MISTRAL_API_KEY"):
        layer["provider"] = "mistral"
    elif environ.get("OPENAI_BASE_URL"):
        layer["provider"] = "openai"
    for var, key in (
        ("DEVSTRAL_BASE_URL", "baseUrl"),
        ("DEVSTRAL_MODEL", "model"),
        ("DEVSTRAL_API_KEY", "apiKey"),
        ("DEVSTRAL_LOG_LEVEL", "logLevel"),
    ):
        if environ.get(var):
            layer[key] = environ[var].lower() if key == "logLevel" else environ[var]
    return layer


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to call the model, resolved from settings + preset + environment."""

    provider: str
    base_url: str | None
    model: str | None
    api_key: str | None = None
    prompt_mode: PromptMode = "chat"
    prefix_style: str | None = None
    fim_style: str | None = None
    key_source: str = ""

    def problem(self) -> str | None:
        """What the user must set before any request can be sent, or None."""
        p = preset(self.provider)
        if not self.base_url:
            return (
                "devstral-lsp has no endpoint: set DEVSTRAL_BASE_URL (or OPENAI_BASE_URL, or the "
                "`baseUrl` setting) to an OpenAI-compatible URL such as http://localhost:8000/v1"
            )
        if not self.model:
            return "devstral-lsp has no model: set DEVSTRAL_MODEL or the `model` setting"
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


def resolve_endpoint(settings: Settings, environ: Mapping[str, str] | None = None) -> Endpoint:
    """Combine settings with the preset's defaults and the provider's own key variable."""
    environ = os.environ if environ is None else environ
    p = preset(settings.provider)
    base_url = settings.base_url or p.base_url
    if not base_url and p.name == "openai":
        base_url = environ.get("OPENAI_BASE_URL") or None
    key, source = settings.api_key, "settings"
    if not key and p.key_env and environ.get(p.key_env):
        key, source = environ[p.key_env], p.key_env
    mode: PromptMode
    if settings.prompt_mode == "auto" or settings.prompt_mode not in p.modes:
        mode = p.modes[0]
    else:
        mode = settings.prompt_mode
    return Endpoint(
        provider=p.name,
        base_url=base_url.rstrip("/") if base_url else None,
        model=settings.model or p.model,
        api_key=key,
        prompt_mode=mode,
        prefix_style=p.prefix_style,
        fim_style=p.fim_style,
        key_source=source if key else "",
    )


def prompt_mode_problem(settings: Settings) -> str | None:
    """Explain a promptMode the chosen provider cannot serve (it falls back to the default)."""
    p = preset(settings.provider)
    if settings.prompt_mode != "auto" and settings.prompt_mode not in p.modes:
        return (
            f"promptMode '{settings.prompt_mode}' is not supported by provider '{p.name}' "
            f"(supported: {', '.join(p.modes)}); using '{p.modes[0]}'"
        )
    return None


PROJECT_FILE = ".devstral.json"
USER_ONLY = frozenset({"dailyBudgetUsd", "prices"})
"""A repository must not raise the user's budget nor price its model at zero."""
_KEY_VARS = ("DEVSTRAL_API_KEY", "MISTRAL_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY",
             "BAZAARLINK_API_KEY")


def project_layer(
    layer: Mapping[str, Any] | None,
    *,
    environ: Mapping[str, str],
    user_layers: list[Mapping[str, Any] | None],
) -> tuple[dict[str, Any], list[str]]:
    """The part of a repository's `.devstral.json` that may apply, and what was refused.

    A cloned repository controls this file, so it must never be able to carry a key, nor send
    the user's key somewhere else: `apiKey` is always refused, and `baseUrl`/`provider` are
    refused while a user-level key is in use (environment, initializationOptions or the
    editor's settings).
    """
    layer = _unwrap(layer)
    if not layer:
        return {}, []
    if not isinstance(layer, Mapping):
        return {}, [f"{PROJECT_FILE}: must hold a JSON object; ignored"]
    user_key = any(environ.get(v) for v in _KEY_VARS) or any(
        isinstance(u, Mapping) and (_unwrap(u) or {}).get("apiKey") for u in user_layers
    )
    allowed: dict[str, Any] = {}
    refused: list[str] = []
    for key, value in layer.items():
        if key in USER_ONLY:
            refused.append(f"{PROJECT_FILE}: '{key}' is refused in project settings; it is "
                           "yours to set, in your editor settings")
        elif key == "apiKey":
            refused.append(f"{PROJECT_FILE}: 'apiKey' is refused in project settings; set the "
                           "key in your environment or editor settings")
        elif key in ("baseUrl", "provider") and user_key:
            refused.append(f"{PROJECT_FILE}: '{key}' is refused while your own API key is in "
                           "use (a repository must not redirect your key)")
        else:
            allowed[key] = value
    return allowed, refused


def build_settings(
    environ: Mapping[str, str] | None = None,
    init_options: Mapping[str, Any] | None = None,
    client_config: Mapping[str, Any] | None = None,
    project: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[str]]:
    """Merge every layer in precedence order; return the settings and the problems found.

    Order: defaults ← environment ← project file (`.devstral.json`, filtered) ←
    initializationOptions ← workspace/configuration.
    """
    environ = os.environ if environ is None else environ
    settings = Settings()
    problems = apply_layer(settings, env_layer(environ), "environment")
    allowed, refused = project_layer(project, environ=environ,
                                     user_layers=[init_options, client_config])
    problems += refused
    problems += apply_layer(settings, allowed, PROJECT_FILE)
    problems += apply_layer(settings, _unwrap(init_options), "initializationOptions")
    problems += apply_layer(settings, _unwrap(client_config), "workspace/configuration")
    if (mode_problem := prompt_mode_problem(settings)) is not None:
        problems.append(mode_problem)
    return settings, problems


def _unwrap(layer: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Accept both `{...}` and `{"devstral": {...}}`, as editors send either shape."""
    if isinstance(layer, Mapping) and isinstance(layer.get("devstral"), Mapping):
        return layer["devstral"]
    return layer


def settings_to_wire(settings: Settings, *, mask_key: bool = True) -> dict[str, Any]:
    """camelCase dict of the settings, key masked: for `doctor` and the log."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(settings, name)
        if name in SECRET_FIELDS and mask_key:
            value = "***" if value else None
        out[_camel(name)] = value
    return out
