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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .budget import (
    Shares,
    allocate,
    cut_prefix,
    cut_suffix,
    line_token_estimate,
    line_token_estimate_reverse,
)
from .neighbours import STOP_WORDS, WindowCache, identifiers
from .privacy import GITIGNORE_FILE, IGNORE_FILE, PrivacyGuard, Redactor
from .recent import EditHistory
from .symbols import Definition, IndexStats, SymbolIndex, language_for
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


@dataclass
class _Candidate:
    snippet: Snippet | None
    diff: str | None
    cost: int
    label: str


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
        max_definitions: int = 6,
        max_similar: int = 3,
        recent_edits: bool = True,
        max_recent_files: int = 20,
        max_similar_docs: int = 20,
        index_debounce_seconds: float = 0.15,
        snap_lines: int = 16,
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
        candidates = self._candidates(uri, path, text, offset, language_id, docs, ctx, redact)

        demands = {
            "prefix": line_token_estimate_reverse(
                prefix_raw, count, budget, first_line=pw.start_line
            ),
            "suffix": line_token_estimate(suffix_raw, count, budget, first_line=sw.start_line),
            "context": sum(c.cost for c in candidates),
        }
        alloc = allocate(budget, demands, self.shares.as_dict())
        prefix, p_tokens, p_cut = cut_prefix(
            prefix_raw, alloc["prefix"], count, first_line=pw.start_line, snap_lines=self.snap_lines
        )
        available = budget - p_tokens - min(alloc["suffix"], demands["suffix"])
        used = 0
        chosen: list[_Candidate] = []
        for cand in candidates:
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
        snippets = [c.snippet for c in chosen if c.snippet is not None]
        order = {"definition": 0, "similar": 1, "recent": 2}
        snippets.sort(key=lambda s: (order[s.kind], s.path, s.start_line))
        ctx.snippets = snippets
        diffs = [c for c in chosen if c.diff is not None]
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
    ) -> list[_Candidate]:
        """Context candidates in priority order: definitions, recent edits, similar windows."""
        out: list[_Candidate] = []
        taken: list[tuple[str, int, int]] = []
        for d, score in self._definitions(path, text, offset):
            shown = self.label(d.path)
            body = redact(d.text, d.start_line, shown)
            snip = Snippet(shown, body, "definition", score, d.start_line)
            taken.append((shown, d.start_line, d.end_line))
            out.append(
                _Candidate(snip, None, self._snippet_cost(shown, body), f"definition {shown}")
            )
        if self.recent_edits_enabled:
            recent: list[_Candidate] = []
            for hunk in self.history.hunks():
                hp = uri_to_path(hunk.uri)
                if hunk.uri != uri and hp is not None and self.guard.excluded_reason(hp):
                    continue
                diff = redact(hunk.diff, 0, f"{hunk.label} (recent edit)")
                recent.append(_Candidate(None, diff, self.count(diff), f"edit of {hunk.label}"))
            out.extend(reversed(recent))  # newest first for selection
        out.extend(self._similar(uri, text, offset, docs, taken, ctx, redact))
        return out

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
            out.append(_Candidate(snip, None, self._snippet_cost(shown, body), f"similar {shown}"))
            if len(out) >= self.max_similar:
                break
        return out

    def _definitions(
        self, path: Path | None, text: str, offset: int
    ) -> list[tuple[Definition, float]]:
        """Definitions (from other files) of names used near the cursor, best first."""
        if not self.enable_index or len(self.index) == 0:
            return []
        near_before = lines_before(text, offset, 40)
        near_after = lines_after(text, offset, 6)
        own = self.index.file(path) if path is not None else None
        imports = own.imports if own is not None else {}
        scores: dict[str, float] = {}
        attr_only: dict[str, bool] = {}
        length = max(1, len(near_before))
        for source, weight in ((near_before, 1.0), (near_after, 0.4)):
            for m in _NAME_RE.finditer(source):
                name = m.group(2)
                if len(name) < 2 or name in _BUILTINS or name.lower() in STOP_WORDS:
                    continue
                score = weight * (0.5 + m.start() / length if source is near_before else 0.5)
                if m.group(3):
                    score += 1.0
                if name[0].isupper():
                    score += 0.5
                if name in imports:
                    score += 2.0
                scores[name] = max(scores.get(name, 0.0), score)
                is_attr = bool(m.group(1))
                attr_only[name] = attr_only.get(name, True) and is_attr
        picked: list[tuple[Definition, float]] = []
        seen: set[tuple[Path, int]] = set()
        for name in sorted(scores, key=lambda n: (-scores[n], n)):
            defs = [d for d in self.index.lookup(name) if d.path != path]
            if not defs:
                continue
            if attr_only.get(name):
                defs = [d for d in defs if d.kind in ("method", "function")]
                if not defs:
                    continue
            if len(defs) > 4 and name not in imports:
                continue  # too ambiguous (`get`, `run`, ...) to be worth the tokens
            module = imports.get(name, "")
            best = min(defs, key=lambda d: self._def_rank(d, path, module))
            key = (best.path, best.start_line)
            if key in seen:
                continue
            seen.add(key)
            picked.append((best, round(scores[name], 3)))
            if len(picked) >= self.max_definitions:
                break
        return picked

    @staticmethod
    def _def_rank(d: Definition, here: Path | None, module: str) -> tuple[int, int, int, str]:
        parts = [p for p in re.split(r"[./:\\]+", module) if p]
        last = parts[-1] if parts else ""
        module_hit = 0 if last and (last in d.path.parts or last == d.path.stem) else 1
        same_dir = 0 if here is not None and d.path.parent == here.parent else 1
        return (module_hit, same_dir, len(d.path.parts), str(d.path))
