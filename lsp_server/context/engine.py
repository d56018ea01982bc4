"""The context engine facade: one object the server feeds with document events and asks for a
token-budgeted, redacted `PromptContext` per completion request.

`build` runs on every completion request, so it only does cheap work: two window cuts, set
intersections over cached identifier windows, dictionary look-ups in the symbol index, and
memoised token counts. Parsing and the workspace walk happen on one background thread.
"""

from __future__ import annotations

import builtins
import functools
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .budget import (
    Shares,
    _fit_backward,
    _fit_forward,
    allocate,
    cut_prefix,
    cut_suffix,
    line_token_estimate,
    line_token_estimate_reverse,
    split_lines,
)
from .neighbours import STOP_WORDS, WindowCache, identifiers
from .privacy import GITIGNORE_FILE, IGNORE_FILE, PrivacyGuard, Redactor
from .recent import EditHistory
from .symbols import Definition, IndexStats, SymbolIndex, compact_text, language_for
from .tokens import TokenCounter
from .types import PromptContext, Snippet
from .windows import lines_after, lines_before, prefix_window, suffix_window

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"(\.)?\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?")
_BUILTINS = frozenset(dir(builtins)) | frozenset(
    {"self", "cls", "console", "window", "document", "fmt", "println", "String", "Vec", "Some"}
)
_Redact = Callable[[str, int, str], str]
SNIPPET_OVERHEAD = 4
"""Tokens reserved per snippet for the renderer's framing (path header, fences)."""


class ContextBlocked(PermissionError):
    """Raised by `build` for a document that must not be sent at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=2048)
def uri_to_path(uri: str) -> Path | None:
    """Local path of a `file:` URI (None for `untitled:` and other schemes)."""
    if not uri.startswith("file:"):
        return None
    parsed = urlparse(uri)
    path = unquote(parsed.path)
    if os.name == "nt" and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    return Path(os.path.abspath(path))


def shared_prefix_ratio(a: str, b: str) -> float:
    """Share of the longer prompt that both prompts start with (1.0 = identical).

    Providers cache prompt prefixes, so the higher this is between consecutive requests, the
    cheaper and faster they are.
    """
    if not a and not b:
        return 1.0
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo / max(len(a), len(b))


_Key = tuple[str, str, int]
"""(kind, shown path, first line) of a snippet: the same key is the same piece of a file."""
_KIND_ORDER = {"definition": 0, "similar": 1, "recent": 2}


@dataclass
class _Candidate:
    snippet: Snippet | None
    diff: str | None
    cost: int
    label: str
    own_line: int | None = None
    """Signature line of a definition from the current file (skipped if the prefix shows it)."""
    key: _Key | None = None
    source: str = ""
    """The text the snippet was cut from (a definition's or a window's), to tell whether the
    piece of the file changed since the previous request."""
    full: bool = False
    """A definition shown with its body (not only its signature)."""
    file: Path | None = None
    doc: str = ""
    """URI of the document a similar window comes from."""
    stale: bool = False
    """Kept from the previous request of the document although no longer a candidate."""
    hunk: tuple[str, float] | None = None
    """(uri, time) of a recent edit."""


@dataclass
class _Kept:
    """A snippet of the previous request of a document, as it was shown."""

    cand: _Candidate
    line: int
    """Cursor line when it was last a candidate."""
    scope: str | None
    """Definition enclosing the cursor then."""


@dataclass
class _Sticky:
    """What the previous request of a document showed, in its order (prompt caching)."""

    kept: dict[_Key, _Kept]
    edits_from: tuple[str, float] | None = None
    """(uri, time) of the oldest recent edit shown: older ones stay out, so the block of
    recent edits only grows at its end until that edit leaves the history."""


class ContextEngine:
    """Collects what the model may see and assembles it to an exact token budget."""

    def __init__(
        self,
        *,
        roots: Sequence[Path] = (),
        budget_tokens: int = 4096,
        enable_index: bool = True,
        shares: Shares | None = None,
        max_index_files: int = 5000,
        max_file_bytes: int = 512_000,
        max_definitions: int = 24,
        max_similar: int = 3,
        recent_edits: bool = True,
        max_recent_files: int = 20,
        max_similar_docs: int = 20,
        index_debounce_seconds: float = 0.15,
        snap_lines: int = 16,
        sticky_lines: int = 12,
    ) -> None:
        self.budget_tokens = budget_tokens
        self.enable_index = enable_index
        self.shares = shares or Shares()
        self.max_definitions = max_definitions
        self.max_similar = max_similar
        self.recent_edits_enabled = recent_edits
        self.max_recent_files = max_recent_files
        self.max_similar_docs = max_similar_docs
        self.index_debounce_seconds = index_debounce_seconds
        self.snap_lines = snap_lines
        self.sticky_lines = sticky_lines
        self.guard = PrivacyGuard(roots)
        self.index = SymbolIndex(
            self.guard, max_files=max_index_files, max_file_bytes=max_file_bytes
        )
        self.redactor = Redactor()
        self.history = EditHistory()
        self.windows = WindowCache()
        self.count = TokenCounter()
        self.last_build_ms = 0.0
        self._open: dict[str, tuple[str, str]] = {}
        self._recent_docs: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._sticky: OrderedDict[str, _Sticky] = OrderedDict()
        self._pending: dict[Path, tuple[str | None, str | None]] = {}
        self._cond = threading.Condition()
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._rebuild = False
        self._thread: threading.Thread | None = None
        self._indexed = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def set_roots(self, roots: Sequence[Path]) -> None:
        """Replace the workspace roots; a running index is rebuilt for the new roots."""
        self.guard.set_roots(roots)
        self._request_rebuild()

    @property
    def roots(self) -> list[Path]:
        return self.guard.roots

    def start(self) -> None:
        """Start the background indexer (idempotent). Never blocks."""
        if not self.enable_index or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._rebuild = True
        self._thread = threading.Thread(target=self._run, name="devstral-index", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Cancel indexing and wait (briefly) for the thread to finish."""
        self._stop.set()
        self._cancel.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_until_indexed(self, timeout: float | None = None) -> bool:
        """Block until the first full index build is done (for tests, benchmarks, `doctor`)."""
        return self._indexed.wait(timeout)

    @property
    def index_stats(self) -> IndexStats:
        return self.index.stats

    def _request_rebuild(self) -> None:
        if self._thread is None:
            return
        self._cancel.set()
        with self._cond:
            self._rebuild = True
            self._cond.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._rebuild and not self._pending and not self._stop.is_set():
                    self._cond.wait()
                rebuild = self._rebuild
                self._rebuild = False
            if self._stop.is_set():
                return
            if rebuild:
                self._cancel = threading.Event()
                try:
                    stats = self.index.build(self.guard.roots, self._cancel)
                    log.info(
                        "indexed %d files (%d definitions) in %.1f s",
                        stats.files,
                        stats.definitions,
                        stats.seconds,
                    )
                    if stats.complete:
                        self._indexed.set()
                except Exception:
                    log.exception("index build failed")
                    self._indexed.set()
            time.sleep(self.index_debounce_seconds)
            self.flush()

    def flush(self) -> None:
        """Apply queued index updates now (the background thread calls this too)."""
        with self._cond:
            pending = self._pending
            self._pending = {}
        for path, (text, language_id) in pending.items():
            try:
                if text is None and not path.exists():
                    self.index.remove(path)
                else:
                    self.index.update(path, text, language_id)
            except Exception:
                log.exception("index update failed for %s", path)

    def _queue_index(self, path: Path | None, text: str | None, language_id: str | None) -> None:
        if path is None or not self.enable_index or language_for(path, language_id) is None:
            return
        with self._cond:
            self._pending[path] = (text, language_id)
            self._cond.notify_all()
        if self._thread is None:
            self.flush()

    # ------------------------------------------------------------------ privacy
    def blocked_reason(self, path: Path | str) -> str | None:
        """Why no model request may be made for this document (a path or a URI)."""
        if isinstance(path, str) and ":" in path[:10] and not os.path.isabs(path):
            resolved = uri_to_path(path)
            if resolved is None:
                return None
            path = resolved
        return self.guard.blocked_reason(Path(path))

    def label(self, path: Path | None, uri: str = "") -> str:
        """Workspace-relative path shown to the model (just the name outside the workspace)."""
        if path is None:
            return uri.rsplit("/", 1)[-1] or uri
        root = self.guard.root_of(path)
        if root is None:
            return path.name
        return path.relative_to(root).as_posix()

    # ------------------------------------------------------------------ events
    def on_open(self, uri: str, text: str, language_id: str) -> None:
        path = uri_to_path(uri)
        if path is not None and self.guard.blocked_reason(path):
            return
        self._open[uri] = (language_id, text)
        self._touch(uri, language_id, text)
        self.history.open(uri, text)
        self._queue_index(path, text, language_id)

    def on_change(self, uri: str, text: str, language_id: str | None = None) -> None:
        """`text` is the full document after the change (the server's store applies edits)."""
        path = uri_to_path(uri)
        if path is not None and self.guard.blocked_reason(path):
            return
        lang = language_id or self._open.get(uri, ("", ""))[0]
        self._open[uri] = (lang, text)
        self._touch(uri, lang, text)
        if self.recent_edits_enabled:
            self.history.change(uri, self.label(path, uri), text)
        self._queue_index(path, text, lang or None)

    def on_save(self, uri: str, text: str | None = None) -> None:
        path = uri_to_path(uri)
        if path is not None and path.name in (IGNORE_FILE, GITIGNORE_FILE):
            self._ignore_rules_changed(path)
            return
        if path is not None and self.guard.blocked_reason(path):
            return
        lang = self._open.get(uri, ("", ""))[0] or None
        if text is None and uri in self._open:
            text = self._open[uri][1]
        self._queue_index(path, text, lang)

    def on_close(self, uri: str) -> None:
        self._open.pop(uri, None)
        self._sticky.pop(uri, None)
        self.history.close(uri)
        path = uri_to_path(uri)
        self._queue_index(path, None, None)  # the disk version is the truth again

    def on_watched_file(self, uri: str, kind: int | str) -> None:
        """LSP `workspace/didChangeWatchedFiles`: kind 1/created, 2/changed, 3/deleted."""
        path = uri_to_path(uri)
        if path is None:
            return
        if path.name in (IGNORE_FILE, GITIGNORE_FILE):
            self._ignore_rules_changed(path)
            return
        deleted = kind in (3, "deleted", "Deleted")
        if deleted:
            self.index.remove(path)
            with self._cond:
                self._pending.pop(path, None)
            return
        if uri in self._open:
            return  # the open buffer wins over the disk
        self._queue_index(path, None, None)

    def _ignore_rules_changed(self, path: Path) -> None:
        self.guard.invalidate(path)
        self._sticky.clear()  # kept snippets may come from files now ignored
        for uri in list(self._recent_docs):
            p = uri_to_path(uri)
            if p is not None and self.guard.excluded_reason(p):
                self._recent_docs.pop(uri, None)
        if self._thread is not None:
            self._request_rebuild()
        else:
            for file in list(self.index._files):
                if self.guard.excluded_reason(file):
                    self.index.remove(file)

    def _touch(self, uri: str, language_id: str, text: str) -> None:
        self._recent_docs[uri] = (language_id, text)
        self._recent_docs.move_to_end(uri)
        while len(self._recent_docs) > self.max_recent_files:
            self._recent_docs.popitem(last=False)

    # ------------------------------------------------------------------ build
    def build(
        self,
        *,
        uri: str,
        text: str,
        offset: int,
        language_id: str,
        open_documents: Mapping[str, tuple[str, str]] | None = None,
        budget_tokens: int | None = None,
    ) -> PromptContext:
        """The prompt context for a completion at `offset` (a character index into `text`).

        Raises `ContextBlocked` for secret or `.devstralignore`d documents: nothing of them may
        be sent, so the caller must not make a request at all.
        """
        started = time.perf_counter()
        path = uri_to_path(uri)
        if path is not None:
            reason = self.guard.blocked_reason(path)
            if reason:
                raise ContextBlocked(reason)
        budget = self.budget_tokens if budget_tokens is None else budget_tokens
        count = self.count
        label = self.label(path, uri)
        ctx = PromptContext(path=label, language_id=language_id, prefix="", suffix="")

        def redact(piece: str, first_line: int, where: str) -> str:
            out, found = self.redactor.redact(piece, first_line=first_line)
            for r in found:
                ctx.redactions.append(f"{where}:{r.line + 1} {r.kind}")
            return out

        pw = prefix_window(text, offset, max(2000, budget * 8))
        sw = suffix_window(text, offset, max(1000, budget * 6))
        prefix_raw = redact(pw.text, pw.start_line, label)
        suffix_raw = redact(sw.text, sw.start_line, label)

        docs = dict(open_documents) if open_documents is not None else dict(self._open)
        demands = {
            "prefix": line_token_estimate_reverse(
                prefix_raw, count, budget, first_line=pw.start_line
            ),
            "suffix": line_token_estimate(suffix_raw, count, budget, first_line=sw.start_line),
            "context": budget,
        }
        # The most the context part can get, and the lines the prefix and suffix show at the
        # least (snapping and the exact re-count may drop a few more prefix lines).
        most = allocate(budget, demands, self.shares.as_dict())
        cursor_line = text.count("\n", 0, offset)
        p_lines = split_lines(prefix_raw)
        p_first = _fit_backward(p_lines, most["prefix"], count, pw.start_line)[0]
        s_end = _fit_forward(split_lines(suffix_raw), most["suffix"], count, sw.start_line)[0]
        visible = (
            pw.start_line + p_first + self.snap_lines if p_first else pw.start_line,
            cursor_line + max(0, s_end - 2),
        )
        scope = self._scope(path, cursor_line)
        sticky = self._sticky.get(uri)
        prev = sticky.kept if sticky is not None else {}
        near = {
            key
            for key, k in prev.items()
            if k.scope == scope and abs(k.line - cursor_line) <= self.sticky_lines
        }
        candidates = self._candidates(
            uri, path, text, offset, language_id, docs, ctx, redact, most["context"], visible,
            prev, near, sticky,
        )
        demands["context"] = sum(c.cost for c in candidates)
        alloc = allocate(budget, demands, self.shares.as_dict())
        prefix, p_tokens, p_cut = cut_prefix(
            prefix_raw, alloc["prefix"], count, first_line=pw.start_line, snap_lines=self.snap_lines
        )
        prefix_first = cursor_line - prefix.count("\n")
        available = budget - p_tokens - min(alloc["suffix"], demands["suffix"])
        used = 0
        chosen: list[_Candidate] = []
        for cand in candidates:
            if cand.own_line is not None and prefix_first <= cand.own_line <= cursor_line:
                continue  # shown by the prefix after all
            if used + cand.cost <= available:
                chosen.append(cand)
                used += cand.cost
            else:
                ctx.dropped.append(f"{cand.label} over budget ({cand.cost} tokens)")
        suffix, s_tokens, s_cut = cut_suffix(
            suffix_raw, budget - p_tokens - used, count, first_line=sw.start_line
        )

        ctx.prefix, ctx.suffix = prefix, suffix
        ctx.prefix_truncated = pw.truncated or p_cut
        ctx.suffix_truncated = sw.truncated or s_cut
        # Prompt caching: the snippets of the previous request first, in their order, then
        # the newcomers; so while the user types, the prompt only grows at the end of the block.
        position = {key: i for i, key in enumerate(prev)}
        old = [c for c in chosen if c.snippet is not None and c.key in position]
        new = [c for c in chosen if c.snippet is not None and c.key not in position]
        old.sort(key=lambda c: position[c.key])  # type: ignore[index]
        new.sort(key=_fresh_order)
        shown = old + new
        ctx.snippets = [c.snippet for c in shown if c.snippet is not None]
        diffs = [c for c in chosen if c.diff is not None]
        self._remember(uri, shown, prev, cursor_line, scope, diffs)
        ctx.recent_edits = [c.diff for c in reversed(diffs) if c.diff is not None]
        snippet_tokens = sum(c.cost for c in chosen if c.snippet is not None)
        recent_tokens = sum(c.cost for c in diffs)
        ctx.token_counts = {
            "prefix": p_tokens,
            "suffix": s_tokens,
            "snippets": snippet_tokens,
            "recent_edits": recent_tokens,
            "total": p_tokens + s_tokens + snippet_tokens + recent_tokens,
            "budget": budget,
        }
        self.last_build_ms = (time.perf_counter() - started) * 1e3
        return ctx

    def _snippet_cost(self, path: str, text: str) -> int:
        return self.count(path) + self.count(text) + SNIPPET_OVERHEAD

    def _candidates(
        self,
        uri: str,
        path: Path | None,
        text: str,
        offset: int,
        language_id: str,
        docs: Mapping[str, tuple[str, str]],
        ctx: PromptContext,
        redact: _Redact,
        allowance: int,
        visible: tuple[int, int],
        prev: Mapping[_Key, _Kept] = {},
        near: frozenset[_Key] | set[_Key] = frozenset(),
        sticky: _Sticky | None = None,
    ) -> list[_Candidate]:
        """Context candidates in priority order: definitions, recent edits, similar windows,
        then snippets of the previous request kept for prompt caching.

        Definitions are taken best first while their cost fits `allowance` (the most tokens
        the context part can get), so the number shown adapts to the room left rather than
        being a fixed count; `max_definitions` only bounds the work.

        `prev` is what the previous request of this document showed, `near` those of its
        snippets that were candidates close to the cursor (same enclosing definition, at most
        `sticky_lines` away). A definition shown with its body there keeps its body; one no
        longer a candidate (the name being typed moved on) is kept, last, if room is left.
        """
        out: list[_Candidate] = []
        taken: list[tuple[str, int, int]] = []
        recent: list[_Candidate] = []
        if self.recent_edits_enabled:
            hunks = self.history.hunks()
            ids = [(h.uri, h.time) for h in hunks]
            start = 0
            if sticky is not None and sticky.edits_from is not None:
                # The oldest edit the previous request showed went out of the history: drop
                # the older half at once, rather than one edit per request, so the block then
                # only grows at its end for a while (prompt caching).
                mark = sticky.edits_from
                start = ids.index(mark) if mark in ids else len(hunks) // 2
            for hunk, hid in zip(hunks[start:], ids[start:], strict=True):
                hp = uri_to_path(hunk.uri)
                if hunk.uri != uri and hp is not None and self.guard.excluded_reason(hp):
                    continue
                diff = redact(hunk.diff, 0, f"{hunk.label} (recent edit)")
                recent.append(
                    _Candidate(None, diff, self.count(diff), f"edit of {hunk.label}", hunk=hid)
                )
        # Recent edits change on every keystroke: a fixed reserve for them (rather than their
        # exact cost) keeps the definitions, the top of the prompt, the same while typing.
        room = allowance - (allowance // 4 if recent else 0)
        examined = 0
        for d, score, primary in self._definitions(path, text, offset, language_id, visible):
            examined += 1
            if examined > 4 * self.max_definitions or len(taken) >= self.max_definitions:
                break
            shown = self.label(d.path)
            key: _Key = ("definition", shown, d.start_line)
            cand: _Candidate | None = None
            # the calls around the cursor with their (short) body, others as signatures; a
            # body shown just before stays (the call was closed, not forgotten)
            was = prev.get(key) if key in near else None
            if was is not None and was.cand.full and was.cand.source == d.text:
                primary = True
            forms = (d.text, compact_text(d)) if primary else (compact_text(d),)
            for body_text in dict.fromkeys(forms):
                body = redact(body_text, d.start_line, shown)
                cost = self._snippet_cost(shown, body)
                if cost <= room:
                    snip = Snippet(shown, body, "definition", score, d.start_line)
                    cand = _Candidate(
                        snip, None, cost, f"definition {shown}", key=key, source=d.text,
                        full=body_text == d.text, file=d.path,
                    )
                    if d.path == path:
                        cand.own_line = _signature_line(d)
                    break
            if cand is None:
                continue
            room -= cand.cost
            taken.append((shown, d.start_line, d.end_line))
            out.append(cand)
        out.extend(reversed(recent))  # newest first for selection
        similar = self._similar(uri, text, offset, docs, taken, ctx, redact)
        out.extend(similar)
        current = {c.key for c in out}
        for s in similar:
            if s.snippet is not None:
                taken.append((s.snippet.path, s.snippet.start_line, _end_line(s.snippet)))
        for key, was in prev.items():
            kept = was.cand
            piece = kept.snippet
            if key in current or key not in near or piece is None or kept.cost > room:
                continue
            if kept.file is not None and (
                kept.file == path or self.guard.excluded_reason(kept.file)
            ):
                continue  # the current file's own (its lines move to and fro) or now ignored
            if not self._unchanged(kept, docs):
                continue
            end = _end_line(piece)
            if any(t[0] == piece.path and piece.start_line <= t[2] and t[1] < end for t in taken):
                continue  # overlaps a snippet shown anyway
            room -= kept.cost
            taken.append((piece.path, piece.start_line, end))
            out.append(_Candidate(
                piece, None, kept.cost, kept.label, key=key, source=kept.source,
                full=kept.full, file=kept.file, stale=True,
            ))
        return out

    def _unchanged(self, kept: _Candidate, docs: Mapping[str, tuple[str, str]]) -> bool:
        """Whether the piece of a file a kept snippet shows is still there as it was."""
        if kept.snippet is not None and kept.snippet.kind == "definition":
            own = self.index.file(kept.file) if kept.file is not None else None
            start = kept.snippet.start_line
            return own is not None and any(
                d.start_line == start and d.text == kept.source for d in own.definitions
            )
        entry = docs.get(kept.doc) or self._recent_docs.get(kept.doc)
        return entry is not None and kept.source in entry[1]

    def _scope(self, path: Path | None, line: int) -> str | None:
        """The definition of the current file the cursor is in: the innermost one around
        `line`, else the nearest one starting above it (the index may lag the buffer, and a
        line being typed at the end of a function is not part of it yet)."""
        own = self.index.file(path) if path is not None else None
        if own is None:
            return None
        inside: Definition | None = None
        above: Definition | None = None
        for d in own.definitions:
            if d.start_line > line:
                continue
            if line <= d.end_line and (inside is None or d.start_line >= inside.start_line):
                inside = d
            if above is None or d.start_line >= above.start_line:
                above = d
        best = inside or above
        return None if best is None else f"{best.container or ''}.{best.name}"

    def _remember(
        self,
        uri: str,
        shown: Sequence[_Candidate],
        prev: Mapping[_Key, _Kept],
        line: int,
        scope: str | None,
        diffs: Sequence[_Candidate],
    ) -> None:
        """Keep what this request shows, in its order, for the next request of `uri`."""
        kept: dict[_Key, _Kept] = {}
        for c in shown:
            if c.key is None:
                continue
            if c.stale and c.key in prev:
                kept[c.key] = prev[c.key]  # relevant where it was last a candidate, not here
            else:
                kept[c.key] = _Kept(c, line, scope)
        edits_from = diffs[-1].hunk if diffs else None  # `diffs` is newest first
        self._sticky[uri] = _Sticky(kept, edits_from)
        self._sticky.move_to_end(uri)
        while len(self._sticky) > 64:
            self._sticky.popitem(last=False)

    def _similar(
        self,
        uri: str,
        text: str,
        offset: int,
        docs: Mapping[str, tuple[str, str]],
        taken: list[tuple[str, int, int]],
        ctx: PromptContext,
        redact: _Redact,
    ) -> list[_Candidate]:
        query = identifiers(lines_before(text, offset, 30))
        # Only the most recently used documents are searched: recently opened or edited first
        # (`_recent_docs` is kept in use order), then other open documents, newest open first.
        # The open buffer's text wins over the one remembered for a recent document.
        order = [u for u in reversed(self._recent_docs) if u != uri]
        order += [u for u in reversed(list(docs)) if u != uri and u not in self._recent_docs]
        pool: dict[str, str] = {}
        for other in order:
            if len(pool) >= self.max_similar_docs:
                break
            p = uri_to_path(other)
            if p is not None:
                reason = self.guard.excluded_reason(p)
                if reason:
                    if other in docs:
                        ctx.dropped.append(f"{self.label(p, other)}: {reason}")
                    continue
            entry = docs.get(other) or self._recent_docs[other]
            pool[other] = entry[1]
        out: list[_Candidate] = []
        for m in self.windows.best(query, pool.items(), limit=self.max_similar + 2):
            shown = self.label(uri_to_path(m.key), m.key)
            if any(t[0] == shown and m.start_line <= t[2] and t[1] < m.end_line for t in taken):
                continue
            body = redact(m.text, m.start_line, shown)
            snip = Snippet(shown, body, "similar", round(m.score, 3), m.start_line)
            out.append(_Candidate(
                snip, None, self._snippet_cost(shown, body), f"similar {shown}",
                key=("similar", shown, m.start_line), source=m.text, file=uri_to_path(m.key),
                doc=m.key,
            ))
            if len(out) >= self.max_similar:
                break
        return out

    def _definitions(
        self,
        path: Path | None,
        text: str,
        offset: int,
        language_id: str,
        visible: tuple[int, int] = (0, -1),
    ) -> Iterator[tuple[Definition, float, bool]]:
        """Definitions of names used near the cursor, best first: (definition, score, primary).

        Names are ranked by proximity (`rank_names`): the call being typed first, then the
        cursor line, then the lines above (and a few below) by distance. Each name resolves
        through the file's imports to the module it comes from, then to the same file, then
        to the nearest directory. Definitions of the current file are used only when their
        signature line is not in `visible` (the lines the prefix and suffix surely show).
        `primary` marks the calls around the cursor, shown with their body.
        """
        if not self.enable_index or len(self.index) == 0:
            return
        own = self.index.file(path) if path is not None else None
        imports = own.imports if own is not None else {}
        language = language_for(path or "", language_id) or language_id
        ranked = rank_names(text, offset, language, imports)
        seen: set[tuple[Path, int]] = set()
        here_dir = path.parent.parts if path is not None else ()
        for name in sorted(ranked, key=lambda n: (-ranked[n].score, n)):
            info = ranked[name]
            defs = self.index.lookup(name)
            if not defs:
                continue
            hints = _module_hints(name, info.qualifier, imports)
            if len(defs) > 64 and not hints:
                continue  # `__init__`, `get`, ...: hopeless without a module to resolve to
            if info.attr_only and not hints and not name[0].isupper():
                defs = [d for d in defs if d.kind in ("method", "function")]
            elif info.bare_only:
                defs = [d for d in defs if d.kind != "method"]
            if not defs:
                continue
            targets = [_module_target(h, path) for h in hints]
            ranks = [(_def_rank(d, path, here_dir, targets), d) for d in defs]
            rank, best = min(ranks, key=lambda r: r[0])
            if targets and rank[0] == 2:
                continue  # imported from a module outside the index: any match would be wrong
            if len(defs) > 4 and rank[0] != 0 and rank[1] != 0 and rank[2] > -len(here_dir):
                continue  # too ambiguous (`get`, `run`, ...) to be worth the tokens
            if best.path == path and visible[0] <= _signature_line(best) <= visible[1]:
                continue  # the model sees it in the prefix or suffix already
            key = (best.path, best.start_line)
            if key in seen:
                continue
            seen.add(key)
            yield best, round(info.score, 3), info.primary


def _end_line(snip: Snippet) -> int:
    """Line after the last line of `snip` in its file."""
    return snip.start_line + snip.text.count("\n") + 1


def _fresh_order(c: _Candidate) -> tuple[int, str, int]:
    """Order of snippets new to a document's prompt: definitions, then similar code, each by
    path and line."""
    s = c.snippet
    assert s is not None
    return (_KIND_ORDER[s.kind], s.path, s.start_line)


@dataclass
class NameInfo:
    score: float
    qualifier: str | None
    attr_only: bool
    """Only seen as `x.name`: a method (or a module's function or class), never a bare name."""
    primary: bool
    bare_only: bool = False
    """Only seen unqualified: never a method, which needs `self.`/`this.`/a receiver."""


_BRACKET_RE = re.compile(r"[()\[\]{}]")
_TAIL_IDENT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")
_QUALIFIER_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*$")
_HEAD_IDENT_RE = re.compile(r"[A-Za-z0-9_]*")
_PY_NOISE_RE = re.compile(
    r'"""[\s\S]*?(?:"""|\Z)|\'\'\'[\s\S]*?(?:\'\'\'|\Z)'
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*'
)
_C_NOISE_RE = re.compile(
    r'//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`'
)
_RUST_NOISE_RE = re.compile(r'//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|"(?:[^"\\]|\\.)*"')
_KEYWORD_CALLS = frozenset({"if", "for", "while", "switch", "return", "elif", "and", "or", "not"})
_PRIMARY_SCORE = 1000.0
_LINE_SCORE = 500.0


def _blank(m: re.Match[str]) -> str:
    return " " + "\n" * m.group().count("\n")


def code_only(window: str, language: str, in_docstring: bool = False) -> str:
    """`window` with comments and string literals blanked (line breaks kept), so words of
    prose are not taken for names. `in_docstring`: the window starts inside a Python
    triple-quoted string."""
    if language == "python":
        if in_docstring:
            ends = [j for j in (window.find('"""'), window.find("'''")) if j >= 0]
            if not ends:
                return "\n" * window.count("\n")
            j = min(ends) + 3
            window = "\n" * window.count("\n", 0, j) + window[j:]
        return _PY_NOISE_RE.sub(_blank, window)
    if language == "rust":
        return _RUST_NOISE_RE.sub(_blank, window)
    return _C_NOISE_RE.sub(_blank, window)


def enclosing_calls(
    text: str, offset: int, limit: int = 3, span: int = 800
) -> list[tuple[str, str | None]]:
    """(name, qualifier) of the calls whose open argument list holds the cursor, innermost
    first: in `x = a.f(1, g(` that is `g`, then `f` (qualified by `a`)."""
    start = max(0, offset - span)
    out: list[tuple[str, str | None]] = []
    depth = 0
    for m in reversed(list(_BRACKET_RE.finditer(text, start, offset))):
        ch = m.group()
        if ch in ")]}":
            depth += 1
        elif depth > 0:
            depth -= 1
        elif ch == "(":
            head = text[max(start, m.start() - 120) : m.start()]
            name_m = _TAIL_IDENT_RE.search(head)
            if name_m is None or name_m.group(1) in _KEYWORD_CALLS:
                continue
            qual_m = _QUALIFIER_RE.search(head, 0, name_m.start())
            out.append((name_m.group(1), qual_m.group(1) if qual_m else None))
            if len(out) >= limit:
                break
    return out


def rank_names(
    text: str, offset: int, language: str, imports: Mapping[str, str] = {}
) -> dict[str, NameInfo]:
    """Names near the cursor with a score: the calls around the cursor and the word at the
    cursor first (primary), then the cursor line, then lines above by distance (calls,
    imported and capitalised names weigh more), then the few lines below."""
    ranked: dict[str, NameInfo] = {}

    def note(name: str, score: float, qualifier: str | None, attr: bool, primary: bool) -> None:
        if len(name) < 2 or name in _BUILTINS or name.lower() in STOP_WORDS:
            if name not in imports:
                return
        old = ranked.get(name)
        if old is None:
            ranked[name] = NameInfo(score, qualifier, attr, primary, not attr)
            return
        if score > old.score:
            old.score, old.qualifier, old.primary = score, qualifier or old.qualifier, primary
        old.attr_only = old.attr_only and attr
        old.bare_only = old.bare_only and not attr

    for i, (name, qual) in enumerate(enclosing_calls(text, offset)):
        note(name, _PRIMARY_SCORE - i, qual, qual is not None, True)
    # the cursor in (or right after) the name of a call: `comp|ute(`, `compute|(`
    left = _TAIL_IDENT_RE.search(text, max(0, offset - 80), offset)
    right = _HEAD_IDENT_RE.match(text, offset)
    word = (left.group(1) if left else "") + (right.group() if right else "")
    after_word = offset + (right.end() - offset if right else 0)
    if word and not word[0].isdigit() and text[after_word : after_word + 1] == "(":
        start = left.start(1) if left else offset
        qual_m = _QUALIFIER_RE.search(text, max(0, start - 80), start)
        qual = qual_m.group(1) if qual_m else None
        note(word, _PRIMARY_SCORE + 0.5, qual, qual is not None, True)

    before = lines_before(text, offset, 40)
    after = lines_after(text, offset, 6)
    win_start = offset - len(before)
    in_doc = False
    if language == "python" and win_start > 0:
        in_doc = (text.count('"""', 0, win_start) + text.count("'''", 0, win_start)) % 2 == 1
    before_lines = code_only(before, language, in_doc).split("\n")
    after_lines = code_only(after, language).split("\n")
    last = len(before_lines) - 1
    for source, lines in ((0, before_lines), (1, after_lines)):
        for index, line in enumerate(lines):
            if source == 0:
                distance = last - index
            else:
                distance = index
            prev_end, prev_name = -1, ""
            for m in _NAME_RE.finditer(line):
                name = m.group(2)
                qualifier = None
                if m.group(1) and prev_end >= 0 and not line[prev_end : m.start()].strip():
                    qualifier = prev_name
                prev_end, prev_name = m.end(2), name
                bonus = (1.0 if m.group(3) else 0.0) + (0.5 if name[0].isupper() else 0.0)
                bonus += 1.0 if name in imports or (qualifier and qualifier in imports) else 0.0
                if distance == 0:
                    # the cursor line: before the cursor by closeness, after it a little less
                    closeness = m.start() / max(1, len(line)) if source == 0 else 0.0
                    score = _LINE_SCORE - 50.0 * source + 10.0 * bonus + closeness
                else:
                    score = 100.0 * (1.0 + bonus) / (1.0 + distance) / (1.0 + source)
                note(name, score, qualifier, bool(m.group(1)), False)
    return ranked


@functools.lru_cache(maxsize=8192)
def _path_key(path: Path) -> tuple[str, ...]:
    """Module parts of a file: directories and stem, without `__init__`/`index`/`mod`."""
    parts = path.parent.parts
    stem = path.name.split(".", 1)[0]
    if stem in ("__init__", "index", "mod", "lib", "main"):
        return tuple(parts)
    return (*parts, stem)


def _module_hints(name: str, qualifier: str | None, imports: Mapping[str, str]) -> list[str]:
    """Modules `name` may come from, per the imports: `from m import name` gives `m`;
    `q.name` with `import q` (or `from p import q`) gives `q`'s module (and `p.q`)."""
    if name in imports:
        return [imports[name]]
    if qualifier and qualifier in imports:
        module = imports[qualifier]
        sep = "::" if "::" in module else ("/" if "/" in module else ".")
        return [module + sep + qualifier, module] if not module.endswith(qualifier) else [module]
    return []


@functools.lru_cache(maxsize=4096)
def _module_target(module: str, here: Path | None) -> tuple[tuple[str, ...], bool]:
    """(parts, absolute) of a module spec: `pkg.mod`, `..mod`, `./lib/x`, `crate::a::B`,
    `github.com/u/r/pkg`. Relative specs are resolved against the importing file."""
    if module.startswith(".") and here is not None:
        if module.startswith(("./", "../")) or module in (".", ".."):
            base = os.path.normpath(os.path.join(str(here.parent), module))
            parts = Path(base).parts
            if parts and parts[-1].split(".", 1)[0] in ("index", "__init__", "mod"):
                parts = parts[:-1]
            elif parts and "." in parts[-1]:
                parts = (*parts[:-1], parts[-1].split(".", 1)[0])
            return tuple(parts), True
        dots = len(module) - len(module.lstrip("."))
        base_dir = here.parent
        for _ in range(dots - 1):
            base_dir = base_dir.parent
        rest = [p for p in module[dots:].split(".") if p]
        return (*base_dir.parts, *rest), True
    names = re.split(r"::|[./]", module)
    return tuple(p for p in names if p and p not in ("crate", "self", "super")), False


def _def_rank(
    d: Definition,
    here: Path | None,
    here_dir: tuple[str, ...],
    targets: Sequence[tuple[tuple[str, ...], bool]],
) -> tuple[int, int, int, int, str]:
    """Sort key of a definition (smaller is better): does its file match the module the name
    is imported from (0 exactly, also a package re-exporting it; 1 by the last part), is it
    the current file, how many directories it shares with the current file, path depth."""
    key = _path_key(d.path)
    module = 2
    for parts, absolute in targets:
        if not parts:
            continue
        n = len(parts)
        if absolute:
            if key == parts or key[:-1] == parts:
                module = 0
                break
        elif key[-n:] == parts or key[:-1][-n:] == parts:
            module = 0
            break
        if module == 2 and parts[-1] in key[-2:]:
            module = 1
    common = 0
    for a, b in zip(d.path.parent.parts, here_dir, strict=False):
        if a != b:
            break
        common += 1
    same_file = 0 if d.path == here else 1
    return (module, same_file, -common, len(d.path.parts), str(d.path))


def _signature_line(d: Definition) -> int:
    """Line of `d`'s name (its signature), below leading comments and decorators."""
    at = d.text.find(d.name)
    return d.start_line + (d.text.count("\n", 0, at) if at > 0 else 0)
