"""Exact Tekken token counts (Devstral's tokenizer), from a compact vocabulary in pure Python.

Budgets must be exact, not estimated, so the vocabulary Mistral publishes with
`mistral-common` ships as package data (about 0.5 MB, xz). Importing `mistral-common` itself
would cost ~1 s and ~180 MB. tiktoken's Rust `CoreBPE` (used here before) encodes faster but
keeps ~39 MB of tables for the 130k tokens (encoder and decoder hash maps of owned byte
vectors plus a sorted copy), and building it needs the vocabulary as a Python dict first
(~20 MB more at the peak): about a third of the server's footprint. `CompactTekken` holds the
vocabulary once, as the decompressed payload itself, an offsets array and an open-addressing
table of ranks (~3 MB; ~9 MB with the compiled word-splitting regex), and runs the same
byte-pair merge as tiktoken: the same ids (unit tests compare it with tiktoken on real code
and random text, and with ids captured from mistral-common). Pieces seen recently are
memoised, so counting costs about 1 ms per 2,500 tokens (tiktoken: ~0.4 ms) and the
`TokenCounter` memo above it answers repeated lines with one look-up.

Nothing heavy happens at import time: the first `count_tokens` call loads the vocabulary
under a lock.
"""

from __future__ import annotations

import hashlib
import logging
import lzma
import threading
from array import array
from collections.abc import Sequence
from importlib import resources
from itertools import pairwise

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

_NO_RANK = 1 << 31
_PIECE_MEMO = 16_384
"""Pieces (words, operators, indentation runs) whose ranks are remembered: ~2.5 MB."""

_lock = threading.Lock()
_encoding: CompactTekken | None = None


def _load_blob() -> bytes:
    """The vocabulary: for each rank, one length byte and the token's bytes."""
    blob = resources.files("lsp_server.data").joinpath(VOCAB_RESOURCE).read_bytes()
    payload = lzma.decompress(blob)
    if hashlib.sha256(payload).hexdigest() != VOCAB_SHA256:
        raise RuntimeError(f"{VOCAB_RESOURCE} is corrupt (checksum mismatch)")
    return payload


class CompactTekken:
    """Tekken's ordinary vocabulary and BPE, the subset of `tiktoken.Encoding` used here
    (`encode_ordinary`, `decode_bytes`, `decode`, `decode_single_token_bytes`, `n_vocab`)."""

    def __init__(self, payload: bytes, pattern: str) -> None:
        import regex

        # The payload is the blob: token r is payload[offsets[r]:offsets[r + 1] - 1] (each
        # token's bytes are followed by the next one's length byte, or by the end).
        offsets = array("I")
        pos, n = 0, len(payload)
        while pos < n:
            offsets.append(pos + 1)
            pos += 1 + payload[pos]
        offsets.append(n + 1)
        if len(offsets) - 1 != VOCAB_SIZE - NUM_SPECIAL_TOKENS:
            raise RuntimeError(
                f"{VOCAB_RESOURCE}: expected {VOCAB_SIZE - NUM_SPECIAL_TOKENS} ranks")
        self._blob = payload
        self._offsets = offsets
        count = len(offsets) - 1
        size = 1 << (count * 2).bit_length()  # load factor under 1/2
        self._mask = mask = size - 1
        table = array("i", [-1]) * size
        for rank in range(count):
            slot = hash(payload[offsets[rank]:offsets[rank + 1] - 1]) & mask
            while table[slot] >= 0:
                slot = (slot + 1) & mask
            table[slot] = rank
        self._table = table
        self._split = regex.compile(pattern).findall
        self._memo: dict[str, tuple[int, ...]] = {}
        self.n_vocab = len(offsets) - 1

    # ----- the vocabulary
    def rank(self, piece: bytes) -> int | None:
        """The rank of a token's bytes, or None when they are not one token."""
        table, mask, blob, offsets = self._table, self._mask, self._blob, self._offsets
        slot = hash(piece) & mask
        while True:
            rank = table[slot]
            if rank < 0:
                return None
            if blob[offsets[rank]:offsets[rank + 1] - 1] == piece:
                return rank
            slot = (slot + 1) & mask

    def decode_single_token_bytes(self, rank: int) -> bytes:
        return self._blob[self._offsets[rank]:self._offsets[rank + 1] - 1]

    # ----- encoding
    def _merge(self, piece: bytes) -> tuple[int, ...]:
        """tiktoken's `byte_pair_merge`: merge the adjacent pair of lowest rank, first one on
        ties, until no pair is a token."""
        rank = self.rank
        starts = list(range(len(piece) + 1))
        pair = [r if (r := rank(piece[i:i + 2])) is not None else _NO_RANK
                for i in range(len(piece) - 1)]
        while pair:
            best = min(pair)
            if best == _NO_RANK:
                break
            i = pair.index(best)
            del starts[i + 1]
            del pair[i]
            if i < len(pair):
                end = starts[i + 2]
                r = rank(piece[starts[i]:end])
                pair[i] = _NO_RANK if r is None else r
            if i > 0:
                r = rank(piece[starts[i - 1]:starts[i + 1]])
                pair[i - 1] = _NO_RANK if r is None else r
        out = []
        for a, b in pairwise(starts):
            r = rank(piece[a:b])
            assert r is not None  # every single byte is a token
            out.append(r)
        return tuple(out)

    def _ranks(self, word: str) -> tuple[int, ...]:
        memo = self._memo
        hit = memo.get(word)
        if hit is not None:
            return hit
        piece = word.encode("utf-8")
        r = self.rank(piece)
        ranks = (r,) if r is not None else self._merge(piece)
        if len(memo) >= _PIECE_MEMO:
            memo.clear()  # cheap and rare: the common pieces come back at once
        memo[word] = ranks
        return ranks

    def count(self, text: str) -> int:
        memo = self._memo
        total = 0
        for word in self._split(text):
            hit = memo.get(word)
            total += len(hit) if hit is not None else len(self._ranks(word))
        return total

    def encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for word in self._split(text):
            out.extend(self._ranks(word))
        return out

    def decode_bytes(self, ranks: Sequence[int]) -> bytes:
        blob, offsets = self._blob, self._offsets
        return b"".join(blob[offsets[r]:offsets[r + 1] - 1] for r in ranks)

    def decode(self, ranks: Sequence[int]) -> str:
        return self.decode_bytes(ranks).decode("utf-8", errors="replace")


def get_encoding() -> CompactTekken:
    """The Tekken encoding (ordinary tokens only), loaded once, thread-safely."""
    global _encoding
    enc = _encoding
    if enc is not None:
        return enc
    with _lock:
        if _encoding is None:
            import time

            started = time.perf_counter()
            _encoding = CompactTekken(_load_blob(), PATTERN)
            log.debug("Tekken vocabulary loaded in %.0f ms", (time.perf_counter() - started) * 1e3)
        return _encoding


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
    return get_encoding().count(text)


def piece_boundary_chunks(text: str) -> list[str]:
    """`text` cut where Tekken's pre-tokeniser always cuts, so the token count of `text` is the
    sum of its chunks' counts (exactly, not an estimate).

    The cuts are after a line break when the next line, past its spaces and tabs, holds a
    character that is not whitespace, and does not start with `/`. No alternative of `PATTERN`
    can match across such a point: the letter and digit pieces never contain a line break,
    the punctuation piece only continues past one with more breaks or slashes
    (`[\\r\\n/]*`), and a whitespace piece that holds a break ends with one
    (`\\s*[\\r\\n]+`, tried before `\\s+(?!\\S)`) and finds no other break before the
    next line's first non-blank character. Lines are what the prompts
    share from one keystroke to the next, so chunks are what a memo can keep
    (`TokenCounter`); `tests/unit/test_context_tokens.py` checks the sum on code, random
    text and edge cases against a count of the whole.
    """
    lines = text.split("\n")
    chunks: list[str] = []
    start = pos = 0
    for line, nxt in pairwise(lines):
        pos += len(line) + 1  # just after this line's break
        rest = nxt.lstrip(" \t")
        if rest and not rest[0].isspace() and not nxt.startswith("/"):
            chunks.append(text[start:pos])
            start = pos
    if start < len(text):
        chunks.append(text[start:])
    return chunks


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
        if memo is self._long:
            # A whole prefix or suffix: new on every keystroke, but made of the lines the
            # previous one had; counted chunk by chunk through the line memo (exact).
            chunks = piece_boundary_chunks(text)
            value = (sum(self(c) if len(c) <= self._long_text else count_tokens(c)
                         for c in chunks) if len(chunks) > 1 else count_tokens(text))
        else:
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
