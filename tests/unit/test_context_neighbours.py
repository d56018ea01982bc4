"""Jaccard similar windows over identifiers."""

from __future__ import annotations

from lsp_server.context.neighbours import WindowCache, identifiers, jaccard


def test_identifiers_skip_keywords_and_short_names() -> None:
    assert identifiers("def load_user(self, x): return db.fetch(user_id)") == {
        "load_user",
        "db",
        "fetch",
        "user_id",
    }


def test_jaccard() -> None:
    assert jaccard({"a", "b"}, {"b", "c"}) == 1 / 3
    assert jaccard(set(), {"a"}) == 0.0


def test_best_window_is_the_similar_one() -> None:
    filler = "".join(f"unrelated_{i} = compute_{i}()\n" for i in range(100))
    target = (
        "def save_invoice(invoice, customer_repo):\n"
        "    customer = customer_repo.get(invoice.customer_id)\n"
        "    invoice.total = sum(line.amount for line in invoice.lines)\n"
        "    return customer_repo.store(invoice)\n"
    )
    other = filler + target + filler
    query = identifiers("def load_invoice(invoice_id, customer_repo):\n    invoice = ")
    cache = WindowCache(window_lines=8, stride=2)
    docs = [("file:///b.py", other), ("file:///c.py", filler)]
    matches = cache.best(query, docs, min_score=0.05)
    assert len(matches) == 1
    m = matches[0]
    assert m.key == "file:///b.py" and "customer_repo.get" in m.text
    assert 100 - 8 < m.start_line <= 104 and m.score > 0.05
    # cached per version: same object reused, new version recomputed
    assert cache.best(query, [("file:///b.py", other)], min_score=0.05)[0] == m
    assert cache.best(query, [("file:///b.py", filler)], min_score=0.05) == []


def test_windows_are_cached_per_text_and_recomputed_on_change() -> None:
    cache = WindowCache(window_lines=8, stride=2)
    text = "".join(f"value_{i} = compute_{i}(alpha_{i})\n" for i in range(50))
    query = identifiers("value_3 = compute_3(alpha_3)")
    first = cache.best(query, [("file:///a.py", text)], min_score=0.05)
    assert first and cache.computed == 1
    # an equal text in a new object has the same fingerprint: no recomputation
    same = "".join(text[:10]) + text[10:]
    assert cache.best(query, [("file:///a.py", same)], min_score=0.05) == first
    assert cache.computed == 1
    changed = text.replace("value_3 =", "other_3 =")
    cache.best(query, [("file:///a.py", changed)], min_score=0.05)
    assert cache.computed == 2
