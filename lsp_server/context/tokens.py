"""Exact Tekken token counts (Devstral's tokenizer) through tiktoken.

Budgets must be exact, not estimated, so the vocabulary Mistral publishes with
`mistral-common` ships as package data (about 0.5 MB, xz) and is turned into a
`tiktoken.Encoding` on first use. Importing `mistral-common` itself would cost ~1 s and
~180 MB; tiktoken imports in ~15 ms and encodes ~5 M tokens/s. Nothing heavy happens at
import time: the first `count_tokens` call loads the vocabulary (~0.3 s) under a lock.
"""

from __future__ import annotations

import hashlib
import logging
import lzma
import threading
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger(__name__)

NUM_SPECIAL_TOKENS = 1000
"""Tekken reserves ids 0..999 for control tokens; ordinary ranks are offset by this."""
VOCAB_SIZE = 131072
VOCAB_RESOURCE = "tekken_240718.vocab.xz"
VOCAB_SHA256 = "65e8dd42ec4e22317d1336ddadfc8fd5f432fb61c763bf00b95d60aa443d459f"
PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Pre-tokenisation regex, copied from the `config.pattern` of tekken_240718.json."""

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def _load_ranks() -> dict[bytes, int]:
    blob = resources.files("lsp_server.data").joinpath(VOCAB_RESOURCE).read_bytes()
    payload = lzma.decompress(blob)
    if hashlib.sha256(payload).hexdigest() != VOCAB_SHA256:
        raise RuntimeError(f"{VOCAB_RESOURCE} is corrupt (checksum mismatch)")
    ranks: dict[bytes, int] = {}
    pos = 0
    n = len(payload)
    while pos < n:
        size = payload[pos]
        ranks[payload[pos + 1 : pos + 1 + size]] = len(ranks)
        pos += 1 + size
    if len(ranks) != VOCAB_SIZE - NUM_SPECIAL_TOKENS:
        raise RuntimeError(f"{VOCAB_RESOURCE}: expected {VOCAB_SIZE - NUM_SPECIAL_TOKENS} ranks")
    return ranks


def get_encoding() -> tiktoken.Encoding:
    """The Tekken encoding (ordinary tokens only), loaded once, thread-safely."""
    global _encoding
    enc = _encoding
    if enc is not None:
        return enc
    with _lock:
        if _encoding is None:
            import time

            import tiktoken

            started = time.perf_counter()
            enc = tiktoken.Encoding(
                name="tekken_240718",
                pat_str=PATTERN,
                mergeable_ranks=_load_ranks(),
                special_tokens={},
            )
            _release_python_ranks(enc)
            _encoding = enc
            log.debug("Tekken vocabulary loaded in %.0f ms", (time.perf_counter() - started) * 1e3)
        return _encoding


def _release_python_ranks(enc: tiktoken.Encoding) -> None:
    """Drop the Python copy of the ranks (~13 MB) and hand freed heap back to the OS.

    tiktoken's Rust `CoreBPE` keeps its own tables for encoding and decoding; the Python dict
    it was built from is only read again to pickle the `Encoding`, which nothing here does
    (`__getstate__` would fail loudly). `malloc_trim` exists on glibc only; elsewhere the
    memory is simply reused by later allocations.
    """
    if getattr(enc, "_mergeable_ranks", None) is not None:
        # tiktoken's private copy of the ranks, dropped on purpose (see above)
        enc._mergeable_ranks = None  # type: ignore[assignment]
    try:
        import ctypes

        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
        if trim is not None:
            trim(0)
    except Exception:  # pragma: no cover - no libc symbols (Windows) or no ctypes
        log.debug("malloc_trim unavailable", exc_info=True)


def is_loaded() -> bool:
    """Whether the vocabulary is already in memory (for `doctor`-style reports)."""
    return _encoding is not None


def encode(text: str) -> list[int]:
    """Tekken ids of `text` as Devstral sees them (special-looking strings stay plain text)."""
    return [t + NUM_SPECIAL_TOKENS for t in get_encoding().encode_ordinary(text)]


def decode(ids: list[int]) -> str:
    """Inverse of `encode` for ordinary ids (special ids are skipped)."""
    return get_encoding().decode([i - NUM_SPECIAL_TOKENS for i in ids if i >= NUM_SPECIAL_TOKENS])


def count_tokens(text: str) -> int:
    """Exact number of Tekken tokens of `text` (no BOS/control tokens)."""
    if not text:
        return 0
    return len(get_encoding().encode_ordinary(text))


class _Memo:
    """A dict bounded by entries *and* characters of its keys, oldest forgotten first."""

    __slots__ = ("chars", "data", "max_chars", "max_entries")

    def __init__(self, max_entries: int, max_chars: int) -> None:
        self.data: dict[str, int] = {}
        self.max_entries = max(1, max_entries)
        self.max_chars = max(1, max_chars)
        self.chars = 0

    def store(self, key: str, value: int) -> None:
        size = len(key)
        if size > self.max_chars // 4 or key in self.data:
            return  # too big to be worth a quarter of the memo, or another thread was first
        if len(self.data) >= self.max_entries or self.chars + size > self.max_chars:
            self._evict(size)
        self.data[key] = value
        self.chars += size

    def _evict(self, incoming: int) -> None:
        """Forget the oldest entries until at most 3/4 of both bounds are used."""
        keep_entries = self.max_entries * 3 // 4
        keep_chars = self.max_chars * 3 // 4 - incoming
        entries, chars = len(self.data), self.chars
        drop: list[str] = []
        for old in self.data:
            if entries <= keep_entries and chars <= keep_chars:
                break
            drop.append(old)
            entries -= 1
            chars -= len(old)
        for old in drop:
            del self.data[old]
        self.chars = chars

    def clear(self) -> None:
        self.data.clear()
        self.chars = 0

    def __len__(self) -> int:
        return len(self.data)


class TokenCounter:
    """`count_tokens` with a bounded memo, because prompts are rebuilt on every keystroke
    from mostly the same lines and snippets.

    A hit is one dictionary look-up (no lock, no reordering): the memo is a plain dict that
    forgets its oldest quarter when full. `lines_total` memoises the *sum of the per-line
    counts* of a block of lines, so the budget code walks a long prefix 16 lines at a time
    with exactly the numbers a line-by-line walk would see.

    The memos are bounded in characters as well as entries: whole prefixes, suffixes and
    diffs are counted too, they change on every keystroke and are kilobytes each, so an
    entry bound alone let 50,000 of them pile up (~4 MB of RSS per 1,000 completions in the
    soak). Texts longer than `long_text` chars go to a small memo of their own, so they
    cannot push the per-line entries out; a text over a quarter of its memo is not kept.
    """

    def __init__(
        self,
        max_entries: int = 50_000,
        *,
        max_chars: int = 2_000_000,
        long_text: int = 1024,
        max_long: int = 64,
        max_long_chars: int = 1_000_000,
    ) -> None:
        self._lines = _Memo(max_entries, max_chars)
        self._long = _Memo(max_long, max_long_chars)
        self._blocks = _Memo(max(64, max_entries // 16), max(4096, max_chars // 2))
        self._cache = self._lines.data
        self._long_cache = self._long.data
        self._sums = self._blocks.data
        self._long_text = long_text
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        if len(text) <= self._long_text:
            hit = self._cache.get(text)
            memo = self._lines
        else:
            hit = self._long_cache.get(text)
            memo = self._long
        if hit is not None:
            return hit
        value = count_tokens(text)
        with self._lock:  # writers only; readers never see a half-evicted dict (GIL)
            memo.store(text, value)
        return value

    def lines_total(self, lines: Sequence[str]) -> int:
        """`sum(self(line) for line in lines)`, memoised on the joined block."""
        key = "".join(lines)
        hit = self._sums.get(key)
        if hit is not None:
            return hit
        value = sum(self(line) for line in lines)
        with self._lock:
            self._blocks.store(key, value)
        return value

    def memo_sizes(self) -> dict[str, tuple[int, int]]:
        """(entries, characters) per memo, for tests and `devstral/debugMemory`."""
        return {name: (len(m), m.chars)
                for name, m in (("lines", self._lines), ("long", self._long),
                                ("blocks", self._blocks))}
