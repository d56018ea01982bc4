"""What every `devstral.*` model command shares on the protocol side.

Reading a range from a payload, the privacy hook, asking the model under a progress, applying a
`WorkspaceEdit` through the editor, and `guard`: every failure of a command becomes one message
for the user and a result, and nothing is applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.protocol import default_converter

from ..actions.propose import ActionFailed, Reply, reply_from_chat
from ..pygls_fixes import link_request_cancel
from .progress import Cancelled, Progress

if TYPE_CHECKING:
    from ..edit_builder import EditCapabilities
    from ..server import DevstralServer

log = logging.getLogger(__name__)

T = TypeVar("T")

def parse_range(raw: Any) -> types.Range | None:
    """The `Range` in a payload (JSON), or None when it is missing or malformed."""
    if raw is None:
        return None
    try:
        # pygls' converter factory is untyped; its result is a cattrs Converter.
        rng = default_converter().structure(raw, types.Range)  # type: ignore[no-untyped-call]
    except Exception:
        return None
    return rng if isinstance(rng, types.Range) else None


def argument(args: tuple[Any, ...]) -> dict[str, Any]:
    """The single object argument every `devstral.*` command takes."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise ActionFailed("Devstral: the command expects one object argument.")
    return args[0]


def edit_caps(ls: DevstralServer) -> EditCapabilities:
    from ..edit_builder import EditCapabilities

    return EditCapabilities.from_client(ls.client_capabilities, str(ls.encoding))


def path_policy(ls: DevstralServer, *, document: bool = False) -> Callable[[Path], str | None]:
    """The one hook for the privacy rules: `path -> refusal reason | None`, from the context
    engine's guard (shared with completions).

    By default the rule for files the server reads or edits on its own (the edit agent,
    Generate tests): secret and `.devstralignore`d files, version-control metadata and links
    whose target leaves the workspace (`PrivacyGuard.reach_reason`). `document=True` is the
    rule for the user's own open document (`blocked_reason`: secret and ignored files).
    """
    guard = ls.context_engine.guard
    return guard.blocked_reason if document else guard.reach_reason


def open_documents(ls: DevstralServer) -> dict[Path, tuple[str, int]]:
    """Every open `file:` document's text and version, by path (what `revalidate` compares)."""
    from ..uris import uri_to_path

    out: dict[Path, tuple[str, int]] = {}
    for doc in ls.documents:
        p = uri_to_path(doc.uri)
        if p is not None:
            out[p] = (doc.text, doc.version)
    return out


def model_asker(ls: DevstralServer, progress: Progress) -> Callable[[list[dict[str, Any]], int],
                                                                    Awaitable[Reply]]:
    """An `actions.propose.Ask` over the server's model client, cancellable by `progress`."""

    async def ask(messages: list[dict[str, Any]], max_tokens: int) -> Reply:
        from ..model.client import BackendError

        timeout_s = ls.settings.action_timeout_ms / 1000
        problem = ls.endpoint.problem() if hasattr(ls.endpoint, "problem") else None
        if problem:
            raise ActionFailed(f"Devstral is not configured: {problem}")
        try:
            reply = await progress.run(ls.model_client().chat(
                messages=messages, timeout_s=timeout_s, max_tokens=max_tokens,
                temperature=0.1, feature="action"))
        except BackendError as exc:
            raise ActionFailed(f"Devstral: {exc.message}") from exc
        return reply_from_chat(reply)

    return ask


async def apply_edit(ls: DevstralServer, edit: types.WorkspaceEdit, label: str) -> bool:
    """`workspace/applyEdit`; a refusal is shown to the user, a failure raises `ActionFailed`."""
    try:
        resp = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=label))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise ActionFailed(f"Devstral: the editor could not apply the edit ({exc}).") from exc
    if not resp.applied:
        reason = f": {resp.failure_reason}" if resp.failure_reason else ""
        ls.user.show_warning(f"Devstral: the editor did not apply the edit{reason}.")
    return bool(resp.applied)


async def guard(ls: DevstralServer, coro: Awaitable[T]) -> T | dict[str, Any]:
    """Every failure becomes one message and a result; nothing is applied. Every log line of
    the action carries its id (`a<n>`)."""
    from ..logging_setup import request_scope

    with request_scope("a"):
        return await _guarded(ls, coro)


async def _guarded(ls: DevstralServer, coro: Awaitable[T]) -> T | dict[str, Any]:
    link_request_cancel(ls)
    try:
        return await coro
    except ActionFailed as exc:
        ls.user.show_error(str(exc))
    except Cancelled:
        ls.user.show_info("Devstral: cancelled; nothing was changed.")
    except asyncio.CancelledError:
        log.info("request cancelled; nothing was changed")
        raise
    except Exception:
        log.exception("code action failed")
        ls.user.show_error("Devstral: the action failed unexpectedly (see the log); nothing "
                           "was changed.")
    return {"applied": False, "files": [], "summary": "Nothing was changed."}
