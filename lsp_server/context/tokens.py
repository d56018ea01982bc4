"""Exact Tekken token counts (Devstral's tokenizer) through tiktoken.

Budgets must be exact, not estimated, so the vocabulary Mistral publishes with
`mistral-common` ships as package data (about 0.5 MB, xz) and is turned into a
`tiktoken.Encoding` on first use. Importing `mistral-common` itself would cost ~1 s and
~180 MB; tiktoken imports in ~15 ms and encodes ~5 M tokens/s. Nothing heavy happens at
import time: the first `count_tokens` call loads the vocabulary (~0.3 s) under a lock.
"""

from __future__ import annotations

import hashlib
import itertools
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


class TokenCounter:
    """`count_tokens` with a bounded memo, because prompts are rebuilt on every keystroke
    from mostly the same lines and snippets.

    A hit is one dictionary look-up (no lock, no reordering): the memo is a plain dict that
    forgets its oldest quarter when full. `lines_total` memoises the *sum of the per-line
    counts* of a block of lines, so the budget code walks a long prefix 16 lines at a time
    with exactly the numbers a line-by-line walk would see.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self._cache: dict[str, int] = {}
        self._sums: dict[str, int] = {}
        self._max = max_entries
        self._max_sums = max(64, max_entries // 16)
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        value = count_tokens(text)
        self._store(self._cache, self._max, text, value)
        return value

    def lines_total(self, lines: Sequence[str]) -> int:
        """`sum(self(line) for line in lines)`, memoised on the joined block."""
        key = "".join(lines)
        hit = self._sums.get(key)
        if hit is not None:
            return hit
        value = sum(self(line) for line in lines)
        self._store(self._sums, self._max_sums, key, value)
        return value

    def _store(self, cache: dict[str, int], limit: int, key: str, value: int) -> None:
        with self._lock:  # writers only; readers never see a half-evicted dict (GIL)
            if len(cache) >= limit:
                for old in list(itertools.islice(cache, max(1, len(cache) // 4))):
                    del cache[old]
            cache[key] = value
