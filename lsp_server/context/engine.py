"""The context engine facade: one object the server feeds with document events and asks for a
token-budgeted, redacted `PromptContext` per completion request.

`build` runs on every completion request, so it only does cheap work: two window cuts, set
intersections over cached identifier windows, dictionary look-ups in the symbol index, and
memoised token counts. Parsing and the workspace walk happen on one background thread.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..privacy.ignore_files import GITIGNORE_FILE, IGNORE_FILE
from ..privacy.policy import PrivacyGuard
from ..privacy.redaction import Redactor
from ..text import content_lines
from ..uris import uri_to_path
from .budget import (
    Shares,
    _fit_backward,
    _fit_forward,
    allocate,
    cut_prefix,
    cut_suffix,
    line_token_estimate,
    line_token_estimate_reverse,
)
from .definitions import Definition, compact_text
from .indexer import BackgroundIndexer
from .names import definitions_near, signature_line
from .neighbours import WindowCache, identifiers
from .recent import EditHistory
from .sticky import (
    Candidate,
    Kept,
    Key,
    Sticky,
    StickySnippets,
    end_line,
    prompt_order,
)
from .symbols import IndexStats, SymbolIndex
from .tokens import TokenCounter
from .types import PromptContext, Snippet
from .windows import lines_before, prefix_window, suffix_window

log = logging.getLogger(__name__)

_Redact = Callable[[str, int, str], str]
SNIPPET_OVERHEAD = 4
"""Tokens reserved per snippet for the renderer's framing (path header, fences)."""


class ContextBlocked(PermissionError):
    """Raised by `build` for a document that must not be sent at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        self._open: dict[str, tuple[str, str]] = {}
        self._recent_docs: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._sticky = StickySnippets()
        self.indexer = BackgroundIndexer(self.index, lambda: self.guard.roots,
                                         enabled=enable_index,
                                         debounce_seconds=index_debounce_seconds)

    # ------------------------------------------------------------------ lifecycle
    def set_roots(self, roots: Sequence[Path]) -> None:
        """Replace the workspace roots; a running index is rebuilt for the new roots."""
        self.guard.set_roots(roots)
        self.indexer.request_rebuild()

    @property
    def roots(self) -> list[Path]:
        return self.guard.roots

    def start(self) -> None:
        """Start the background indexer (idempotent). Never blocks."""
        self.indexer.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Cancel indexing and wait (briefly) for the thread to finish."""
        self.indexer.stop(timeout)

    def wait_until_indexed(self, timeout: float | None = None) -> bool:
        """Block until the first full index build is done (for tests, benchmarks, `doctor`)."""
        return self.indexer.wait_until_indexed(timeout)

    @property
    def index_stats(self) -> IndexStats:
        return self.index.stats

    def flush(self) -> None:
        """Apply queued index updates now (the background thread calls this too)."""
        self.indexer.flush()

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
        self.indexer.queue(path, text, language_id)

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
        self.indexer.queue(path, text, lang or None)

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
        self.indexer.queue(path, text, lang)

    def on_close(self, uri: str) -> None:
        self._open.pop(uri, None)
        self._sticky.forget(uri)
        self.history.close(uri)
        path = uri_to_path(uri)
        self.indexer.queue(path, None, None)  # the disk version is the truth again

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
            self.indexer.remove(path)
            return
        if uri in self._open:
            return  # the open buffer wins over the disk
        self.indexer.queue(path, None, None)

    def _ignore_rules_changed(self, path: Path) -> None:
        self.guard.invalidate(path)
        self._sticky.clear()  # kept snippets may come from files now ignored
        for uri in list(self._recent_docs):
            p = uri_to_path(uri)
            if p is not None and self.guard.excluded_reason(p):
                self._recent_docs.pop(uri, None)
        self.indexer.rules_changed(self.guard.excluded_reason)

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
        billed: bool = False,
        stable_suffix: bool = False,
    ) -> PromptContext:
        """The prompt context for a completion at `offset` (a character index into `text`).

        `billed`: the endpoint bills input tokens and caches prompt prefixes. Everything
        before the cursor is then mostly a cache hit from one call to the next (billed at a
        tenth on Mistral), but the file after the cursor follows the typed text and is billed
        in full on every call: it keeps its own share of the budget instead of taking what the
        prefix and the snippets left (which, in a file without other context, doubled the
        uncached part for code far below the cursor).

        `stable_suffix`: the model reads the suffix before the code up to the cursor (Mistral's
        FIM endpoint, the `suffixFirst` layout: `model/prompts.suffix_read_first`), so its
        bottom snaps to whole blocks of lines and stays put while the user types (cacheable).

        Raises `ContextBlocked` for secret or `.devstralignore`d documents: nothing of them may
        be sent, so the caller must not make a request at all.
        """
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
        p_lines = content_lines(prefix_raw)
        p_first = _fit_backward(p_lines, most["prefix"], count, pw.start_line)[0]
        s_end = _fit_forward(content_lines(suffix_raw), most["suffix"], count, sw.start_line)[0]
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
        chosen: list[Candidate] = []
        for cand in candidates:
            if cand.own_line is not None and prefix_first <= cand.own_line <= cursor_line:
                continue  # shown by the prefix after all
            if used + cand.cost <= available:
                chosen.append(cand)
                used += cand.cost
            else:
                ctx.dropped.append(f"{cand.label} over budget ({cand.cost} tokens)")
        suffix_room = budget - p_tokens - used
        if billed:
            suffix_room = min(suffix_room, most["suffix"])
        suffix, s_tokens, s_cut = cut_suffix(
            suffix_raw, suffix_room, count, first_line=sw.start_line,
            snap_lines=self.snap_lines if stable_suffix else 1,
        )

        ctx.prefix, ctx.suffix = prefix, suffix
        ctx.prefix_truncated = pw.truncated or p_cut
        ctx.suffix_truncated = sw.truncated or s_cut
        # Prompt caching: the snippets of the previous request first, in their order, then
        # the newcomers; so while the user types, the prompt only grows at the end of the block.
        shown = prompt_order(chosen, prev)
        ctx.snippets = [c.snippet for c in shown if c.snippet is not None]
        diffs = [c for c in chosen if c.diff is not None]
        self._sticky.remember(uri, shown, prev, cursor_line, scope, diffs)
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
        prev: Mapping[Key, Kept] = {},
        near: frozenset[Key] | set[Key] = frozenset(),
        sticky: Sticky | None = None,
    ) -> list[Candidate]:
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
        out: list[Candidate] = []
        taken: list[tuple[str, int, int]] = []
        recent: list[Candidate] = []
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
                    Candidate(None, diff, self.count(diff), f"edit of {hunk.label}", hunk=hid)
                )
        # Recent edits change on every keystroke: a fixed reserve for them (rather than their
        # exact cost) keeps the definitions, the top of the prompt, the same while typing.
        room = allowance - (allowance // 4 if recent else 0)
        examined = 0
        defs = (definitions_near(self.index, path, text, offset, language_id, visible)
                if self.enable_index else iter(()))
        for d, score, primary in defs:
            examined += 1
            if examined > 4 * self.max_definitions or len(taken) >= self.max_definitions:
                break
            shown = self.label(d.path)
            key: Key = ("definition", shown, d.start_line)
            cand: Candidate | None = None
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
                    cand = Candidate(
                        snip, None, cost, f"definition {shown}", key=key, source=d.text,
                        full=body_text == d.text, file=d.path,
                    )
                    if d.path == path:
                        cand.own_line = signature_line(d)
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
                taken.append((s.snippet.path, s.snippet.start_line, end_line(s.snippet)))
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
            end = end_line(piece)
            if any(t[0] == piece.path and piece.start_line <= t[2] and t[1] < end for t in taken):
                continue  # overlaps a snippet shown anyway
            room -= kept.cost
            taken.append((piece.path, piece.start_line, end))
            out.append(Candidate(
                piece, None, kept.cost, kept.label, key=key, source=kept.source,
                full=kept.full, file=kept.file, stale=True,
            ))
        return out

    def _unchanged(self, kept: Candidate, docs: Mapping[str, tuple[str, str]]) -> bool:
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

    def _similar(
        self,
        uri: str,
        text: str,
        offset: int,
        docs: Mapping[str, tuple[str, str]],
        taken: list[tuple[str, int, int]],
        ctx: PromptContext,
        redact: _Redact,
    ) -> list[Candidate]:
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
        out: list[Candidate] = []
        for m in self.windows.best(query, pool.items(), limit=self.max_similar + 2):
            shown = self.label(uri_to_path(m.key), m.key)
            if any(t[0] == shown and m.start_line <= t[2] and t[1] < m.end_line for t in taken):
                continue
            body = redact(m.text, m.start_line, shown)
            snip = Snippet(shown, body, "similar", round(m.score, 3), m.start_line)
            out.append(Candidate(
                snip, None, self._snippet_cost(shown, body), f"similar {shown}",
                key=("similar", shown, m.start_line), source=m.text, file=uri_to_path(m.key),
                doc=m.key,
            ))
            if len(out) >= self.max_similar:
                break
        return out
