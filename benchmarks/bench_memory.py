"""Peak memory of one Facebook fetch against pages of growing size.

    .venv/bin/python benchmarks/bench_memory.py [posts ...]

Serves one feed page holding N posts (each with one embedded comment)
through httpx.MockTransport and drains the connector as the pipeline would
(items and cursors of each batch kept), measuring the peak with tracemalloc.
Memory should grow with the page (linear in N), not with its square.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from connectors.facebook import FacebookConnector  # noqa: E402
from connectors.testing import Sleeps, drain  # noqa: E402
from monitor.core.settings import AccountConfig  # noqa: E402

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def page(posts: int) -> bytes:
    def t(minutes: int) -> str:
        return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S+0000")

    data = [{"id": f"1000_{n}", "created_time": t(n + 10), "message": f"post {n}",
             "comments": {"data": [{"id": f"1000_{n}_1", "created_time": t(n), "message": "a comment",
                                    "from": {"id": "7", "name": "A Parent"}}]}}
            for n in range(posts)]
    return json.dumps({"data": data}).encode()


def measure(posts: int) -> tuple[float, float, int]:
    body = page(posts)
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    acc = AccountConfig(platform="facebook", id="1000", token_env="T", api_base="https://graph.test/v21.0",
                        max_response_mb=1000)
    conn = FacebookConnector(acc, "t", client, lambda: NOW, sleep=Sleeps())
    tracemalloc.start()
    started = time.perf_counter()
    items = asyncio.run(drain(conn, {}))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, elapsed, len(items)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 3000, 6000]
    print(f"{'posts in one page':>18} {'items':>7} {'peak MB':>9} {'seconds':>8} {'MB per 1,000 posts':>19}")
    for n in sizes:
        mb, s, items = measure(n)
        print(f"{n:>18,} {items:>7,} {mb:>9.1f} {s:>8.2f} {mb / n * 1000:>19.2f}")


if __name__ == "__main__":
    main()
