"""`devstral/usage`: tokens, requests and USD today and this session, overall and per feature,
with the daily budget (shape: see `usage.accounting.UsageAccounting.report`)."""

from __future__ import annotations

from typing import Any

from ..server import DevstralServer

USAGE_METHOD = "devstral/usage"


def register(server: DevstralServer) -> None:
    @server.feature(USAGE_METHOD)
    def usage(ls: DevstralServer, params: Any) -> dict[str, Any]:
        ls.budget_refusal()  # the status follows a budget raised or a new day
        return ls.usage.report()
