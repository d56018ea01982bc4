"""The model client: the `openai` AsyncOpenAI client against any compatible endpoint.

`import openai` costs about half a second, so it happens on first use, never on the path to
the `initialize` reply. Completions run with `max_retries=0` and a hard deadline: a hanging
backend must not hold an editor request, and retrying is the pipeline's decision (backoff),
not a hidden loop. Streams are always left through `async with`, which closes the HTTP
connection at once when the caller stops early or is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import Endpoint
from .prompts import ModelRequest

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)


class BackendError(Exception):
    """A failed model call, with a message fit to show the user (never containing the key)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass
class StreamResult:
    """What one streamed completion produced."""

    text: str
    finish_reason: str | None = None
    stopped_early: bool = False
    ttft_s: float | None = None
    total_s: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` / `Retry-After` (delta seconds or HTTP date)."""
    if headers is None:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        raw = headers.get("retry-after")
        if raw is None:
            return None
        try:
            return max(0.0, float(raw))
        except ValueError:
            from email.utils import parsedate_to_datetime

            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except Exception:
        return None


def _redact(text: str, key: str | None) -> str:
    if key and len(key) >= 4:
        text = text.replace(key, "***")
    return text


def translate_error(exc: BaseException, endpoint: Endpoint) -> BackendError:
    """Map the openai client's exceptions onto a few kinds with clear, key-free messages."""
    import openai

    where = endpoint.base_url or "the endpoint"
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
        return BackendError("timeout", f"the model at {where} did not answer in time")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = ""
        body = getattr(exc, "body", None)
        if isinstance(body, dict):
            err = body.get("error", body)
            if isinstance(err, dict):
                detail = str(err.get("message") or "")
            elif isinstance(err, str):
                detail = err
        detail = _redact(detail[:300], endpoint.api_key)
        suffix = f": {detail}" if detail else ""
        retry_after = _retry_after(exc.response.headers if exc.response is not None else None)
        if status in (401, 403):
            return BackendError(
                "auth", f"{where} rejected the API key (HTTP {status}){suffix}", status=status
            )
        if status == 404:
            return BackendError(
                "not_found",
                f"{where} does not know model '{endpoint.model}' or this API (HTTP 404){suffix}",
                status=status,
            )
        if status == 429:
            return BackendError(
                "rate_limit", f"{where} is rate limiting requests (HTTP 429){suffix}",
                status=status, retry_after=retry_after,
            )
        if status >= 500:
            return BackendError(
                "server", f"{where} failed (HTTP {status}){suffix}", status=status,
                retry_after=retry_after,
            )
        return BackendError(
            "bad_request", f"{where} refused the request (HTTP {status}){suffix}", status=status
        )
    if isinstance(exc, openai.APIConnectionError):
        return BackendError("connection", f"cannot reach {where}: connection failed or was reset")
    if isinstance(exc, (json.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError,
                        openai.APIResponseValidationError)):
        return BackendError("bad_response", f"{where} sent a malformed answer")
    return BackendError("connection", f"request to {where} failed: {type(exc).__name__}")


_warm: asyncio.Future[object] | None = None


async def warm_up() -> None:
    """Import `openai` in a worker thread (once), so neither `initialize` nor the event loop
    pays the ~0.5 s import; the first completion waits for it outside its own deadline."""
    global _warm
    import sys

    if "openai" in sys.modules and _warm is None:
        return
    if _warm is None:
        import importlib

        loop = asyncio.get_running_loop()
        _warm = loop.run_in_executor(None, lambda: importlib.import_module("openai"))
    await asyncio.shield(_warm)


class ModelClient:
    """One AsyncOpenAI client per endpoint, rebuilt when the settings change it."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client: openai.AsyncOpenAI | None = None

    @property
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai

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

    async def stream_completion(
        self,
        request: ModelRequest,
        *,
        timeout_s: float,
        should_stop: Callable[[str], bool] | None = None,
    ) -> StreamResult:
        """Stream one completion; stop early when `should_stop(accumulated)` says so.

        Raises BackendError on any failure, TimeoutError is folded into it; cancellation
        propagates (and closes the stream).
        """
        await warm_up()
        self.client  # noqa: B018 - build the client outside the deadline
        started = time.monotonic()
        result = StreamResult(text="")
        async with self._deadline(timeout_s):
            await self._stream_into(request, result, should_stop, started, timeout_s)
        result.total_s = time.monotonic() - started
        return result

    async def _stream_into(
        self,
        request: ModelRequest,
        result: StreamResult,
        should_stop: Callable[[str], bool] | None,
        started: float,
        timeout_s: float,
    ) -> None:
        import openai
        from openai.types.chat import ChatCompletionChunk
        from openai.types.completion import Completion

        client = self.client
        body = dict(request.body)
        body["stream"] = True
        parts: list[str] = []
        stream: Any
        if request.endpoint == "chat":
            known = {"model", "messages", "max_tokens", "temperature", "stop", "stream"}
            extra = {k: v for k, v in body.items() if k not in known}
            stream = await client.chat.completions.create(
                model=body["model"],
                messages=body["messages"],
                max_tokens=body.get("max_tokens", openai.omit),
                temperature=body.get("temperature", openai.omit),
                stop=body.get("stop") or openai.omit,
                stream=True,
                extra_body=extra or None,
                timeout=timeout_s,
            )
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
                if getattr(chunk, "usage", None):
                    usage = chunk.usage
                    result.usage = {
                        "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                        "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
                    }
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

    async def list_models(self, timeout_s: float = 10.0) -> list[str]:
        """Model ids the endpoint lists (for `doctor`)."""
        await warm_up()
        async with self._deadline(timeout_s):
            page = await self.client.models.list()
            return [m.id for m in page.data]

    async def chat(
        self,
        *,
        messages: list[dict[str, Any]],
        timeout_s: float,
        max_tokens: int = 2048,
        temperature: float = 0.1,
        tools: list[dict[str, Any]] | None = None,
    ) -> Any:
        """One non-streamed chat call (code actions); returns the ChatCompletion."""
        await warm_up()
        import openai

        async with self._deadline(timeout_s):
            return await self.client.chat.completions.create(
                model=self.endpoint.model or "",
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                tools=tools if tools else openai.omit,  # type: ignore[arg-type]
                timeout=timeout_s,
            )

    @contextlib.asynccontextmanager
    async def _deadline(self, timeout_s: float) -> AsyncIterator[None]:
        """A hard deadline, with every failure but cancellation turned into BackendError."""
        try:
            async with asyncio.timeout(timeout_s):
                yield
        except asyncio.CancelledError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            raise translate_error(exc, self.endpoint) from exc
