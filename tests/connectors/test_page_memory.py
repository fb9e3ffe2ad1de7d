"""Memory grows with the page, not its square (issue 9: a copy of the `seen`
map per post took 649 MB for 6,000 posts). Measured with tracemalloc, which
counts allocations, so the figure does not depend on the machine's speed;
benchmarks/bench_memory.py prints the figures for larger pages."""
from __future__ import annotations

import asyncio
import json
import tracemalloc
from datetime import datetime, timedelta, timezone

import httpx

from connectors.facebook import FacebookConnector
from connectors.testing import Sleeps, drain
from monitor.core.settings import AccountConfig

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _page(posts: int) -> bytes:
    def t(minutes: int) -> str:
        return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S+0000")

    return json.dumps({"data": [
        {"id": f"1000_{n}", "created_time": t(n + 10), "message": f"post {n}",
         "comments": {"data": [{"id": f"1000_{n}_1", "created_time": t(n), "message": "a comment",
                                "from": {"id": "7", "name": "A Parent"}}]}}
        for n in range(posts)
    ]}).encode()


def _peak_bytes(posts: int) -> int:
    body = _page(posts)
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    acc = AccountConfig(platform="facebook", id="1000", token_env="T", api_base="https://graph.test/v21.0")
    conn = FacebookConnector(acc, "t", client, lambda: NOW, sleep=Sleeps())
    tracemalloc.start()
    try:
        items = asyncio.run(drain(conn, {}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(items) == 2 * posts
    return peak


def test_four_times_the_posts_in_one_page_take_about_four_times_the_memory_not_sixteen():
    small, large = _peak_bytes(400), _peak_bytes(1600)
    assert large / small < 8, f"{small / 2**20:.1f} MB -> {large / 2**20:.1f} MB"
