"""Which models an endpoint serves, and which one to use: discovery instead of assumptions.

Model ids change (Mistral's API retired every Devstral model in 2026; local runtimes serve
whatever the user pulled), so the server lists `GET /models` in the background after
`initialized` and in `doctor`, and never assumes a fixed id:
- `parse_models` reads every shape seen in the wild: OpenAI's `data` list, Mistral's
  `capabilities` (`completion_fim`, `function_calling`) and `deprecation` date, OpenRouter's
  `pricing`/`context_length`, Ollama's and LM Studio's plain lists, llama.cpp's `models` list;
- `choose_model` picks a Devstral model first, then the preset's documented successor;
- `closest_models` names what is served when the configured id is not;
- `probe_local` finds a local runtime on loopback when nothing is configured.
The cores are pure; only `list_models` and `probe_local` touch the network.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from .client import ModelClient
    from .endpoint import Endpoint
    from .providers import Preset

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
"""Per-port bound of the local probe (all ports at once). A port nobody listens on refuses at
once, so the bound only matters for a runtime that accepts but is busy (loading a model, a
loaded machine): it must be long enough not to miss a real Ollama then."""


@dataclass(frozen=True)
class ModelInfo:
    """One served model as its endpoint describes it (None = the endpoint does not say)."""

    id: str
    aliases: tuple[str, ...] = ()
    chat: bool | None = None
    fim: bool | None = None
    tools: bool | None = None
    deprecation: str | None = None
    """ISO date after which the provider retires the model (Mistral lists it; may lag)."""
    context_length: int | None = None
    usd_per_m_in: float | None = None
    usd_per_m_out: float | None = None

    def retired(self, today: date | None = None) -> bool:
        if not self.deprecation:
            return False
        try:
            when = date.fromisoformat(self.deprecation[:10])
        except ValueError:
            return False
        return when <= (today or date.today())


@dataclass(frozen=True)
class ServedModels:
    """What one endpoint lists."""

    base_url: str
    models: tuple[ModelInfo, ...]

    def get(self, model_id: str) -> ModelInfo | None:
        """The entry for `model_id`, by id or alias (`x` and Ollama's `x:latest` match)."""
        want = _norm(model_id)
        for info in self.models:
            if want in {_norm(info.id), *(_norm(a) for a in info.aliases)}:
                return info
        return None

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.models]


@dataclass(frozen=True)
class LocalRuntime:
    """A local runtime found by the probe, and the Devstral model it serves."""

    provider: str
    base_url: str
    model: str


def _norm(model_id: str) -> str:
    model_id = model_id.strip().lower()
    return model_id[: -len(":latest")] if model_id.endswith(":latest") else model_id


def parse_models(payload: Any) -> list[ModelInfo]:
    """Every model in a `/models` answer, whatever the provider's shape; junk is skipped."""
    if isinstance(payload, Mapping):
        items = payload.get("data")
        if not isinstance(items, list):
            items = payload.get("models")  # llama.cpp (and Ollama's native /api/tags)
    else:
        items = payload
    out: list[ModelInfo] = []
    seen: set[str] = set()
    for item in items if isinstance(items, list) else []:
        info = _one_model(item)
        if info is not None and info.id not in seen:
            seen.add(info.id)
            out.append(info)
    return out


def _one_model(item: Any) -> ModelInfo | None:
    if isinstance(item, str):
        return ModelInfo(id=item)
    if not isinstance(item, Mapping):
        return None
    model_id = item.get("id") or item.get("model") or item.get("name")
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    caps = item.get("capabilities")
    chat = fim = tools = None
    if isinstance(caps, Mapping):
        chat = _flag(caps.get("completion_chat"))
        fim = _flag(caps.get("completion_fim"))
        tools = _flag(caps.get("function_calling"))
    aliases = tuple(a for a in item.get("aliases") or () if isinstance(a, str))
    deprecation = item.get("deprecation")
    context = item.get("context_length") or item.get("max_context_length") \
        or item.get("max_model_len")
    pricing = item.get("pricing")
    if not isinstance(pricing, Mapping):
        pricing = {}
    return ModelInfo(
        id=model_id.strip(), aliases=aliases, chat=chat, fim=fim, tools=tools,
        deprecation=deprecation if isinstance(deprecation, str) and deprecation else None,
        context_length=context if isinstance(context, int) and not isinstance(context, bool)
        else None,
        usd_per_m_in=_per_million(pricing.get("prompt")),
        usd_per_m_out=_per_million(pricing.get("completion")),
    )


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _per_million(per_token: Any) -> float | None:
    """OpenRouter prices are USD per token, as strings."""
    try:
        value = float(per_token)
    except (TypeError, ValueError):
        return None
    return round(value * 1_000_000, 6) if value >= 0 else None


_VERSION = re.compile(r"(\d{4})(?!\d)")


def is_devstral(model_id: str) -> bool:
    return "devstral" in model_id.lower()


def _devstral_rank(model_id: str, role: str) -> tuple[int, int, int]:
    """Higher is better. Devstral Small 2 first (open weights, 256k, the model this server is
    for); then completions prefer any Small (speed), actions and the agent the newest release
    (YYMM stamp: Devstral 2 before Devstral Small 1.x)."""
    low = model_id.lower()
    small2 = int(bool(re.search(r"small[-_ ]?2(?!\d{3})", low)) or "small-2512" in low)
    small = int("small" in low)
    stamp = max((int(m) for m in _VERSION.findall(low)), default=0)
    return (small2, small, stamp) if role == "completion" else (small2, stamp, small)


def choose_model(served: ServedModels, p: Preset, role: str = "main") -> str | None:
    """The best served model for `role`: a Devstral model first (never one past its
    deprecation date), then the preset's documented successors, then its default."""
    usable = [m for m in served.models if not m.retired() and m.chat is not False]
    if role == "completion" and p.completion_model:
        hit = served.get(p.completion_model)
        if hit is not None and not hit.retired():
            return hit.id
    devstral = [m for m in usable if is_devstral(m.id)]
    if devstral:
        return max(devstral, key=lambda m: _devstral_rank(m.id, role)).id
    for wanted in (*p.successors, *([p.model] if p.model else [])):
        hit = served.get(wanted)
        if hit is not None and not hit.retired():
            return wanted if _norm(wanted) != _norm(hit.id) else hit.id
    if p.local and len(usable) == 1:
        return usable[0].id  # llama-server and single-model runtimes serve exactly one
    return None


def closest_models(model_id: str, served: ServedModels, n: int = 3) -> list[str]:
    """Served ids most like `model_id` (Devstral ones first when nothing is alike)."""
    ids = served.ids
    near = difflib.get_close_matches(model_id, ids, n=n, cutoff=0.3)
    if not near:
        near = sorted(ids, key=lambda i: (not is_devstral(i), i))[:n]
    return near


# ----- network -----------------------------------------------------------------------------
async def list_models(base_url: str, api_key: str | None, timeout_s: float) -> ServedModels:
    """`GET {base_url}/models` through the `openai` client (its proxies, TLS and errors);
    raises the client's exceptions (callers translate them)."""
    from .client import warm_up
    from .sdk import load_openai

    await warm_up()  # the ~0.5 s import happens off the event loop, once
    openai = load_openai()

    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "none", max_retries=0,
                                timeout=timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            raw = await client.models.with_raw_response.list()
        payload = raw.http_response.json()
    finally:
        await client.close()
    return ServedModels(base_url=base_url.rstrip("/"), models=tuple(parse_models(payload)))


def probe_candidates(environ: Mapping[str, str]) -> list[tuple[str, int]]:
    """The local runtimes to probe: the defaults, or `DEVSTRAL_LOCAL_PROBE`
    (`ollama:11434,vllm:8000`; `off` disables the probe — tests use it to stay off real ports)."""
    from .providers import LOCAL_PROBE_ORDER, PRESETS

    spec = environ.get("DEVSTRAL_LOCAL_PROBE")
    if spec is None:
        return list(LOCAL_PROBE_ORDER)
    out: list[tuple[str, int]] = []
    for part in spec.split(","):
        name, _, port = part.strip().partition(":")
        if name in PRESETS and PRESETS[name].local and port.isdigit():
            out.append((name, int(port)))
    return out


@dataclass(frozen=True)
class ProbeResult:
    """What the local probe found: the runtime to use (or None) and what answered."""

    found: LocalRuntime | None
    answered: tuple[tuple[str, ServedModels], ...] = ()

    def message(self) -> str | None:
        """Why nothing local can be used, naming what to run; None when something was found."""
        if self.found is not None:
            return None
        if not self.answered:
            return None  # the caller's "nothing set, nothing local" message says it all
        from .providers import PRESETS

        name, served = self.answered[0]
        p = PRESETS[name]
        shown = ", ".join(served.ids[:5]) or "no model"
        return (f"devstral-lsp has no model: {p.label} at {served.base_url} serves {shown} "
                f"but no Devstral model. Run `{p.setup}`, or set DEVSTRAL_PROVIDER={name} and "
                "DEVSTRAL_MODEL to use one of those, or set MISTRAL_API_KEY (or "
                "DEVSTRAL_API_KEY)")


async def probe_local(candidates: Sequence[tuple[str, int]],
                      timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Ask each local runtime's default loopback port for its models, all at once; use the
    first (in `candidates` order) that serves a Devstral model."""
    from .providers import PRESETS

    async def one(name: str, port: int) -> tuple[str, ServedModels] | None:
        url = f"http://127.0.0.1:{port}/v1"
        try:
            return name, await list_models(url, None, timeout_s)
        except Exception as exc:  # refused, timeout, not JSON: nothing usable there
            log.debug("local probe %s at %s: %s", name, url, type(exc).__name__)
            return None

    results = await asyncio.gather(*(one(n, p) for n, p in candidates))
    answered = tuple(r for r in results if r is not None and r[1].models)
    for name, served in answered:
        model = choose_model(served, PRESETS[name])
        if model and is_devstral(model):
            return ProbeResult(LocalRuntime(name, served.base_url, model), answered)
    return ProbeResult(None, answered)


def explaining_client(endpoint: Endpoint, on_served: Callable[[ServedModels], None],
                      **options: Any) -> ModelClient:
    """A `ModelClient` whose 404 ("model not found") names the closest served models.

    The configured model is listed lazily: only when the endpoint answers 404 (a model the user
    named is not listed at start-up, so no request is spent on it), then `on_served(served)`
    lets the server keep the list for later messages and `doctor`-like logs. `options` go to
    `ModelClient` unchanged.
    """
    from .client import BackendError, ModelClient

    class ExplainingClient(ModelClient):
        async def stream_completion(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().stream_completion(*args, **kwargs)
            except BackendError as exc:
                raise await self._explain(exc) from exc

        async def chat(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().chat(*args, **kwargs)
            except BackendError as exc:
                raise await self._explain(exc) from exc

        async def _explain(self, exc: BackendError) -> BackendError:
            ep = self.endpoint
            if exc.kind != "not_found" or not ep.base_url or not ep.model or ep.closest:
                return exc
            try:
                served = await list_models(ep.base_url, ep.api_key, timeout_s=5.0)
            except Exception:  # the 404 message stands on its own
                return exc
            on_served(served)
            if served.get(ep.model) is not None or not served.models:
                return exc
            near = ", ".join(closest_models(ep.model, served))
            return BackendError(exc.kind, f"{exc.message}; closest served: {near}",
                                status=exc.status, retry_after=exc.retry_after)

    return ExplainingClient(endpoint, **options)
