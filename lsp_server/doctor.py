"""`devstral-lsp doctor`: the resolved settings with where each came from, which model serves
which role, and what the endpoints really serve (ids, capabilities, deprecation dates).

Each problem is printed once, on the line that names its cause: a typo in a setting is
reported as that typo (not as the missing key it leads to), and the check stops there.
Exit codes: 0 OK, 2 settings problem, 3 endpoint problem (see the README).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from .cli import EXIT_BACKEND, EXIT_CONFIG
from .config import Endpoint, resolve_provider, settings_to_wire
from .model.discovery import ModelInfo, ServedModels

EXIT_OK = 0


def _source_of(server: Any, name: str, key: str) -> str:
    source = str(server.sources.get(name, "default"))
    if key == "provider" and server.settings.provider == "auto":
        _name, why = resolve_provider(server.settings, server.environ)
        source = f"default; {why}" if why else source
    return source


def _model_line(info: ModelInfo) -> str:
    caps = [c for c, on in (("chat", info.chat), ("fim", info.fim), ("tools", info.tools)) if on]
    parts = [f"capabilities: {', '.join(caps)}" if caps else ""]
    if info.context_length:
        parts.append(f"context {info.context_length:,} tokens")
    if info.usd_per_m_in is not None and info.usd_per_m_out is not None:
        parts.append(f"${info.usd_per_m_in:g}/${info.usd_per_m_out:g} per M tokens in/out")
    if info.deprecation:
        verb = "retired" if info.retired() else "deprecated, retires"
        parts.append(f"{verb} on {info.deprecation[:10]}")
    return "; ".join(p for p in parts if p)


def run_doctor(server: Any, problems: list[str], user_problems: list[str], *,
               timeout_s: float, version: str) -> int:
    print(f"devstral-lsp {version}, Python {sys.version.split()[0]}")
    print("settings (keys masked; where each value came from):")
    wire = settings_to_wire(server.settings)
    for name, key in zip(_field_names(server.settings), wire, strict=True):
        print(f"  {key}: {wire[key]!r}  ({_source_of(server, name, key)})")
    for problem in problems:
        tag = "PROBLEM" if problem in user_problems else "note"
        print(f"{tag}: {problem}")
    if user_problems:
        print("fix the settings above (they are reported as typed; nothing else was checked)")
        return EXIT_CONFIG
    return asyncio.run(_check(server, timeout_s))


def _field_names(settings: Any) -> list[str]:
    import attrs

    return [f.name for f in attrs.fields(type(settings))]


async def _check(server: Any, timeout_s: float) -> int:
    from .model import discovery
    from .model.errors import BackendError, translate_error

    await server.discover_now()  # the local probe, when nothing is configured
    failures: dict[str, BackendError] = {}
    for endpoint in _distinct(server.endpoint, server.completion_endpoint):
        if endpoint.problem() is not None or not endpoint.base_url:
            continue
        try:
            server.served[endpoint.base_url] = await discovery.list_models(
                endpoint.base_url, endpoint.api_key, timeout_s)
        except Exception as exc:  # translated below, key-free
            failures[endpoint.base_url] = translate_error(exc, endpoint)
    server.apply_settings(announce=False)
    roles = (("completions", server.completion_endpoint),
             ("code actions and the agent", server.endpoint))
    for label, endpoint in roles:
        print(f"{label}: {endpoint.describe()}")
        print(f"  model from: {endpoint.model_source or 'nowhere'}; key: "
              f"{endpoint.masked_key()}"
              + (f" (from {endpoint.key_source})" if endpoint.key_source else ""))
    code = EXIT_OK
    reported: set[str] = set()
    for _label, endpoint in roles:
        problem = endpoint.problem()
        if problem is not None:
            if problem not in reported:
                print(f"PROBLEM: {problem}")
                reported.add(problem)
            code = max(code, EXIT_CONFIG)
            continue
        code = max(code, _report_endpoint(endpoint, server.served.get(endpoint.base_url),
                                          failures.get(endpoint.base_url or ""), reported))
    if code == EXIT_OK:
        print("OK")
    return code


def _distinct(*endpoints: Endpoint) -> list[Endpoint]:
    return list({(e.base_url, e.api_key): e for e in endpoints}.values())


def _report_endpoint(endpoint: Endpoint, served: ServedModels | None, failure: Any,
                     reported: set[str]) -> int:
    if failure is not None:
        if failure.message not in reported:
            reported.add(failure.message)
            print(f"PROBLEM: {failure.message}")
            if failure.kind == "auth":
                print("fix: set a valid key (the variable named above, or the `apiKey` setting)")
            elif failure.kind in {"connection", "timeout"}:
                print("fix: check baseUrl and that the server is running and reachable")
        return EXIT_BACKEND
    if served is None:
        return EXIT_OK
    key = f"list {served.base_url}"
    if key not in reported:
        reported.add(key)
        print(f"endpoint {served.base_url} answers: {len(served.models)} model(s) listed")
    model = endpoint.model or ""
    info = served.get(model)
    if info is None and served.models:
        closest = ", ".join(endpoint.closest) or ", ".join(served.ids[:5])
        print(f"PROBLEM: model '{model}' is not served by {served.base_url}; closest served: "
              f"{closest}")
        print("fix: set DEVSTRAL_MODEL (or `model` / `completionModel`) to a served id")
        return EXIT_BACKEND
    if info is not None:
        details = _model_line(info)
        print(f"  model '{model}' is available" + (f" ({details})" if details else ""))
        if info.retired():
            print(f"PROBLEM: model '{model}' was retired on {info.deprecation}")
            return EXIT_BACKEND
    return EXIT_OK
