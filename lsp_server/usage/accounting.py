"""The usage service: prices each answered call, keeps the meter, the state file and the
daily budget; answers `devstral/usage` and `devstral-lsp usage`.

The state file is written at most about once a second (and at shutdown and on each usage
request), not once per completion. A state directory that is not private disables persistence
with one warning; the session totals still work.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .meter import Meter, Totals, Usage
from .prices import price_for
from .store import UnsafeStateDir, UsageStore

log = logging.getLogger(__name__)


def today_local() -> str:
    return datetime.date.today().isoformat()


class UsageAccounting:
    def __init__(
        self,
        store: UsageStore | None,
        *,
        provider: Callable[[], str],
        prices: Callable[[], Mapping[str, Any] | None],
        budget_usd: Callable[[], float | None],
        day: Callable[[], str] = today_local,
    ) -> None:
        self.store = store
        self._provider = provider
        self._prices = prices
        self._budget = budget_usd
        self._day = day
        self._unpriced: set[tuple[str, str]] = set()
        self.meter = Meter(today=day(), stored_today=self._load(day()))

    def _load(self, day: str) -> Totals:
        if self.store is None:
            return Totals.empty()
        try:
            return self.store.day(day)
        except (UnsafeStateDir, OSError) as exc:
            self._disable(exc)
            return Totals.empty()

    def _disable(self, exc: Exception) -> None:
        log.warning("usage totals are not persisted: %s", exc)
        self.store = None

    def record(self, feature: str, model: str, usage: Usage, provider: str | None = None
               ) -> float:
        """Price and count one answered call (on `provider`, default the main endpoint's);
        return its cost in USD."""
        provider = provider or self._provider()
        price, known = price_for(provider, model, self._prices())
        if not known and (provider, model) not in self._unpriced:
            self._unpriced.add((provider, model))
            log.info("no price known for %s on %s: counted as $0 (set `prices` to fix)",
                     model, provider)
        usd = price.cost(usage)
        self._roll()
        self.meter.record(feature, usage, usd)
        return usd

    def _roll(self) -> None:
        """After midnight: yesterday's pending totals go to yesterday, today starts from what
        other sessions stored."""
        today = self._day()
        if today != self.meter.day:
            self.flush()
            self.meter.roll(today, self._load(today))

    def flush(self) -> None:
        """Add what this session counted since the last flush to the state file."""
        pending = self.meter.take_pending()
        if self.store is None or not pending.all.requests:
            return
        day = self.meter.day
        try:
            self.meter.stored(day, self.store.add(day, pending))
        except (UnsafeStateDir, OSError) as exc:
            self.meter.stored_today.merge(pending)
            self._disable(exc)

    def budget_usd(self) -> float | None:
        return self._budget()

    def budget_reached(self) -> bool:
        budget = self._budget()
        if budget is None:
            return False
        self._roll()
        return self.meter.today().all.usd >= budget

    def budget_message(self) -> str | None:
        if not self.budget_reached():
            return None
        return (f"Devstral: today's budget of ${self._budget():.2f} is reached "
                f"(${self.meter.today().all.usd:.2f} spent); raise `dailyBudgetUsd` to go on")

    def report(self) -> dict[str, Any]:
        """The `devstral/usage` result (see RULES: today, session, dailyBudgetUsd,
        budgetReached)."""
        self.flush()
        return {"today": self.meter.today().to_wire(), "session": self.meter.session.to_wire(),
                "dailyBudgetUsd": self._budget(), "budgetReached": self.budget_reached()}
