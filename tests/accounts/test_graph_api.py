from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timezone

import httpx

from connectors.meta import MetaPacer
from monitor.core.graph_api import GRAPH_BASE, GRAPH_VERSION, GRAPH_VERSIONS, currency_warning, end_of_life, version_in


def test_the_pinned_version_is_supported_until_at_least_2028():
    assert end_of_life(GRAPH_VERSION) >= date(2028, 1, 1)
    assert version_in(GRAPH_BASE) == GRAPH_VERSION


def test_the_admin_is_warned_sixty_days_before_the_end_of_life_and_not_before():
    until = end_of_life("v21.0")
    assert currency_warning("v21.0", date(2026, 11, 21)) is None  # 61 days before
    warning = currency_warning("v21.0", date(2026, 11, 22))
    assert "21 January 2027" in warning and "60 days" in warning
    assert "reached its end of life" in currency_warning("v21.0", until)
    assert "not in nurserywatch's version table" in currency_warning("v9.0", date(2026, 11, 30))
    assert all(v.startswith("v") for v in GRAPH_VERSIONS)


def test_a_different_served_version_is_logged_once(caplog):
    pacer = MetaPacer(lambda: datetime(2026, 11, 30, tzinfo=timezone.utc), asyncio.sleep, pinned="v25.0")
    answer = httpx.Response(200, headers={"facebook-api-version": "v23.0"})
    with caplog.at_level(logging.WARNING, logger="connectors.meta"):
        pacer.observe(answer)
        pacer.observe(answer)
        pacer.observe(httpx.Response(200, headers={"facebook-api-version": "v25.0"}))
    assert [r.getMessage() for r in caplog.records].count(
        "Graph API answered as v23.0 although v25.0 is pinned (an expired version is served by the oldest "
        "available one): upgrade nurserywatch") == 1
