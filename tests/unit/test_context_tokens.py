"""Tekken exactness: ids captured once from mistral-common 1.13.1 (throwaway venv,
`Tekkenizer.from_file(tekken_240718.json).encode(s, bos=False, eos=False)`); the same check
also matched all 253,689 tokens of 40 stdlib modules."""

from __future__ import annotations

import threading

import pytest

from lsp_server.context import tokens

CAPTURED: list[tuple[str, list[int]]] = [
    (
        "def add(a, b):\n    return a + b\n",
        [3149, 2229, 8897, 1044, 1289, 3640, 1293, 1850, 1261, 1867, 1289, 1010],
    ),
    ("Hello, world! ", [22177, 1044, 4304, 1033, 1032]),
    (
        "  x = [1,2,3]\n\n\n\tif y:\n",
        [1032, 2460, 1376, 1766, 1049, 1044, 1050, 1044, 1051, 54881, 3353, 1404, 1877],
    ),
    ("Ünïcödé 東京 🎉", [39453, 1110, 105678, 29487, 1337, 48798, 119685, 1142, 1137]),
    ("<s>[INST]", [1060, 1115, 110391, 3174, 3074, 1093]),
    (
        'import numpy as np\nclass Foo(Bar):\n    """Docstring."""\n'
        '    def __init__(self):\n        self.x = {"a": 1}\n',
        [
            1917,
            25638,
            1435,
            8790,
            1010,
            3176,
            56837,
            1040,
            8168,
            3640,
            1293,
            19639,
            21040,
            3607,
            60113,
            1293,
            2121,
            6234,
            4692,
            15537,
            2917,
            3640,
            1369,
            2585,
            6662,
            1376,
            16753,
            1097,
            2811,
            1032,
            1049,
            2002,
        ],
    ),
    (
        'fn main() {\n    println!("{}", 42);\n}\n',
        [28117, 2830, 1690, 1512, 1293, 41727, 51714, 30620, 1897, 1032, 1052, 1050, 1468, 2002],
    ),
    (
        "const x = async () => await fetch(`/api/${id}`);",
        [3150, 2460, 1376, 8373, 5255, 2297, 6230, 15273, 77583, 5400, 28514, 1327, 14483, 3455],
    ),
    ("    \n    \n  \r\n", [1260, 1010, 1260, 1010, 1256, 1013, 1010]),
]


@pytest.mark.parametrize(("text", "ids"), CAPTURED)
def test_ids_match_mistral_common(text: str, ids: list[int]) -> None:
    assert tokens.encode(text) == ids
    assert tokens.count_tokens(text) == len(ids)
    assert tokens.decode(ids) == text


def test_empty_and_special_looking_text_is_plain() -> None:
    assert tokens.count_tokens("") == 0
    assert all(i >= tokens.NUM_SPECIAL_TOKENS for i in tokens.encode("[INST]</s><s>"))


def test_concurrent_first_use_loads_one_encoding() -> None:
    seen: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen.append(tokens.get_encoding())) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in seen}) == 1
    assert tokens.get_encoding().n_vocab == tokens.VOCAB_SIZE - tokens.NUM_SPECIAL_TOKENS


def test_token_counter_memo_is_exact() -> None:
    counter = tokens.TokenCounter(max_entries=2)
    for text, ids in CAPTURED:
        assert counter(text) == len(ids)
        assert counter(text) == len(ids)


def test_import_is_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import lsp_server.context.tokens as t; "
        "assert 'regex' not in sys.modules and 'tiktoken' not in sys.modules; "
        "assert not t.is_loaded(); t.count_tokens('x'); assert 'tiktoken' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _tiktoken_reference() -> object:
    """tiktoken's Rust BPE on the same vocabulary: the reference the compact one must match."""
    tiktoken = pytest.importorskip("tiktoken")
    payload = tokens._load_blob()
    ranks: dict[bytes, int] = {}
    pos = 0
    while pos < len(payload):
        size = payload[pos]
        ranks[payload[pos + 1 : pos + 1 + size]] = len(ranks)
        pos += 1 + size
    return tiktoken.Encoding(name="tekken", pat_str=tokens.PATTERN, mergeable_ranks=ranks,
                             special_tokens={})


def test_compact_encoding_equals_tiktoken_on_code_and_random_text() -> None:
    import random
    from pathlib import Path

    ref = _tiktoken_reference()
    enc = tokens.get_encoding()
    root = Path(tokens.__file__).resolve().parent.parent
    texts = [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))[:40]]
    rnd = random.Random(7)
    alphabet = "abcXYZ_ 0189\n\t\r  ()[]{}.,;:+-*/\"'é漢字😀\u200d\u0301\u2028ßİ\x0c\x85"
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 80)))
              for _ in range(1500)]
    for text in texts:
        ids = ref.encode_ordinary(text)  # type: ignore[attr-defined]
        assert enc.encode_ordinary(text) == ids, text[:80]
        assert enc.count(text) == len(ids)
        assert enc.decode_bytes(ids) == text.encode("utf-8")


def test_vocabulary_is_held_compactly() -> None:
    """One blob (the decompressed payload), an offsets array and a rank table; no dict."""
    enc = tokens.get_encoding()
    assert enc.n_vocab == tokens.VOCAB_SIZE - tokens.NUM_SPECIAL_TOKENS
    assert not any(isinstance(v, dict) and len(v) > 100_000 for v in vars(enc).values())
    text, ids = CAPTURED[3]
    assert tokens.encode(text) == ids and tokens.decode(ids) == text
    assert enc.decode_single_token_bytes(ids[0] - tokens.NUM_SPECIAL_TOKENS)
    assert enc.rank(b"\xff\xfe not a token \x00") is None


def _chunk_cases() -> list[str]:
    import random
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    cases = [(stdlib / name).read_text(encoding="utf-8")
             for name in ("textwrap.py", "argparse.py", "json/decoder.py", "heapq.py")]
    cases += [
        "a\n/b\n//c\n  /d\n\t\re\n\r\nf\r\n\x0c\ng\n \n\n\nh", "x = 1\n\n\n\ny", "\n\n\nabc\n",
        "):\n/x", "):\n  /x", "é\u0301\n\u0301a\n1\n\u00a0\nb", "a \r\n  \r\n  b\n", "\n", "",
        "  \n\t\n  x\n",
    ]
    rng = random.Random(7)
    alphabet = ["a", "Z", "1", " ", "  ", "\t", "\n", "\r", "\r\n", "/", "//", "(", ")", ":",
                "_", "é", "\u0301", "\u00a0", "\x0c", "#", "'", "中", "٣"]
    for _ in range(400):
        cases.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200))))
    return cases


def test_chunked_count_of_long_texts_is_exact() -> None:
    """`piece_boundary_chunks` cuts only where the pre-tokeniser cuts: the chunks' counts add
    up to the count of the whole, on real code, edge cases and random text."""
    enc = tokens.get_encoding()
    for text in _chunk_cases():
        chunks = tokens.piece_boundary_chunks(text)
        assert "".join(chunks) == text
        assert sum(enc.count(c) for c in chunks) == enc.count(text), repr(text[:80])
        # and the counter, which counts texts over 1,024 chars that way, agrees
        counter = tokens.TokenCounter(long_text=16)
        assert counter(text) == enc.count(text), repr(text[:80])
    code = _chunk_cases()[0]
    assert len(tokens.piece_boundary_chunks(code)) > code.count("\n") // 4  # cuts are common
