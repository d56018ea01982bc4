"""Benchmark the document store on a 100k-line file.

Run: ``python bench/bench_documents.py [lines]``.  Prints per-operation times (median and p99
over many runs) and the memory the line index takes, and compares one keystroke against pygls'
``TextDocument`` (whose ``lines`` re-split the whole text).
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsp_server.documents import Document, PositionEncoding

U16 = PositionEncoding.UTF16


def make_text(lines: int, *, unicode: bool) -> str:
    rng = random.Random(1)
    out = []
    for i in range(lines):
        indent = " " * (4 * rng.randrange(4))
        body = f"value_{i} = compute(alpha, beta, {rng.randrange(10**6)})  # note"
        if unicode and i % 3 == 0:
            body += " 中文 😀 café"
        out.append(indent + body + "\n")
    return "".join(out)


def timeit(fn: Callable[[int], object], runs: int) -> tuple[float, float]:
    """(median, p99) in microseconds of ``fn(i)`` over ``runs`` calls."""
    samples = []
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn(i)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def report(name: str, figures: tuple[float, float]) -> None:
    median, p99 = figures
    print(f"  {name:<46} median {median:9.1f} µs   p99 {p99:9.1f} µs")


def bench(lines: int, *, unicode: bool) -> None:
    text = make_text(lines, unicode=unicode)
    label = "mixed ASCII/CJK/emoji" if unicode else "ASCII"
    print(f"\n{lines} lines, {len(text) / 1e6:.1f} M chars, {label}")

    t0 = time.perf_counter()
    doc = Document("file:///bench.py", text)
    print(f"  {'open (split + index)':<46} {1000 * (time.perf_counter() - t0):9.1f} ms")

    rng = random.Random(2)
    targets = [(rng.randrange(lines), rng.randrange(1, 20)) for _ in range(5000)]

    def keystroke(i: int) -> None:
        line, col = targets[i]
        doc.apply_change("x", (line, col, line, col), U16)
        doc.offset_at(line, col + 1, U16)

    def backspace(i: int) -> None:
        line, col = targets[i]
        doc.apply_change("", (line, col, line, col + 1), U16)

    def enter(i: int) -> None:
        line, col = targets[i]
        doc.apply_change("\n    ", (line, col, line, col), U16)

    def join(i: int) -> None:
        line, _ = targets[i]
        doc.apply_change("", (line, 10_000, line + 1, 4), U16)  # delete the break + indent

    report("keystroke: insert 1 char + offset_at", timeit(keystroke, 5000))
    report("backspace: delete 1 char", timeit(backspace, 5000))
    report("enter: insert line break (line count +1)", timeit(enter, 5000))
    report("join lines (line count -1)", timeit(join, 5000))
    report("offset_at (random line)", timeit(lambda i: doc.offset_at(*targets[i], U16), 5000))
    report("position_at (random offset)", timeit(lambda i: doc.position_at(i * 97, U16), 5000))
    report("line(i)", timeit(lambda i: doc.line(targets[i][0]), 5000))

    def window_after_edit(i: int) -> None:
        line, col = targets[i]
        doc.apply_change("y", (line, col, line, col), U16)
        doc.window(doc.offset_at(line, col + 1, U16), 8000, 2000)

    report("keystroke + window(8000 before, 2000 after)", timeit(window_after_edit, 2000))

    def full_text_after_edit(i: int) -> None:
        line, col = targets[i]
        doc.apply_change("z", (line, col, line, col), U16)
        _ = doc.text

    report("keystroke + .text (join whole file)", timeit(full_text_after_edit, 50))
    assert doc.line_count == lines + 1

    # Memory of the index, measured on a fresh document built from an existing string.
    del doc
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    doc = Document("file:///bench.py", text)
    doc.offset_at(lines - 1, 0, U16)  # builds block index
    for line in range(0, lines, 256):  # builds every block's line-start array
        doc.offset_at(line, 0, U16)
    with_text = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    text_bytes = sys.getsizeof(text)
    print(
        f"  {'memory: lines + index (excl. the text string)':<46} "
        f"{with_text / 1e6:9.1f} MB  (text itself {text_bytes / 1e6:.1f} MB; "
        f"{with_text / lines:.0f} B/line)"
    )


def bench_pygls(lines: int) -> None:
    """One keystroke in pygls' TextDocument: apply_change + offset_at, for comparison."""
    try:
        from lsprotocol import types
        from pygls.workspace import TextDocument
    except ImportError:
        return
    text = make_text(lines, unicode=False)
    doc = TextDocument("file:///bench.py", text)

    def keystroke(i: int) -> None:
        line = 1000 + i
        change = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, 4), types.Position(line, 4)), text="x"
        )
        doc.apply_change(change)
        doc.offset_at_position(types.Position(line, 5))

    print(f"\npygls TextDocument, {lines} lines, for comparison")
    report("keystroke: apply_change + offset_at_position", timeit(keystroke, 30))


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"Python {sys.version.split()[0]}")
    bench(lines, unicode=False)
    bench(lines, unicode=True)
    bench_pygls(lines)


if __name__ == "__main__":
    main()
