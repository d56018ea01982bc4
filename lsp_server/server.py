"""The language server: owns settings, documents, the model client and the pipelines.

Feature handlers live in `features/` and stay thin; this module holds the state they share.
The workarounds for pygls (document sync bypassing its store, invalid params, the future leak,
cancelling commands) are in `pygls_fixes.py`; here UTF-8 positions are preferred whenever the
client offers them (cheaper on our side and what Neovim uses natively), UTF-16 otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import lsp_method

from . import __version__
from .config import (
    PROJECT_FILE,
    Endpoint,
    merge_settings,
    read_project_file,
    resolve_completion_endpoint,
    resolve_endpoint,
)
from .context.types import PromptContext
from .documents import DocumentStore
from .inbox import INBOX
from .positions import PositionEncoding, negotiate, normalize_encoding
from .pygls_fixes import FixedProtocol
from .text import normalize_newlines
from .uris import uri_to_path

if TYPE_CHECKING:
    from .config import Settings
    from .context.engine import ContextEngine
    from .features.process import ParentWatch
    from .features.status import StatusParams
    from .model.client import BackendError, Feature, ModelClient
    from .model.discovery import ServedModels
    from .usage.meter import Usage

log = logging.getLogger("lsp_server")

SERVER_NAME = "devstral-lsp"


class DevstralProtocol(FixedProtocol):
    """pygls' protocol with its workarounds (`pygls_fixes`) and UTF-8 preferred."""

    _server: DevstralServer

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            # pygls takes the first offered encoding it knows: put ours (`positions.negotiate`,
            # the rule the early reply of `bootstrap.py` follows too) first.
            offered = list(general.position_encodings)
            chosen = negotiate(offered)
            if chosen in offered:
                offered.insert(0, offered.pop(offered.index(chosen)))
                general.position_encodings = offered
        result = yield from super().lsp_initialize(params)
        self._server.after_initialize(result)
        return result


class DevstralServer(LanguageServer):
    """Shared state for all features."""

    def __init__(self) -> None:
        super().__init__(
            SERVER_NAME,
            __version__,
            protocol_cls=DevstralProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.documents = DocumentStore()
        self.environ: dict[str, str] = dict(os.environ)
        self.init_options: dict[str, Any] | None = None
        self.client_config: dict[str, Any] | None = None
        self.project_config: dict[str, Any] | None = None
        self.project_source = PROJECT_FILE
        merged = merge_settings(self.environ)
        self.settings, self.sources = merged.settings, merged.sources
        self._pending_problems = merged.problems
        self._announced: set[str] = set()
        from .model.discovery import LocalRuntime

        self.served: dict[str, ServedModels] = {}
        """What discovery found, per base URL."""
        self.local: LocalRuntime | None = None
        """The local runtime the zero-config probe chose."""
        self.probe_message = ""
        """Why no local runtime can be used (one served, without Devstral), if so."""
        self.discovery: asyncio.Task[None] | None = None
        self._discovery_started = False
        self._roles_logged = ""
        self.endpoint: Endpoint = resolve_endpoint(self.settings, self.environ)
        """The main role: code actions and the edit agent."""
        self.completion_endpoint: Endpoint = resolve_completion_endpoint(
            self.settings, self.endpoint, self.environ)
        """The completion role (its own model, endpoint and key where configured)."""
        self.roots: list[Path] = []
        self.encoding = PositionEncoding.UTF16
        self.client_has_inline = False
        self.offer_completion_items = True
        self._clients: dict[str, ModelClient] = {}
        self._client_endpoints: dict[str, Endpoint] = {}
        self._closing: asyncio.Future[None] | None = None
        self.warming: asyncio.Future[None] | None = None
        """Loading what the first completion needs (`start_warm_up`); done = warm."""
        self.user = UserMessages(self)
        from .features.status import StatusTracker
        from .usage.accounting import UsageAccounting
        from .usage.store import UsageStore, state_dir

        self.status = StatusTracker(self._send_status, held=True)  # until `initialized` ends
        self.usage = UsageAccounting(
            UsageStore(state_dir(self.environ)),
            provider=lambda: self.endpoint.provider,
            prices=lambda: self.settings.prices,
            budget_usd=lambda: self.settings.daily_budget_usd,
        )
        self._flush_handle: asyncio.TimerHandle | None = None
        from .completion.pipeline import CompletionPipeline

        self.pipeline = CompletionPipeline(
            settings=lambda: self.settings,
            endpoint=lambda: self.completion_endpoint,
            in_transit=INBOX.drained,
            model=self.completion_client,
            build_context=self.build_completion_context,
            user=self.user,
            budget=self.budget_refusal,
            status=self,
        )
        from .context.engine import ContextEngine
        from .context.live import LiveContext

        self.context = LiveContext(ContextEngine(budget_tokens=self.settings.context_tokens),
                                   self.documents)
        self.exit_code = 0
        """What the process exits with: 1 after `exit` without `shutdown` (features/lifecycle)."""
        self.parent_watch: ParentWatch = None
        """The watcher of `initialize.processId` (features/lifecycle)."""
        self.config_ready = asyncio.Event()
        """Set once the client's configuration was pulled (or cannot be)."""

    async def wait_configured(self, timeout_s: float = 2.0) -> None:
        """Let the first requests wait for `workspace/configuration`, not race it; and, only
        when there is no model to call without it (nothing configured, or a preset whose model
        must be discovered), for discovery, which is bounded by its own short timeouts."""
        if not self.config_ready.is_set():
            try:
                await asyncio.wait_for(self.config_ready.wait(), timeout_s)
            except TimeoutError:
                log.warning("no configuration from the client after %.0fs; going on", timeout_s)
                self.config_ready.set()
        task = self.discovery
        if task is not None and not task.done() and not self.completion_endpoint.model:
            # Bounded by discovery's own timeouts (2 s for the local probe, 10 s remote); this
            # cap only guards against a stuck import.
            await asyncio.wait({task}, timeout=30.0)

    # ----- lifecycle -----------------------------------------------------------------------
    def after_initialize(self, result: types.InitializeResult) -> None:
        """Adjust advertised capabilities once pygls has built them."""
        enc = result.capabilities.position_encoding or types.PositionEncodingKind.Utf16
        self.encoding = normalize_encoding(enc)
        if not self.offer_completion_items:
            result.capabilities.completion_provider = None

    def apply_settings(self, *, announce: bool = True) -> list[str]:
        """Rebuild settings from every layer; swap the endpoint; report problems once.

        With `announce=False` (during `initialize`, before the client can show messages)
        problems are kept and shown by the next announcing call.
        """
        merged = merge_settings(self.environ, self.init_options, self.client_config,
                                self.project_config, project_source=self.project_source)
        settings, problems = merged.settings, merged.problems
        endpoint, completion = self._resolve_roles(settings, merged.sources)
        from .privacy.masking import add_secret

        add_secret(endpoint.api_key)
        add_secret(completion.api_key)
        changed = (settings != self.settings or endpoint != self.endpoint
                   or completion != self.completion_endpoint)
        self.settings, self.sources = settings, merged.sources
        self.endpoint, self.completion_endpoint = endpoint, completion
        from .logging_setup import set_level

        set_level(settings.log_level)
        if changed:
            self.pipeline.settings_changed()
            if self.config_ready.is_set():
                self.budget_refusal()
        if not announce:
            return problems
        problems = [p for p in dict.fromkeys(self._pending_problems + problems)
                    if p not in self._announced]
        self._pending_problems = []
        self._announced.update(problems)
        for problem in problems:  # shown once below; the log keeps each at info level
            log.info("settings: %s", problem)
        if problems:
            self.user.show_warning(
                "devstral-lsp settings: " + "; ".join(problems[:3])
                + (f" (+{len(problems) - 3} more, see the log)" if len(problems) > 3 else "")
            )
        self._log_roles()
        if self._discovery_started:
            self.start_discovery()
        return problems

    def _resolve_roles(self, settings: Settings, sources: dict[str, str]
                       ) -> tuple[Endpoint, Endpoint]:
        searching = self.discovery is not None and not self.discovery.done()
        main = resolve_endpoint(settings, self.environ, sources=sources, served=self.served,
                                local=self.local, searching=searching,
                                probe_message=self.probe_message)
        completion = resolve_completion_endpoint(settings, main, self.environ, sources=sources,
                                                 served=self.served)
        return main, completion

    def _log_roles(self) -> None:
        """Say which model serves which role, once per change."""
        main, comp = self.endpoint, self.completion_endpoint
        line = (f"completions: {comp.describe()}, key {comp.masked_key()}; code actions and "
                f"the agent: {main.describe()}, key {main.masked_key()}")
        if line != self._roles_logged:
            self._roles_logged = line
            log.info("using %s", line)

    # ----- discovery -----------------------------------------------------------------------
    def start_discovery(self) -> None:
        """List the configured endpoints' models in the background (or probe the local
        runtimes when nothing is configured); never awaited by `initialize`."""
        self._discovery_started = True
        if self.discovery is not None and not self.discovery.done():
            return
        todo = self._discovery_todo()
        if todo is None:
            return
        self.discovery = asyncio.ensure_future(self._discover(todo))
        self.discovery.add_done_callback(lambda _t: None)

    def _discovery_todo(self) -> list[Endpoint] | None:
        """Endpoints whose models are not known yet; [] = probe; None = nothing to do."""
        from .model.providers import AUTO

        if self.endpoint.provider == AUTO:
            return [] if self.local is None and "probe" not in self.served else None
        todo = [e for e in (self.endpoint, self.completion_endpoint)
                if e.base_url and e.base_url not in self.served and not _user_named(e)
                and (e.api_key or not _needs_key(e))]
        unique = {e.base_url: e for e in todo}
        return list(unique.values()) or None

    async def _discover(self, todo: list[Endpoint]) -> None:
        from .model import discovery

        try:
            if not todo:
                result = await discovery.probe_local(discovery.probe_candidates(self.environ))
                self.served["probe"] = discovery.ServedModels("probe", ())
                for _name, served in result.answered:
                    self.served[served.base_url] = served
                if result.found is not None:
                    self.local = result.found
                    log.info("no endpoint configured: using %s at %s (model %s)",
                             result.found.provider, result.found.base_url, result.found.model)
                elif (message := result.message()) is not None:
                    self.probe_message = message  # shown once, as the endpoint's problem
            for endpoint in todo:
                assert endpoint.base_url is not None
                try:
                    self.served[endpoint.base_url] = await discovery.list_models(
                        endpoint.base_url, endpoint.api_key, timeout_s=10.0)
                except Exception as exc:
                    log.info("could not list the models of %s (%s); keeping the configured "
                             "ones", endpoint.base_url, type(exc).__name__)
                    self.served[endpoint.base_url] = discovery.ServedModels(
                        endpoint.base_url, ())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("model discovery failed")
        finally:
            self.discovery = None
        self._after_discovery()

    def _after_discovery(self) -> None:
        before = (self.endpoint.model, self.completion_endpoint.model)
        self.apply_settings()
        for endpoint in (self.completion_endpoint, self.endpoint):
            if endpoint.closest and endpoint.model:
                log.warning("model '%s' is not listed by %s; closest served: %s",
                            endpoint.model, endpoint.base_url, ", ".join(endpoint.closest))
        changed = (self.endpoint.model, self.completion_endpoint.model) != before
        log.info("discovery done%s: %s", " (models chosen from what is served)" if changed
                 else "", self._roles_logged)

    def settings_problems(self) -> list[str]:
        """Resolve the settings without announcing them; return every problem once (for a
        caller that shows them itself: the CLI) and count them as shown."""
        problems = self.apply_settings(announce=False)
        problems = list(dict.fromkeys(self._pending_problems + problems))
        self._pending_problems = []
        self._announced.update(problems)
        return problems

    def note_problem(self, problem: str) -> None:
        """A settings problem found before the client can be told: shown by the next
        announcing `apply_settings`, once."""
        self._pending_problems.append(problem)

    def load_project_config(self) -> None:
        """Read `.devstral.json` from the first workspace root that has one (bounded, never
        raising: a hostile file costs one message, never `initialize`)."""
        self.project_config = None
        self.project_source = PROJECT_FILE
        for root in self.roots:
            path = root / PROJECT_FILE
            if not os.path.lexists(path):
                continue
            self.project_config, problems = read_project_file(path)
            self.project_source = str(path)
            self._pending_problems.extend(problems)
            return

    def start_warm_up(self) -> None:
        """Load the model library and the tokenizer on worker threads, once `initialize` was
        answered: otherwise the first completion pays for both (seconds on a loaded
        machine), after its context is built but before its deadline starts."""
        from .context.tokens import get_encoding
        from .model.client import warm_up

        def load_chat_resources() -> None:
            # openai builds `client.chat.completions` (and imports its modules) on first
            # access, which is inside the first completion's deadline otherwise.
            from .model.sdk import load_openai

            openai = load_openai()

            client = openai.AsyncOpenAI(api_key="warm-up", base_url="http://127.0.0.1:9/v1")
            client.chat.completions  # noqa: B018

        async def warm() -> None:
            await asyncio.gather(warm_up(), asyncio.to_thread(get_encoding))
            await asyncio.to_thread(load_chat_resources)

        if self.warming is None:
            self.warming = asyncio.ensure_future(warm())

    def model_client(self) -> ModelClient:
        """The main role's client (code actions, the agent); rebuilt when settings change."""
        return self._client_for("main", self.endpoint)

    def completion_client(self) -> ModelClient:
        """The completion role's client (the main one when both roles share an endpoint)."""
        if self.completion_endpoint == self.endpoint:
            return self.model_client()
        return self._client_for("completion", self.completion_endpoint)

    def _client_for(self, role: str, endpoint: Endpoint) -> ModelClient:
        from .model.discovery import explaining_client

        client = self._clients.get(role)
        if client is None or self._client_endpoints.get(role) != endpoint:
            self._clients[role] = explaining_client(endpoint, self._served_after_404,
                                                    observer=self, cache_scope=self.cache_scope)
            self._client_endpoints[role] = endpoint
            if client is not None:
                self._closing = asyncio.ensure_future(client.aclose())
        else:
            client.endpoint = endpoint  # same connection; newer 404 hints
        return self._clients[role]

    def _served_after_404(self, served: ServedModels) -> None:
        """A 404 listed the endpoint's models: keep them and re-resolve (hints, choices)."""
        self.served[served.base_url] = served
        self.apply_settings()

    async def discover_now(self) -> None:
        """Discovery in the foreground, for the CLI."""
        todo = self._discovery_todo()
        if todo is not None:
            await self._discover(todo)

    async def aclose_clients(self) -> None:
        """Close every model client (the CLI, before its loop ends)."""
        for client in list(self._clients.values()):
            await client.aclose()

    # ----- usage, budget and status (the gateway's observer) -------------------------------
    def cache_scope(self) -> str:
        """The workspace, for the prompt cache key (the gateway hashes it before sending)."""
        return "\n".join(sorted(str(r) for r in self.roots))

    def budget_refusal(self) -> str | None:
        """The daily budget's message once it is reached (and the status says paused)."""
        message = self.usage.budget_message()
        self.status.set_budget(message)
        return message

    def refusal(self, feature: Feature) -> str | None:
        return self.budget_refusal()

    def call_started(self, feature: Feature) -> None:
        self.status.call_started()

    def call_finished(self, feature: Feature) -> None:
        self.status.call_finished()

    def model_answered(self, feature: Feature, model: str, usage: Usage, provider: str) -> None:
        usd = self.usage.record(feature, model, usage, provider)
        log.debug("%s call to %s: %d in (%d cached), %d out%s, $%.6f", feature, model,
                  usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
                  " (estimated)" if usage.estimated else "", usd)
        self.status.answered()
        self._schedule_flush()

    def model_failed(self, feature: Feature, error: BackendError) -> None:
        self.status.failed(f"Devstral: {error.message}")

    def backoff(self, seconds: float) -> None:
        self.status.backoff(seconds)

    def document_withheld(self, uri: str) -> None:
        reason = self.context.blocked_reason(uri)
        if reason:
            self.status.set_inactive(f"Devstral is off for this file: {reason}")

    def _schedule_flush(self) -> None:
        """Write the usage file about once a second, not once per completion."""
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.usage.flush()
            return

        def flush() -> None:
            self._flush_handle = None
            self.usage.flush()

        self._flush_handle = loop.call_later(1.0, flush)

    @property
    def has_client(self) -> bool:
        """Whether an editor is attached: the CLI runs this server in-process with none, and
        pygls logs an ERROR for every message it cannot send, which `complete` printed."""
        return self.protocol.writer is not None

    def _send_status(self, params: StatusParams) -> None:
        from .features.status import STATUS_METHOD

        if self.has_client:
            self.protocol.notify(STATUS_METHOD, params)

    # ----- documents and context -----------------------------------------------------------
    @property
    def context_engine(self) -> ContextEngine:
        """The engine behind `context` (its privacy guard is shared with code actions)."""
        return self.context.engine

    def relative_path(self, uri: str) -> str:
        """Workspace-relative path as shown to the model."""
        return str(self.context.engine.label(uri_to_path(uri), uri))

    def build_completion_context(self, uri: str, offset: int) -> PromptContext | None:
        doc = self.documents.get(uri)
        if doc is None:
            return None
        from .completion.speculation import is_free_endpoint  # loaded with the pipeline
        from .model.prompts import suffix_read_first

        ep = self.completion_endpoint
        billed = not is_free_endpoint(ep.base_url, ep.provider, ep.model or "")
        stable = suffix_read_first(ep.prompt_mode, ep.fim_style, self.settings.prompt_layout)
        ctx = self.context.build(doc, offset, self.settings.context_tokens, billed=billed,
                                 stable_suffix=stable)
        if ctx is not None and "\r" in ctx.prefix + ctx.suffix:
            # The model sees "\n" only; answers get the file's line ending back on the way out.
            ctx.prefix = normalize_newlines(ctx.prefix)
            ctx.suffix = normalize_newlines(ctx.suffix)
        return ctx


def _user_named(endpoint: Endpoint) -> bool:
    """The user (or project) named this role's model: no need to list models up front (a 404
    lists them then, to name the closest)."""
    src = endpoint.model_source
    return bool(endpoint.model) and not (src.startswith("default of") or
                                         src.startswith("discovered"))


def _needs_key(endpoint: Endpoint) -> bool:
    from .model.providers import PRESETS

    p = PRESETS.get(endpoint.provider)
    return bool(p and p.needs_key)


class UserMessages:
    """`window/showMessage` that never raises; deciding *whether* to show (once per outage,
    once per settings problem) is the callers' job."""

    def __init__(self, server: DevstralServer) -> None:
        self.server = server

    def _show(self, kind: types.MessageType, message: str) -> None:
        if not self.server.has_client:  # the CLI: the message is logged by the caller
            return
        try:
            self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))
        except Exception:  # no client yet (CLI) or a closed transport
            log.debug("could not show message", exc_info=True)

    def show_error(self, message: str) -> None:
        log.error("%s", message)
        self._show(types.MessageType.Error, message)

    def show_warning(self, message: str) -> None:
        self._show(types.MessageType.Warning, message)

    def show_info(self, message: str) -> None:
        log.info("%s", message)
        self._show(types.MessageType.Info, message)
