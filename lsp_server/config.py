"""Typed settings: one schema, one spelling (camelCase on the wire), every layer through it.

Layers, lowest first: defaults ← environment ← initializationOptions ← `workspace/configuration`
(section `devstral`); those are the user's own and trusted. A repository's `.devstral.json` is
attacker-controlled: it may set only the keys whose field says so (`project=` in the field's
metadata), money-costing limits only in the cheaper direction, and an endpoint only on loopback
(or one the user listed in `trustedEndpoints`) while no user key is in use. Each value is
checked by its field's validator, so one bad value costs that value only (one message naming
the layer and key, the lower layer's value kept), never the whole configuration or the server.
Where each value came from is recorded for `doctor`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import attrs

from .endpoints import resolve_completion_endpoint, resolve_endpoint, resolve_provider
from .fs_limits import UnreadableFile, read_regular
from .model.endpoint import Endpoint, no_endpoint_message
from .model.providers import AUTO, KEY_ENV_VARS, PRESETS, PromptLayout, preset

__all__ = [
    "PROJECT_FILE", "Endpoint", "Settings", "apply_layer", "build_settings", "merge_settings",
    "no_endpoint_message", "read_project_file", "resolve_completion_endpoint",
    "resolve_endpoint", "resolve_provider", "settings_to_wire",
]

LogLevel = Literal["error", "warning", "info", "debug"]
CompletionItemsMode = Literal["auto", "always", "never"]
PromptModeSetting = Literal["auto", "chat", "prefix", "fim"]
ProjectPolicy = Literal["refuse", "allow", "lower", "raise", "endpoint"]
"""What a project file may do with a field: nothing; set it where the user did not; only lower
it (or raise it, for `debounceMs`) relative to the user's value; set an endpoint (see module)."""

DEFAULT_SOURCE = "default"
PROJECT_FILE = ".devstral.json"
MAX_PROJECT_BYTES = 64 * 1024
MAX_PROJECT_DEPTH = 8


# ----- validators (raise ValueError with the reason; the caller names layer and key) --------
def _number(low: float, high: float, *, integer: bool) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                integer and not isinstance(value, int)):
            raise ValueError("must be a whole number" if integer else "must be a number")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
    return check


def _choice(*values: str, hint: bool = False) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if value not in values:
            near = difflib.get_close_matches(str(value), values, n=1) if hint else []
            guess = f" (did you mean '{near[0]}'?)" if near else ""
            raise ValueError(f"must be one of {', '.join(values)}{guess}")
    return check


def _optional_text(_inst: Any, _attr: Any, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError("must be a string")


def _url(_inst: Any, attr: Any, value: Any) -> None:
    _optional_text(_inst, attr, value)
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")


def _budget(_inst: Any, _attr: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a number of US dollars >= 0 (or null for no budget)")


def _prices(_inst: Any, _attr: Any, value: Any) -> None:
    if value is None:
        return
    from .usage.prices import parse_price

    if not isinstance(value, Mapping):
        raise ValueError("must be an object keyed by model id")
    for model_id, entry in value.items():
        try:
            parse_price(entry)
        except ValueError as exc:
            raise ValueError(f"entry '{model_id}' {exc}") from None


def _boolean(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")


def _text_list(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")


def _clean_list(value: Any) -> Any:
    """Language ids compare lower-case; blanks are dropped."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip().lower() for v in value if v.strip()]
    return value


def _url_list(_inst: Any, attr: Any, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of URLs")
    for item in value:
        _url(_inst, attr, item)


def _provider(*, allow_none: bool) -> Callable[[Any, Any, Any], None]:
    names = (AUTO, *PRESETS) if not allow_none else tuple(PRESETS)
    check = _choice(*names, hint=True)

    def run(inst: Any, attr: Any, value: Any) -> None:
        if value is None and allow_none:
            return
        check(inst, attr, value)
    return run


def _clean_text(value: Any) -> Any:
    """Blank strings mean "not set"; provider names are case-insensitive."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _lower_name(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _as_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _setting(default: Any, *, project: ProjectPolicy = "refuse", validator: Any = None,
             converter: Any = None, secret: bool = False, **kw: Any) -> Any:
    return attrs.field(default=default, validator=validator, converter=converter,
                       repr=not secret, metadata={"project": project, "secret": secret}, **kw)


@attrs.define
class Settings:
    """All user settings; camelCase on the wire (`baseUrl`, `maxTokens`, …), validated on set."""

    provider: str = _setting(AUTO, project="endpoint", validator=_provider(allow_none=False),
                             converter=_lower_name)
    """Preset (see model/providers.py), or `auto`: from the keys set, else a local runtime."""
    base_url: str | None = _setting(None, project="endpoint", validator=_url,
                                    converter=_clean_text)
    """Override of the preset's endpoint, e.g. `http://localhost:8000/v1`."""
    model: str | None = _setting(None, project="endpoint", validator=_optional_text,
                                 converter=_clean_text)
    """Model for code actions and the agent (and completions unless `completionModel`)."""
    api_key: str | None = _setting(None, validator=_optional_text, converter=_clean_text,
                                   secret=True)
    """The endpoint's key; falls back to DEVSTRAL_API_KEY and the preset's own variable."""
    completion_provider: str | None = _setting(
        None, project="endpoint", validator=_provider(allow_none=True), converter=_lower_name)
    """Preset of the completion role when it differs (e.g. `codestral` for FIM)."""
    completion_base_url: str | None = _setting(None, project="endpoint", validator=_url,
                                               converter=_clean_text)
    completion_model: str | None = _setting(None, project="endpoint",
                                            validator=_optional_text, converter=_clean_text)
    """Model for inline completions (default: the preset's fast model, else `model`)."""
    completion_api_key: str | None = _setting(None, validator=_optional_text,
                                              converter=_clean_text, secret=True)
    trusted_endpoints: list[str] = _setting(  # noqa: RUF009 (attrs field, not a call)
        attrs.Factory(list), validator=_url_list)
    """Non-loopback URLs a project file may point requests at (user settings only)."""
    prompt_mode: PromptModeSetting = _setting(  # noqa: RUF009
        "auto", project="allow", validator=_choice("auto", "chat", "prefix", "fim"))
    """How completions are asked for: chat, prefix (assistant continuation) or fim."""
    prompt_layout: PromptLayout = _setting(  # noqa: RUF009
        "file", project="allow", validator=_choice(*get_args(PromptLayout), hint=True))
    """How a chat prompt shows the current file: in order (`file`), or the code after the
    cursor first (`suffixFirst`, cached by providers while you type; see model/prompts.py)."""
    temperature: float = _setting(0.1, project="allow", validator=_number(0, 2, integer=False),
                                  converter=_as_float)
    max_tokens: int = _setting(128, project="lower", validator=_number(1, 8192, integer=True))
    """Output cap for one inline completion."""
    timeout_ms: int = _setting(5000, project="lower",
                               validator=_number(100, 600000, integer=True))
    """Deadline of one completion call; no hidden retries."""
    debounce_ms: int = _setting(120, project="raise", validator=_number(0, 5000, integer=True))
    """Base debounce for automatic triggers (adapted to typing rhythm); 0 disables."""
    completion_items: CompletionItemsMode = _setting(  # noqa: RUF009
        "auto", project="allow", validator=_choice("auto", "always", "never"))
    """Offer completion items: auto = only to clients without inline completion."""
    context_tokens: int = _setting(4096, project="lower",
                                   validator=_number(256, 120000, integer=True))
    """Exact Tekken token budget of one completion prompt."""
    multiline: Literal["auto", "always", "never"] = _setting(
        "auto", project="allow", validator=_choice("auto", "always", "never"))
    """auto: several lines when the rest of the cursor line is free; never = one-line mode."""
    suggest_in_comments: bool = _setting(False, validator=_boolean)
    """Automatic suggestions inside comments (tree-sitter decides); invoked ones always work."""
    suggest_in_strings: bool = _setting(False, validator=_boolean)
    """Automatic suggestions inside strings and docstrings; invoked ones always work."""
    disabled_languages: list[str] = _setting(  # noqa: RUF009 (attrs field, not a call)
        attrs.Factory(list), project="allow", validator=_text_list,
        converter=_clean_list)
    """LSP language ids (`markdown`, `plaintext`, …) that get no suggestions at all."""
    log_level: LogLevel = _setting(  # noqa: RUF009
        "info", validator=_choice("error", "warning", "info", "debug"), converter=_lower_name)
    action_timeout_ms: int = _setting(60000, project="lower",
                                      validator=_number(1000, 3600000, integer=True))
    """Deadline of one code-action model call."""
    edit_max_turns: int = _setting(20, project="lower", validator=_number(1, 200, integer=True))
    edit_timeout_ms: int = _setting(180000, project="lower",
                                    validator=_number(1000, 3600000, integer=True))
    edit_max_tokens: int = _setting(300000, project="lower",
                                    validator=_number(1000, 10_000_000, integer=True))
    next_edit: Literal["auto", "onPause", "invoked", "off"] = _setting(
        "auto", validator=_choice("auto", "onPause", "invoked", "off"))
    """Next-edit suggestions: onPause (asked for when you pause after an edit), invoked (only
    on request) or off; auto = onPause for a local (loopback) endpoint, invoked otherwise."""
    daily_budget_usd: float | None = _setting(None, validator=_budget, converter=_as_float)
    """USD per day (all sessions); when reached, automatic completions pause and invoked
    requests say so without calling the model. User settings only (never a project file)."""
    prices: dict[str, Any] | None = _setting(None, validator=_prices)  # noqa: RUF009
    """Price overrides, USD per million tokens, keyed by model id or id prefix:
    `{"my-model": {"input": 0.1, "cachedInput": 0.01, "output": 0.3}}`. User settings only
    (a repository must not price its model at zero)."""


attrs.resolve_types(Settings)
_FIELDS = {f.name: f for f in attrs.fields(Settings)}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


CAMEL_TO_FIELD = {_camel(name): name for name in _FIELDS}
"""The only spelling accepted on the wire, in every layer."""
SECRET_FIELDS = frozenset(n for n, f in _FIELDS.items() if f.metadata["secret"])
PROJECT_KEYS = frozenset(_camel(n) for n, f in _FIELDS.items()
                         if f.metadata["project"] != "refuse")
"""The allow-list of keys a project file may carry."""

ENV_SETTINGS: dict[str, str] = {
    "DEVSTRAL_PROVIDER": "provider",
    "DEVSTRAL_BASE_URL": "baseUrl",
    "DEVSTRAL_MODEL": "model",
    "DEVSTRAL_API_KEY": "apiKey",
    "DEVSTRAL_COMPLETION_PROVIDER": "completionProvider",
    "DEVSTRAL_COMPLETION_BASE_URL": "completionBaseUrl",
    "DEVSTRAL_COMPLETION_MODEL": "completionModel",
    "DEVSTRAL_COMPLETION_API_KEY": "completionApiKey",
    "DEVSTRAL_LOG_LEVEL": "logLevel",
}
"""Environment variables that are settings (the preset key variables are read by the preset)."""


def _shown_value(name: str, value: Any) -> str:
    return "***" if name in SECRET_FIELDS else repr(value)


def _set(settings: Settings, name: str, value: Any) -> None:
    """Assign through the field's converter and validator (attrs runs both on setattr)."""
    setattr(settings, name, value)


def apply_layer(settings: Settings, layer: Mapping[str, Any] | None, source: str,
                sources: dict[str, str] | None = None) -> list[str]:
    """Apply one camelCase layer in place; return one problem line per rejected key."""
    problems: list[str] = []
    if not layer:
        return problems
    if not isinstance(layer, Mapping):
        return [f"{source}: settings must be an object, got {type(layer).__name__}; ignored"]
    for key, value in layer.items():
        name = CAMEL_TO_FIELD.get(key) if isinstance(key, str) else None
        if name is None:
            problems.append(f"{source}: unknown setting {_unknown(key)}; ignored")
            continue
        before = getattr(settings, name)
        try:
            _set(settings, name, value)
        except (ValueError, TypeError) as exc:
            object.__setattr__(settings, name, before)
            kept = ("the previous key" if before else "no key") if name in SECRET_FIELDS \
                else repr(before)
            problems.append(f"{source}: '{key}' = {_shown_value(name, value)} {exc}; "
                            f"kept {kept}")
            continue
        if sources is not None:
            sources[name] = source
    return problems


def _unknown(key: Any) -> str:
    """`'api_key' (settings are camelCase: 'apiKey')`, or the nearest known key."""
    text = str(key)[:60]
    camel = _camel(text.lower()) if "_" in text else None
    if camel in CAMEL_TO_FIELD:
        return f"'{text}' (settings are camelCase: '{camel}')"
    near = difflib.get_close_matches(text, list(CAMEL_TO_FIELD), n=1)
    return f"'{text}'" + (f" (did you mean '{near[0]}'?)" if near else "")


def env_layer(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings the environment asks for, as a camelCase layer, and each key's variable."""
    layer: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for var, key in ENV_SETTINGS.items():
        if environ.get(var):
            layer[key] = environ[var]
            origin[key] = var
    return layer, origin


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def user_key_in_use(environ: Mapping[str, str], settings: Settings) -> bool:
    """Whether any key of the user's is configured (a project must not redirect it)."""
    return bool(settings.api_key or settings.completion_api_key
                or any(environ.get(v) for v in KEY_ENV_VARS))


def project_problems_for(
    layer: Mapping[str, Any], user: Settings, user_sources: Mapping[str, str], *,
    environ: Mapping[str, str], source: str,
) -> tuple[dict[str, Any], list[str]]:
    """The part of a project file that may apply on top of the user's settings, and why the
    rest is refused (one line per key, naming the file and the key, never the value)."""
    allowed: dict[str, Any] = {}
    refused: list[str] = []
    key_in_use = user_key_in_use(environ, user)
    for key, value in layer.items():
        name = CAMEL_TO_FIELD.get(key) if isinstance(key, str) else None
        if name is None:
            refused.append(f"{source}: unknown setting {_unknown(key)}; ignored")
            continue
        policy = _FIELDS[name].metadata["project"]
        if policy == "refuse":
            where = "your environment or editor settings"
            refused.append(f"{source}: '{key}' is refused in a project file; set it in {where}")
            continue
        user_set = user_sources.get(name, DEFAULT_SOURCE) != DEFAULT_SOURCE
        if policy in ("allow", "endpoint") and user_set:
            refused.append(f"{source}: '{key}' is refused: your own settings set it")
            continue
        if policy == "endpoint":
            why = _endpoint_refusal(name, value, user, key_in_use)
            if why:
                refused.append(f"{source}: '{key}' is refused: {why}")
                continue
        if policy in ("lower", "raise"):
            mine = getattr(user, name)
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
            if ok_type and (value > mine if policy == "lower" else value < mine):
                verb = "lower" if policy == "lower" else "raise"
                refused.append(f"{source}: '{key}' = {value!r} is refused: a project file may "
                               f"only {verb} it (yours: {mine!r})")
                continue
        allowed[key] = value
    return allowed, refused


def _endpoint_refusal(name: str, value: Any, user: Settings, key_in_use: bool) -> str | None:
    """Why a project file may not choose this endpoint setting, or None."""
    if key_in_use:
        return "your own API key is in use (a repository must not redirect your key)"
    if name in ("base_url", "completion_base_url") and isinstance(value, str):
        trusted = {u.rstrip("/") for u in user.trusted_endpoints}
        if not _is_loopback(value) and value.strip().rstrip("/") not in trusted:
            return ("it points outside this machine; add the URL to `trustedEndpoints` in your "
                    "own settings to allow it")
    if name in ("provider", "completion_provider") and isinstance(value, str):
        p = PRESETS.get(value.strip().lower())
        if p is not None and p.base_url and not p.local:
            return f"'{p.name}' is a remote service; choose it in your own settings"
    return None


@dataclass
class SettingsResult:
    """Merged settings, the problems found (each once) and where each value came from."""

    settings: Settings
    problems: list[str]
    sources: dict[str, str]


def merge_settings(
    environ: Mapping[str, str] | None = None,
    init_options: Mapping[str, Any] | None = None,
    client_config: Mapping[str, Any] | None = None,
    project: Mapping[str, Any] | None = None,
    *,
    project_source: str = PROJECT_FILE,
) -> SettingsResult:
    """Merge every layer: the user's (defaults ← environment ← initializationOptions ←
    workspace/configuration), then what the project file may add on top of them."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    sources: dict[str, str] = {}
    env, origin = env_layer(environ)
    problems: list[str] = []
    for key, value in env.items():
        problems += apply_layer(settings, {key: value}, f"environment ({origin[key]})", sources)
    problems += apply_layer(settings, _unwrap(init_options),
                            "user settings (initializationOptions)", sources)
    problems += apply_layer(settings, _unwrap(client_config),
                            "user settings (workspace/configuration)", sources)
    project = _unwrap(project)
    if project:
        if not isinstance(project, Mapping):
            problems.append(f"{project_source}: must hold a JSON object; ignored")
        else:
            allowed, refused = project_problems_for(
                project, settings, sources, environ=environ, source=project_source)
            problems += refused
            problems += apply_layer(settings, allowed, project_source, sources)
    if (mode_problem := prompt_mode_problem(settings)) is not None:
        problems.append(mode_problem)
    return SettingsResult(settings, list(dict.fromkeys(problems)), sources)


def build_settings(
    environ: Mapping[str, str] | None = None,
    init_options: Mapping[str, Any] | None = None,
    client_config: Mapping[str, Any] | None = None,
    project: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[str]]:
    """`merge_settings` without the sources: the settings and the problems found."""
    result = merge_settings(environ, init_options, client_config, project)
    return result.settings, result.problems


def _unwrap(layer: Any) -> Any:
    """Accept both `{...}` and `{"devstral": {...}}`, as editors send either shape."""
    if isinstance(layer, Mapping) and isinstance(layer.get("devstral"), Mapping):
        return layer["devstral"]
    return layer


def read_project_file(path: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """A project file's JSON, or None and one message: never raises, never blocks.

    The file is the repository's: it may be a FIFO or a device (opened non-blocking and
    refused unless regular), huge (bounded read) or absurdly nested (depth-checked, and
    `RecursionError` from the parser caught).
    """
    try:
        data = read_regular(path, MAX_PROJECT_BYTES)
    except FileNotFoundError:
        return None, []
    except UnreadableFile as exc:  # a FIFO, a device, a folder, or over the size limit
        return None, [f"{path}: {exc.reason}; ignored"]
    except OSError as exc:
        return None, [f"{path}: cannot read ({exc.strerror}); ignored"]
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
        return None, [f"{path}: {reason}; ignored"]
    if _depth(value) > MAX_PROJECT_DEPTH:
        return None, [f"{path}: nested more than {MAX_PROJECT_DEPTH} levels; ignored"]
    if not isinstance(value, dict):
        return None, [f"{path}: must hold a JSON object; ignored"]
    return value, []


def _depth(value: Any, limit: int = MAX_PROJECT_DEPTH + 1) -> int:
    """Nesting depth, counted only up to `limit` (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth >= limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def prompt_mode_problem(settings: Settings) -> str | None:
    """Explain a promptMode the chosen provider cannot serve (it falls back to the default)."""
    if settings.provider == AUTO:
        return None
    p = preset(settings.completion_provider or settings.provider)
    if settings.prompt_mode != "auto" and settings.prompt_mode not in p.modes:
        return (
            f"promptMode '{settings.prompt_mode}' is not supported by provider '{p.name}' "
            f"(supported: {', '.join(p.modes)}); using '{p.modes[0]}'"
        )
    return None


def settings_to_wire(settings: Settings, *, mask_key: bool = True) -> dict[str, Any]:
    """camelCase dict of the settings, keys masked: for `doctor` and the log."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(settings, name)
        if name in SECRET_FIELDS and mask_key:
            value = "***" if value else None
        out[_camel(name)] = value
    return out
