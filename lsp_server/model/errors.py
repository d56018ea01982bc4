"""Every failure of a model call, translated once into a `BackendError` fit to show the user.

Completions, code actions and the edit agent all see the same few kinds (auth, not_found,
rate_limit, server, bad_request, connection, timeout, bad_response), the same wording and the
same key masking, whichever `openai` exception or transport failure caused them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..privacy.masking import mask
from .endpoint import Endpoint


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


def retry_after_s(headers: Any) -> float | None:
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


def _names_unknown_model(body: Any, detail: str) -> bool:
    """Mistral answers an unknown or retired model with HTTP 400 `type: invalid_model`,
    OpenRouter with 400 "… is not a valid model ID": both mean what a 404 means elsewhere."""
    err = body.get("error", body) if isinstance(body, dict) else None
    return (isinstance(err, dict) and err.get("type") == "invalid_model") or (
        "not a valid model" in detail or detail.startswith("Invalid model"))


def translate_error(exc: BaseException, endpoint: Endpoint) -> BackendError:
    """Map the openai client's exceptions onto a few kinds with clear, key-free messages."""
    from .sdk import load_openai

    openai = load_openai()

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
        detail = mask(detail[:300], endpoint.api_key)
        suffix = f": {detail}" if detail else ""
        retry_after = retry_after_s(exc.response.headers if exc.response is not None else None)
        if status in (401, 403):
            return BackendError(
                "auth", f"{where} rejected the API key (HTTP {status}){suffix}", status=status
            )
        if status == 404 or (status == 400 and _names_unknown_model(body, detail)):
            return BackendError(
                "not_found",
                f"{where} does not know model '{endpoint.model}' or this API (HTTP {status})"
                f"{suffix}{endpoint.not_found_hint()}",
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
