"""Usage accounting cores: wire parsing, prices, totals, the private state file, the budget,
the status state machine and the per-provider request fields."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from lsp_server.features.status import StatusTracker
from lsp_server.model.quirks import prompt_cache_key, provider_fields
from lsp_server.usage.accounting import UsageAccounting
from lsp_server.usage.meter import Totals, Usage, estimate_usage, usage_from_wire
from lsp_server.usage.prices import FREE, Price, parse_price, price_for
from lsp_server.usage.store import UnsafeStateDir, UsageStore, state_dir


def test_usage_from_wire_reads_cached_tokens_and_absence() -> None:
    raw = {"prompt_tokens": 1000, "completion_tokens": 20,
           "prompt_tokens_details": {"cached_tokens": 896}}
    assert usage_from_wire(raw) == Usage(1000, 20, 896)
    assert usage_from_wire({"prompt_tokens": 5, "completion_tokens": 1}) == Usage(5, 1, 0)
    assert usage_from_wire(None) is None
    assert usage_from_wire({"total_tokens": 3}) is None
    # A server claiming more cached than sent is clamped; garbage counts as 0.
    assert usage_from_wire({"prompt_tokens": 10, "completion_tokens": "x",
                            "prompt_tokens_details": {"cached_tokens": 64}}) == Usage(10, 0, 10)


def test_estimate_counts_with_tekken_and_says_so() -> None:
    usage = estimate_usage("def add(a, b):\n    return a + b\n", "a + b")
    assert usage.estimated and 5 < usage.prompt_tokens < 20 and 1 <= usage.completion_tokens <= 4


@pytest.mark.parametrize(("provider", "model", "price"), [
    ("mistral", "mistral-small-2603", Price(0.15, 0.015, 0.60)),
    ("mistral", "mistral-small-latest", Price(0.15, 0.015, 0.60)),
    ("mistral", "codestral-2508", Price(0.30, 0.03, 0.90)),
    ("codestral", "codestral-latest", Price(0.30, 0.03, 0.90)),
    ("openrouter", "mistralai/devstral-2512", Price(0.40, 0.40, 2.00)),
    ("bazaarlink", "mistralai/devstral-small", Price(100.0, 100.0, 300.0)),
    ("ollama", "devstral-small-2", FREE),
    ("llamacpp", "anything", FREE),
    ("vllm", "mistralai/Devstral-Small-2-24B-Instruct-2512", FREE),
])
def test_price_table(provider: str, model: str, price: Price) -> None:
    assert price_for(provider, model) == (price, True)


def test_unknown_model_is_free_but_flagged_and_overrides_win() -> None:
    assert price_for("openai", "gpt-x") == (FREE, False)
    overrides = {"gpt": {"input": 1.0, "output": 4.0},
                 "gpt-x-mini": {"input": 0.5, "cachedInput": 0.05, "output": 2.0}}
    assert price_for("openai", "gpt-x", overrides) == (Price(1.0, 1.0, 4.0), True)
    assert price_for("openai", "gpt-x-mini-1", overrides) == (Price(0.5, 0.05, 2.0), True)
    assert price_for("ollama", "gpt-q", overrides)[0] == Price(1.0, 1.0, 4.0)


def test_parse_price_rejects_bad_entries() -> None:
    for bad in ({"input": 1}, {"input": -1, "output": 1}, {"input": True, "output": 1},
                {"input": 1, "output": 1, "extra": 2}, [1, 2]):
        with pytest.raises(ValueError):
            parse_price(bad)


def test_cached_tokens_billed_at_the_cached_price() -> None:
    mistral = price_for("mistral", "mistral-small-latest")[0]
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=500_000)
    assert mistral.cost(usage) == pytest.approx(0.5 * 0.15 + 0.5 * 0.015 + 0.1 * 0.60)
    bazaar = price_for("bazaarlink", "mistralai/devstral-small")[0]
    assert bazaar.cost(Usage(1000, 1000)) == pytest.approx(0.10 + 0.30)


def test_totals_wire_shape_matches_the_contract() -> None:
    totals = Totals.empty()
    totals.add("completion", Usage(100, 10, 64), 0.001)
    totals.add("agent", Usage(50, 5, 0, estimated=True), 0.002)
    wire = totals.to_wire()
    assert set(wire) == {"requests", "tokensIn", "tokensCached", "tokensOut", "usd",
                         "estimated", "byFeature"}
    assert set(wire["byFeature"]) == {"completion", "action", "agent", "nextEdit"}
    assert wire["requests"] == 2 and wire["tokensIn"] == 150 and wire["tokensCached"] == 64
    assert wire["estimated"] is True and wire["byFeature"]["completion"]["estimated"] is False
    assert wire["usd"] == pytest.approx(0.003)
    assert set(wire["byFeature"]["agent"]) == set(wire) - {"byFeature"}
    assert Totals.from_wire(json.loads(json.dumps(wire))).to_wire() == wire


def test_store_is_private_atomic_and_adds_across_sessions(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "devstral-lsp"
    a, b = UsageStore(directory), UsageStore(directory)
    one = Totals.empty()
    one.add("completion", Usage(10, 2), 0.5)
    a.add("2026-12-02", one)
    b.add("2026-12-02", one)
    assert a.day("2026-12-02").all.requests == 2
    assert a.day("2026-12-02").all.usd == pytest.approx(1.0)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(a.path).st_mode) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == [".lock", "usage.json"]


def test_store_refuses_a_symlinked_file_and_a_symlinked_dir(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    directory.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    (directory / "usage.json").symlink_to(elsewhere)
    with pytest.raises(UnsafeStateDir):
        UsageStore(directory).day("2026-12-02")
    with pytest.raises(UnsafeStateDir):
        UsageStore(directory).add("2026-12-02", Totals.empty())
    assert elsewhere.read_text() == "{}"
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UnsafeStateDir):
        UsageStore(tmp_path / "link").add("2026-12-02", Totals.empty())


def test_store_tightens_its_dir_and_survives_a_damaged_file(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    directory.mkdir(mode=0o755)
    (directory / "usage.json").write_text("{not json")
    store = UsageStore(directory)
    assert store.day("2026-12-02").all.requests == 0
    store.add("2026-12-02", Totals.empty())
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_state_dir_follows_xdg(tmp_path: Path) -> None:
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "devstral-lsp"
    assert state_dir({"XDG_STATE_HOME": "relative"}).parts[-3:] == (
        ".local", "state", "devstral-lsp")


def _accounting(tmp_path: Path, budget: float | None, day: list[str]) -> UsageAccounting:
    return UsageAccounting(UsageStore(tmp_path / "s"), provider=lambda: "mistral",
                           prices=lambda: None, budget_usd=lambda: budget,
                           day=lambda: day[0])


def test_budget_counts_every_session_of_the_day_and_resets_at_midnight(tmp_path: Path) -> None:
    day = ["2026-12-02"]
    other = _accounting(tmp_path, 0.01, day)
    other.record("completion", "mistral-small-latest", Usage(40_000, 0))  # $0.006
    other.flush()
    mine = _accounting(tmp_path, 0.01, day)
    assert not mine.budget_reached()
    mine.record("action", "mistral-small-latest", Usage(30_000, 0))  # $0.0045: $0.0105 today
    assert mine.budget_reached()
    assert "budget of $0.01 is reached" in (mine.budget_message() or "")
    report = mine.report()
    assert report["budgetReached"] is True and report["dailyBudgetUsd"] == 0.01
    assert report["today"]["requests"] == 2 and report["session"]["requests"] == 1
    assert report["session"]["byFeature"]["action"]["requests"] == 1
    day[0] = "2026-12-03"
    assert not mine.budget_reached()
    assert mine.report()["today"]["requests"] == 0
    assert UsageStore(tmp_path / "s").day("2026-12-02").all.requests == 2


def test_unsafe_state_dir_keeps_session_totals(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "s").symlink_to(target)
    acc = _accounting(tmp_path, None, ["2026-12-02"])
    acc.record("completion", "mistral-small-latest", Usage(10, 1))
    acc.flush()
    assert acc.store is None and acc.report()["session"]["requests"] == 1
    assert list(target.iterdir()) == []


def test_status_transitions_and_dedup() -> None:
    sent: list[dict[str, Any]] = []
    st = StatusTracker(sent.append)
    st.call_started()
    st.call_finished()
    st.answered()
    assert [s["state"] for s in sent] == ["busy", "ready"]
    st.call_started()
    st.failed("Devstral: http://x/v1 failed (HTTP 503): overloaded")
    st.call_finished()
    assert sent[-1] == {"kind": "Error", "state": "error", "busy": False,
                        "message": "Devstral: http://x/v1 failed (HTTP 503): overloaded"}
    st.backoff(2.0)
    assert sent[-1]["state"] == "paused" and sent[-1]["kind"] == "Warning"
    st.call_started()
    st.answered()
    st.call_finished()
    assert [s["state"] for s in sent[-3:]] == ["paused", "busy", "ready"]
    st.set_budget("budget reached")
    st.set_budget("budget reached")
    assert sent[-1]["state"] == "paused" and sent[-2]["state"] == "ready"
    st.set_inactive("ignored by .devstralignore")
    assert sent[-1]["kind"] == "Inactive"
    st.set_budget(None)
    st.call_started()
    assert sent[-1]["state"] == "busy"


def test_status_held_until_announced() -> None:
    sent: list[dict[str, Any]] = []
    st = StatusTracker(sent.append, held=True)
    st.set_budget(None)
    st.call_started()
    st.call_finished()
    assert sent == []
    st.set_budget("budget reached")
    st.announce()  # what changed while held is in the first status
    assert [s["state"] for s in sent] == ["paused"]
    st.announce()
    st.set_budget(None)
    assert [s["state"] for s in sent] == ["paused", "ready"]


def test_provider_fields_by_preset() -> None:
    scope = "/home/alice/secret-project"
    for provider in ("mistral", "codestral", "openai", "openrouter"):
        fields = provider_fields(provider, scope=scope, role="completion", stream=True)
        assert fields["prompt_cache_key"] == prompt_cache_key(scope, "completion")
        assert fields["stream_options"] == {"include_usage": True}
        assert "cache_prompt" not in fields
    assert provider_fields("llamacpp", scope=scope, role="agent", stream=False) == {
        "cache_prompt": True}
    for provider in ("vllm", "ollama", "lmstudio", "bazaarlink"):
        assert provider_fields(provider, scope=scope, role="agent", stream=False) == {}
    key = prompt_cache_key(scope, "completion")
    assert key == prompt_cache_key(scope, "completion")
    assert key != prompt_cache_key(scope, "agent") != prompt_cache_key("/other", "agent")
    assert "alice" not in key and "/" not in key and len(key) == 37
