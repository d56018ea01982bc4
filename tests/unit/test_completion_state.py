"""Caches, backoff and debounce: the pipeline's pure state machines."""

from __future__ import annotations

from lsp_server.completion.cache import LRUCache, TypedThroughCache, request_key
from lsp_server.completion.debounce import AdaptiveDebounce
from lsp_server.completion.health import BackendHealth


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def reader(text: str):  # type: ignore[no-untyped-def]
    return lambda a, b: text[max(0, a):max(0, b)]


def test_typed_through_returns_the_rest() -> None:
    cache = TypedThroughCache()
    text = "x = foo"
    cache.remember("u", reader(text), len(text), "(bar, baz)")
    typed = text + "(ba"
    assert cache.lookup("u", reader(typed), len(typed)) == "r, baz)"


def test_typed_through_misses_on_divergence_and_edits_above() -> None:
    cache = TypedThroughCache()
    text = "x = foo"
    cache.remember("u", reader(text), len(text), "(bar)")
    assert cache.lookup("u", reader(text + "[x"), len(text) + 2) is None
    assert cache.lookup("u", reader("y = foo("), 8) is None
    assert cache.lookup("u", reader(text + "(bar)"), len(text) + 5) is None  # fully typed


def test_lru_evicts_oldest() -> None:
    lru = LRUCache(capacity=2)
    lru.put("a", "1")
    lru.put("b", "2")
    assert lru.get("a") == "1"
    lru.put("c", "3")
    assert lru.get("b") is None and lru.get("a") == "1" and len(lru) == 2


def test_request_key_is_order_independent() -> None:
    assert request_key({"a": 1, "b": [1, 2]}) == request_key({"b": [1, 2], "a": 1})
    assert request_key({"a": 1}) != request_key({"a": 2})


def test_backoff_grows_honours_retry_after_and_notifies_once() -> None:
    clock = Clock()
    health = BackendHealth(clock=clock)
    assert health.record_failure("down") is True
    assert not health.allow_automatic()
    clock.t += 1.01
    assert health.allow_automatic()
    assert health.record_failure("down") is False
    assert 1.9 < health.backoff_remaining() <= 2.0
    assert health.record_failure("slow", retry_after=7) is False
    assert 6.9 < health.backoff_remaining() <= 7.0
    assert health.record_success() is True
    assert health.allow_automatic() and health.record_success() is False
    assert health.record_failure("down again") is True  # a new outage is shown again


def test_backoff_is_capped() -> None:
    health = BackendHealth(clock=Clock())
    for _ in range(20):
        health.record_failure("x")
    assert health.backoff_remaining() <= 30.0


def test_debounce_follows_typing_rhythm() -> None:
    clock = Clock()
    deb = AdaptiveDebounce(base_ms=120, clock=clock)
    assert deb.delay_s("u") == 0.12
    for _ in range(6):
        clock.t += 0.08
        deb.note_edit("u")
    assert abs(deb.delay_s("u") - 0.104) < 1e-6
    for _ in range(10):
        clock.t += 0.4
        deb.note_edit("u")
    assert deb.delay_s("u") == 0.3  # capped at 2.5 × base
    deb.base_ms = 0
    assert deb.delay_s("u") == 0.0
