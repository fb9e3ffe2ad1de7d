"""The shared pieces: paging links re-based, times parsed, backoff bounded, pager guards."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from connectors.base import TemporaryFailure
from connectors.http import Pager, RetryPolicy, parse_time, rebase
from connectors.watermark import OVERLAP, Watermark


def test_next_links_follow_the_configured_base_without_the_token():
    link = "https://graph.facebook.com/v19.0/1_2/comments?access_token=SECRET&limit=25&after=QVF"
    out = rebase(link, "http://127.0.0.1:9/v21.0", limit=100)
    assert out.startswith("http://127.0.0.1:9/v21.0/1_2/comments?")
    assert "SECRET" not in out and "after=QVF" in out and "limit=100" in out and "limit=25" not in out


@pytest.mark.parametrize("text", ["2021-08-10T18:45:03+0000", "2021-08-10T18:45:03.000Z", "2021-08-10T18:45:03Z",
                                  "2021-08-10T18:45:03.000000001Z"])
def test_platform_times_parse_to_aware_utc(text):
    assert parse_time(text).replace(microsecond=0) == datetime(2021, 8, 10, 18, 45, 3, tzinfo=timezone.utc)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy, rng = RetryPolicy(base_delay=1, max_delay=30), random.Random(1)
    for attempt, (low, high) in enumerate([(0.5, 1), (1, 2), (2, 4), (4, 8), (8, 16), (15, 30), (15, 30)]):
        delays = {policy.delay(attempt, rng) for _ in range(50)}
        assert all(low <= d <= high for d in delays) and len(delays) > 1


def test_the_pager_stops_loops_and_endless_empty_pages():
    pager = Pager("t")
    assert pager.advance("a", False) == "a"
    with pytest.raises(TemporaryFailure):
        pager.advance("a", False)
    assert Pager("t").advance(None, True) is None


def test_the_watermark_keeps_same_second_items_apart():
    t = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    mark = Watermark().advanced([("a", t), ("b", t - OVERLAP * 2)])
    assert not mark.is_new("a", t) and mark.is_new("c", t) and mark.is_older(t - OVERLAP * 3)
    assert Watermark.load(mark.dump()) == mark
