"""The model gateway: every call to the model (completions, code actions, the edit agent).

One place owns what every call needs: the `openai` AsyncOpenAI client against any compatible
endpoint, one hard deadline, one error translation (`model.errors`), provider quirks
(`model.quirks`: prompt caching, usage in streams), the tool-call parser (`model.tool_calls`)
and usage accounting (each answered call is reported to an observer with its tokens, measured
with Tekken where the endpoint reports none).

`import openai` costs about half a second, so it happens on first use, never on the path to
the `initialize` reply. Calls run with `max_retries=0` and a deadline: a hanging backend must
not hold an editor request, and retrying is the caller's decision (backoff), not a hidden loop.
Streams are always left through `async with`, which closes the HTTP connection at once when the
caller stops early or is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..usage.meter import Usage, estimate_usage, request_text, usage_from_wire
from .endpoint import Endpoint
from .errors import BackendError, translate_error
from .prompts import ModelRequest
from .quirks import provider_fields
from .sdk import load_openai
from .tool_calls import ToolCall, calls_from_message

if TYPE_CHECKING:
    import openai

__all__ = ["BackendError", "ChatReply", "Feature", "ModelClient", "StreamResult", "warm_up"]

log = logging.getLogger(__name__)

Feature = Literal["completion", "action", "agent", "nextEdit"]
"""Who asked: usage is accounted per feature, and the prompt cache key is per role."""


class GatewayObserver(Protocol):
    """Told about every call: the usage meter, the daily budget and the status tracker."""

    def refusal(self, feature: Feature) -> str | None:
        """A reason not to call the model at all (the daily budget), or None."""
        ...

    def call_started(self, feature: Feature) -> None: ...

    def call_finished(self, feature: Feature) -> None: ...

    def model_answered(self, feature: Feature, model: str, usage: Usage, provider: str
                       ) -> None:
        """`provider` is this client's preset: completions may use another endpoint than
        actions, and each is priced by its own."""
        ...

    def model_failed(self, feature: Feature, error: BackendError) -> None: ...


@dataclass
class StreamResult:
    """What one streamed completion produced."""

    text: str
    finish_reason: str | None = None
    stopped_early: bool = False
    ttft_s: float | None = None
    total_s: float = 0.0
    usage: Usage = field(default_factory=Usage)


@dataclass
class ChatReply:
    """One non-streamed chat answer, already parsed: text, tool calls, why it ended, usage.

    `empty` is set when the endpoint returned no choice at all (callers say so and stop)."""

    content: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage
    empty: bool = False


_warm: asyncio.Future[object] | None = None


async def warm_up() -> None:
    """Import `openai` in a worker thread (once, through `sdk.load_openai`: only the parts
    used), so neither `initialize` nor the event loop pays the import; the first completion
    waits for it outside its own deadline."""
    global _warm
    import sys

    if "openai" in sys.modules and _warm is None:
        return
    if _warm is None:
        loop = asyncio.get_running_loop()
        _warm = loop.run_in_executor(None, load_openai)
    await asyncio.shield(_warm)


class ModelClient:
    """One AsyncOpenAI client per endpoint, rebuilt when the settings change it.

    `cache_scope` names the workspace for the prompt cache key (hashed before it is sent);
    `observer` hears about every answered or failed call.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        observer: GatewayObserver | None = None,
        cache_scope: Callable[[], str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.observer = observer
        self.cache_scope = cache_scope or (lambda: "")
        self._client: openai.AsyncOpenAI | None = None

    @property
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            openai = load_openai()
            self._client = openai.AsyncOpenAI(
                api_key=self.endpoint.api_key or "none",
                base_url=self.endpoint.base_url,
                max_retries=0,
                timeout=60.0,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.close()
            except Exception:  # closing must never raise into shutdown
                log.debug("closing the model client failed", exc_info=True)

    def wire_body(self, body: dict[str, Any], feature: Feature, *, stream: bool) -> dict[str, Any]:
        """The body exactly as sent: the caller's fields over the provider's extras."""
        extras = provider_fields(self.endpoint.provider, scope=self.cache_scope(), role=feature,
                                 stream=stream)
        return {**extras, **body, **({"stream": True} if stream else {})}

    # ----- streamed completions --------------------------------------------------------------
    async def stream_completion(
        self,
        request: ModelRequest,
        *,
        timeout_s: float,
        should_stop: Callable[[str], bool] | None = None,
        feature: Feature = "completion",
    ) -> StreamResult:
        """Stream one completion; stop early when `should_stop(accumulated)` says so.

        Raises BackendError on any failure, TimeoutError is folded into it; cancellation
        propagates (and closes the stream).
        """
        await warm_up()
        self.client  # noqa: B018 - build the client outside the deadline
        started = time.monotonic()
        result = StreamResult(text="")
        body = self.wire_body(request.body, feature, stream=True)
        reported: Usage | None = None
        async with self._observed(feature):
            async with self._deadline(timeout_s, feature):
                reported = await self._stream_into(request, body, result, should_stop, started,
                                                   timeout_s)
            result.total_s = time.monotonic() - started
            result.usage = reported or estimate_usage(request_text(body), result.text)
            self._answered(feature, str(body.get("model") or ""), result.usage)
        return result

    async def _stream_into(
        self,
        request: ModelRequest,
        body: dict[str, Any],
        result: StreamResult,
        should_stop: Callable[[str], bool] | None,
        started: float,
        timeout_s: float,
    ) -> Usage | None:
        openai = load_openai()
        from openai.types.chat import ChatCompletionChunk
        from openai.types.completion import Completion

        client = self.client
        parts: list[str] = []
        usage: Usage | None = None
        stream: Any
        if request.endpoint == "chat":
            stream = await self._create(body, timeout_s)
        elif request.endpoint == "completions":
            stream = await client.post(
                "/completions", body=body, cast_to=Completion, stream=True,
                stream_cls=openai.AsyncStream[Completion], options={"timeout": timeout_s},
            )
        else:
            stream = await client.post(
                "/fim/completions", body=body, cast_to=ChatCompletionChunk, stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
                options={"timeout": timeout_s},
            )
        async with stream:
            async for chunk in stream:
                usage = usage_from_wire(getattr(chunk, "usage", None)) or usage
                choices = getattr(chunk, "choices", None) or []
                if not choices:
                    continue
                choice = choices[0]
                delta_text = (
                    getattr(choice, "text", None)
                    if request.endpoint == "completions"
                    else getattr(getattr(choice, "delta", None), "content", None)
                )
                if choice.finish_reason:
                    result.finish_reason = choice.finish_reason
                if not delta_text:
                    continue
                if result.ttft_s is None:
                    result.ttft_s = time.monotonic() - started
                parts.append(delta_text)
                if should_stop is not None and should_stop("".join(parts)):
                    result.stopped_early = True
                    break
        result.text = "".join(parts)
        # A stream left early never sees its usage chunk: the tokens were still generated
        # up to the point where the connection closed, so they are estimated.
        return None if result.stopped_early else usage

    # ----- chat (code actions, the edit agent) -------------------------------------------
    async def chat(
        self,
        *,
        messages: list[dict[str, Any]],
        timeout_s: float,
        max_tokens: int | None = 2048,
        temperature: float = 0.1,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        extra_body: dict[str, Any] | None = None,
        model: str | None = None,
        feature: Feature = "action",
    ) -> ChatReply:
        """One non-streamed chat call, parsed into a `ChatReply`; BackendError on failure."""
        await warm_up()
        self.client  # noqa: B018 - build the client outside the deadline
        body: dict[str, Any] = {
            "model": model if model is not None else self.endpoint.model or "",
            "messages": messages,
            "temperature": temperature,
        }
        if max_tokens:
            body["max_tokens"] = max_tokens
        if tools:
            body["tools"] = tools
            if tool_choice:
                body["tool_choice"] = tool_choice
        body = self.wire_body({**body, **(extra_body or {})}, feature, stream=False)
        async with self._observed(feature):
            async with self._deadline(timeout_s, feature):
                response = await self._create(body, timeout_s)
                choices = getattr(response, "choices", None) or []
                message = choices[0].message if choices else None
                content = message.content if message is not None else None
                reply = ChatReply(
                    content=content if isinstance(content, str) else "",
                    tool_calls=calls_from_message(message) if message is not None else [],
                    finish_reason=(getattr(choices[0], "finish_reason", None) if choices
                                   else None),
                    usage=Usage(),
                    empty=not choices,
                )
            reported = usage_from_wire(getattr(response, "usage", None))
            if reported is None:
                answer = reply.content + "".join(c.name + c.arguments for c in reply.tool_calls)
                reported = estimate_usage(request_text(body), answer)
            reply.usage = reported
            self._answered(feature, str(body.get("model") or ""), reported)
        return reply

    async def _create(self, body: dict[str, Any], timeout_s: float) -> Any:
        """The one chat-completions call of the server: known fields typed, the rest
        (provider extensions such as `prefix`, `safe_prompt`, `prompt_cache_key`) as
        `extra_body`, so the openai client neither drops nor rejects them."""
        openai = load_openai()

        known = {"model", "messages", "max_tokens", "temperature", "stop", "stream", "tools",
                 "tool_choice"}
        extra = {k: v for k, v in body.items() if k not in known}
        return await self.client.chat.completions.create(
            model=body["model"],
            messages=body["messages"],
            max_tokens=body.get("max_tokens", openai.omit),
            temperature=body.get("temperature", openai.omit),
            stop=body.get("stop") or openai.omit,
            tools=body.get("tools") or openai.omit,
            tool_choice=body.get("tool_choice", openai.omit),
            stream=bool(body.get("stream")),
            extra_body=extra or None,
            timeout=timeout_s,
        )

    async def list_models(self, timeout_s: float = 10.0) -> list[str]:
        """Model ids the endpoint lists (for `doctor`)."""
        await warm_up()
        async with self._deadline(timeout_s, None):
            page = await self.client.models.list()
            return [m.id for m in page.data]

    # ----- bookkeeping --------------------------------------------------------------------
    def _answered(self, feature: Feature, model: str, usage: Usage) -> None:
        if self.observer is not None:
            try:
                self.observer.model_answered(feature, model, usage, self.endpoint.provider)
            except Exception:  # accounting must never break a call that succeeded
                log.exception("usage observer failed")

    @contextlib.asynccontextmanager
    async def _observed(self, feature: Feature) -> AsyncIterator[None]:
        """Refuse when the observer says so (BackendError `budget`, no request sent); tell it
        when a call starts and ends (however it ends)."""
        observer = self.observer
        if observer is None:
            yield
            return
        reason = observer.refusal(feature)
        if reason is not None:
            raise BackendError("budget", reason)
        observer.call_started(feature)
        try:
            yield
        finally:
            try:
                observer.call_finished(feature)
            except Exception:
                log.exception("observer failed")

    @contextlib.asynccontextmanager
    async def _deadline(self, timeout_s: float, feature: Feature | None) -> AsyncIterator[None]:
        """A hard deadline, with every failure but cancellation turned into BackendError."""
        try:
            async with asyncio.timeout(timeout_s):
                yield
        except asyncio.CancelledError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            error = translate_error(exc, self.endpoint)
            if feature is not None and self.observer is not None:
                try:
                    self.observer.model_failed(feature, error)
                except Exception:
                    log.exception("failure observer failed")
            raise error from exc
