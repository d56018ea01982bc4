"""Endpoints per role: settings + preset + environment + what discovery found.

Two roles: completions want speed (a FIM model such as Codestral, or a local Devstral with
prefix continuation), code actions and the edit agent want Devstral's tool use; each role gets
its own `Endpoint`, which `doctor`, `prompt` and the log describe.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .model.discovery import LocalRuntime, ServedModels, choose_model, closest_models
from .model.endpoint import Endpoint, Role
from .model.providers import AUTO, PRESETS, Preset, PromptMode, preset

if TYPE_CHECKING:
    from .config import Settings

def resolve_provider(settings: Settings, environ: Mapping[str, str]) -> tuple[str, str]:
    """The preset to use and why (`provider: auto` follows the keys and URLs set)."""
    if settings.provider != AUTO:
        return settings.provider, ""
    if settings.base_url:
        return "openai", "auto: baseUrl is set"
    for name in ("mistral", "openrouter", "bazaarlink", "codestral"):
        var = PRESETS[name].key_env
        if var and environ.get(var):
            return name, f"auto: {var} is set"
    if environ.get("OPENAI_BASE_URL"):
        return "openai", "auto: OPENAI_BASE_URL is set"
    if settings.api_key:
        return "mistral", "auto: a key is set"
    return AUTO, "auto: nothing set, probing local runtimes"


def _auto_mode(p: Preset, model: str | None, served: ServedModels | None) -> PromptMode:
    """`promptMode: auto`: FIM where the endpoint says the model has FIM, else the preset's."""
    info = served.get(model) if served and model else None
    fim_capable = info.fim if info is not None and info.fim is not None else (
        bool(model) and "codestral" in (model or "").lower())
    if fim_capable and p.fim_style and "fim" in p.modes:
        return "fim"
    return next((m for m in p.modes if m != "fim"), p.modes[0])


def resolve_endpoint(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    sources: Mapping[str, str] | None = None,
    served: Mapping[str, ServedModels] | None = None,
    local: LocalRuntime | None = None,
    searching: bool = False,
    probe_message: str = "",
) -> Endpoint:
    """The main role's endpoint (code actions, the agent): settings + preset + discovery."""
    environ = os.environ if environ is None else environ
    sources = sources or {}
    name, _why = resolve_provider(settings, environ)
    if name == AUTO and local is not None:
        name = local.provider
    if name == AUTO:
        return Endpoint(provider=AUTO, base_url=None, model=None, searching=searching,
                        probe_message=probe_message)
    p = preset(name)
    base_url = settings.base_url or (local.base_url if local and local.provider == name
                                     else p.base_url)
    if not base_url and p.name == "openai":
        base_url = environ.get("OPENAI_BASE_URL") or None
    base_url = base_url.rstrip("/") if base_url else None
    key, key_source = settings.api_key, sources.get("api_key", "")
    if not key and p.key_env and environ.get(p.key_env):
        key, key_source = environ[p.key_env], f"environment ({p.key_env})"
    listed = (served or {}).get(base_url or "")
    model, model_source = _pick_model(settings.model, sources.get("model"), p, listed,
                                      role="main")
    return _endpoint(p, base_url, model, key, key_source, settings, listed, "main",
                     model_source)


def resolve_completion_endpoint(
    settings: Settings,
    main: Endpoint,
    environ: Mapping[str, str] | None = None,
    *,
    sources: Mapping[str, str] | None = None,
    served: Mapping[str, ServedModels] | None = None,
) -> Endpoint:
    """The completion role's endpoint: its own preset/URL/model/key where set, with the
    preset's fast default (e.g. Codestral FIM on Mistral's API), else the main endpoint."""
    environ = os.environ if environ is None else environ
    sources = sources or {}
    if main.provider == AUTO and not settings.completion_provider:
        return attrs_replace(main, role="completion")
    own = settings.completion_provider
    p = preset(own or main.provider)
    if own:
        base_url = settings.completion_base_url or p.base_url
    else:
        base_url = settings.completion_base_url or main.base_url
    base_url = base_url.rstrip("/") if base_url else None
    key, key_source = settings.completion_api_key, sources.get("completion_api_key", "")
    if not key and own and p.key_env and environ.get(p.key_env):
        key, key_source = environ[p.key_env], f"environment ({p.key_env})"
    if not key and main.api_key and _same_host(base_url, main.base_url):
        key, key_source = main.api_key, main.key_source
    listed = (served or {}).get(base_url or "")
    model: str | None
    if settings.completion_model:
        model, model_source = settings.completion_model, sources.get("completion_model", "")
    elif not own and settings.model and base_url == main.base_url:
        model, model_source = main.model, main.model_source
    elif not own and not p.completion_model and base_url == main.base_url:
        model, model_source = main.model, main.model_source
    else:
        model, model_source = _pick_model(None, None, p, listed, role="completion")
    return _endpoint(p, base_url, model, key, key_source, settings, listed, "completion",
                     model_source)


def attrs_replace(endpoint: Endpoint, **changes: Any) -> Endpoint:
    return dataclasses.replace(endpoint, **changes)


def _same_host(a: str | None, b: str | None) -> bool:
    return bool(a and b) and urlsplit(a or "").netloc == urlsplit(b or "").netloc


def _pick_model(named: str | None, named_source: str | None, p: Preset,
                listed: ServedModels | None, *, role: Role) -> tuple[str | None, str]:
    if named:
        return named, named_source or "settings"
    if listed is not None:
        chosen = choose_model(listed, p, role)
        if chosen:
            return chosen, f"discovered at {listed.base_url}"
    fallback = p.completion_model if role == "completion" and p.completion_model else p.model
    return fallback, f"default of the {p.name} preset" if fallback else ""


def _endpoint(p: Preset, base_url: str | None, model: str | None, key: str | None,
              key_source: str, settings: Settings, listed: ServedModels | None, role: Role,
              model_source: str) -> Endpoint:
    mode: PromptMode
    if settings.prompt_mode == "auto" or settings.prompt_mode not in p.modes:
        mode = _auto_mode(p, model, listed)
    else:
        mode = settings.prompt_mode
    closest: tuple[str, ...] = ()
    if listed is not None and model and listed.get(model) is None and listed.models:
        closest = tuple(closest_models(model, listed))
    return Endpoint(
        provider=p.name, base_url=base_url, model=model, api_key=key, prompt_mode=mode,
        prefix_style=p.prefix_style, fim_style=p.fim_style, key_source=key_source if key else "",
        role=role, model_source=model_source, closest=closest,
    )
