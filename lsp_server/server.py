"""The language server: owns settings, documents, the model client and the pipelines.

Feature handlers live in `features/` and stay thin; this module holds the state they share.
The workarounds for pygls (document sync bypassing its store, invalid params, the future leak,
cancelling commands) are in `pygls_fixes.py`; here UTF-8 positions are preferred whenever the
client offers them (cheaper on our side and what Neovim uses natively), UTF-16 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import lsp_method

from . import __version__
from .config import PROJECT_FILE, Endpoint, build_settings, resolve_endpoint
from .context.types import PromptContext
from .documents import DocumentStore, PositionEncoding
from .pygls_fixes import FixedProtocol
from .text import normalize_newlines
from .uris import uri_to_path

if TYPE_CHECKING:
    from .model.client import ModelClient

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
            offered = list(general.position_encodings)
            if types.PositionEncodingKind.Utf8 in offered:
                offered.remove(types.PositionEncodingKind.Utf8)
                offered.insert(0, types.PositionEncodingKind.Utf8)
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
        self.project_config: Any = None
        self.settings, problems = build_settings(self.environ)
        self._pending_problems = problems
        self._announced: set[str] = set()
        self.endpoint: Endpoint = resolve_endpoint(self.settings, self.environ)
        self.roots: list[Path] = []
        self.encoding = PositionEncoding.UTF16
        self.client_has_inline = False
        self.offer_completion_items = True
        self._model: Any = None
        self._closing: Any = None
        self.warming: asyncio.Future[None] | None = None
        """Loading what the first completion needs (`start_warm_up`); done = warm."""
        self._model_endpoint: Endpoint | None = None
        self.user = UserMessages(self)
        from .features.status import StatusTracker
        from .usage.accounting import UsageAccounting
        from .usage.store import UsageStore, state_dir

        self.status = StatusTracker(self._send_status)
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
            endpoint=lambda: self.endpoint,
            model=self.model_client,
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
        self.parent_watch: Any = None
        """The watcher of `initialize.processId` (features/lifecycle)."""
        self.config_ready = asyncio.Event()
        """Set once the client's configuration was pulled (or cannot be)."""

    async def wait_configured(self, timeout_s: float = 2.0) -> None:
        """Let the first requests wait for `workspace/configuration`, not race it."""
        if not self.config_ready.is_set():
            try:
                await asyncio.wait_for(self.config_ready.wait(), timeout_s)
            except TimeoutError:
                log.warning("no configuration from the client after %.0fs; going on", timeout_s)
                self.config_ready.set()

    # ----- lifecycle -----------------------------------------------------------------------
    def after_initialize(self, result: types.InitializeResult) -> None:
        """Adjust advertised capabilities once pygls has built them."""
        enc = result.capabilities.position_encoding or types.PositionEncodingKind.Utf16
        self.encoding = PositionEncoding(str(enc.value if hasattr(enc, "value") else enc))
        if not self.offer_completion_items:
            result.capabilities.completion_provider = None

    def apply_settings(self, *, announce: bool = True) -> list[str]:
        """Rebuild settings from every layer; swap the endpoint; report problems once.

        With `announce=False` (during `initialize`, before the client can show messages)
        problems are kept and shown by the next announcing call.
        """
        settings, problems = build_settings(self.environ, self.init_options, self.client_config,
                                            self.project_config)
        endpoint = resolve_endpoint(settings, self.environ)
        from .logging_setup import add_secret

        add_secret(endpoint.api_key)
        changed = settings != self.settings or endpoint != self.endpoint
        self.settings, self.endpoint = settings, endpoint
        from .logging_setup import set_level

        set_level(settings.log_level)
        if changed:
            self.pipeline.settings_changed()
            if self.config_ready.is_set():
                self.budget_refusal()
        if not announce:
            return problems
        problems = [p for p in self._pending_problems + problems if p not in self._announced]
        self._pending_problems = []
        self._announced.update(problems)
        for problem in problems:
            log.warning("settings: %s", problem)
        if problems:
            self.user.show_warning(
                "devstral-lsp settings: " + "; ".join(problems[:3])
                + (f" (+{len(problems) - 3} more, see the log)" if len(problems) > 3 else "")
            )
        ep = self.endpoint
        using = (f"using provider={ep.provider} baseUrl={ep.base_url} model={ep.model} "
                 f"promptMode={ep.prompt_mode} key={ep.masked_key()}")
        if using != getattr(self, "_logged_using", None):  # once per change, not per pull
            self._logged_using = using
            log.info("%s", using)
        return problems

    def load_project_config(self) -> None:
        """Read `.devstral.json` from the first workspace root that has one."""
        self.project_config = None
        for root in self.roots:
            path = root / PROJECT_FILE
            if not path.is_file():
                continue
            try:
                self.project_config = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self._pending_problems.append(f"{path}: cannot read ({exc}); ignored")
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
            import openai

            client = openai.AsyncOpenAI(api_key="warm-up", base_url="http://127.0.0.1:9/v1")
            client.chat.completions  # noqa: B018

        async def warm() -> None:
            await asyncio.gather(warm_up(), asyncio.to_thread(get_encoding))
            await asyncio.to_thread(load_chat_resources)

        if self.warming is None:
            self.warming = asyncio.ensure_future(warm())

    def model_client(self) -> ModelClient:
        """The model gateway for the current endpoint (rebuilt when settings change it)."""
        from .model.client import ModelClient

        if self._model is None or self._model_endpoint != self.endpoint:
            old = self._model
            self._model = ModelClient(self.endpoint, observer=self, cache_scope=self.cache_scope)
            self._model_endpoint = self.endpoint
            if old is not None:
                self._closing = asyncio.ensure_future(old.aclose())
        return self._model

    # ----- usage, budget and status (the gateway's observer) -------------------------------
    def cache_scope(self) -> str:
        """The workspace, for the prompt cache key (the gateway hashes it before sending)."""
        return "\n".join(sorted(str(r) for r in self.roots))

    def budget_refusal(self) -> str | None:
        """The daily budget's message once it is reached (and the status says paused)."""
        message = self.usage.budget_message()
        self.status.set_budget(message)
        return message

    def refusal(self, feature: str) -> str | None:
        return self.budget_refusal()

    def call_started(self, feature: str) -> None:
        self.status.call_started()

    def call_finished(self, feature: str) -> None:
        self.status.call_finished()

    def model_answered(self, feature: str, model: str, usage: Any, provider: str) -> None:
        usd = self.usage.record(feature, model, usage, provider)
        log.debug("%s call to %s: %d in (%d cached), %d out%s, $%.6f", feature, model,
                  usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
                  " (estimated)" if usage.estimated else "", usd)
        self.status.answered()
        self._schedule_flush()

    def model_failed(self, feature: str, error: Any) -> None:
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

    def _send_status(self, params: dict[str, Any]) -> None:
        from .features.status import STATUS_METHOD

        self.protocol.notify(STATUS_METHOD, params)

    # ----- documents and context -----------------------------------------------------------
    @property
    def context_engine(self) -> Any:
        """The engine behind `context` (its privacy guard is shared with code actions)."""
        return self.context.engine

    def relative_path(self, uri: str) -> str:
        """Workspace-relative path as shown to the model."""
        return str(self.context.engine.label(uri_to_path(uri), uri))

    def build_completion_context(self, uri: str, offset: int) -> PromptContext | None:
        doc = self.documents.get(uri)
        if doc is None:
            return None
        ctx = self.context.build(doc, offset, self.settings.context_tokens)
        if ctx is not None and "\r" in ctx.prefix + ctx.suffix:
            # The model sees "\n" only; answers get the file's line ending back on the way out.
            ctx.prefix = normalize_newlines(ctx.prefix)
            ctx.suffix = normalize_newlines(ctx.suffix)
        return ctx


class UserMessages:
    """`window/showMessage` that never raises; deciding *whether* to show (once per outage,
    once per settings problem) is the callers' job."""

    def __init__(self, server: DevstralServer) -> None:
        self.server = server

    def _show(self, kind: types.MessageType, message: str) -> None:
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
