"""Requests per cycle and ingest time for the Facebook connector against a local fake Graph API.

    .venv/bin/python benchmarks/bench_connectors.py

Serves connectors.fakeserver on 127.0.0.1 over real HTTP (uvicorn) and runs
the pipeline's poll step (fetch + store into SQLite in a temp dir; the
classifier stage is not part of ingest and is not run). Prints, for a quiet page and a busy
page (100 posts, 2,000 comments): requests in the first cycle, in a cycle
with nothing new, in a cycle with a few new comments, and the time to ingest.
"""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from connectors.fakeserver import FakePage, busy_page, make_app  # noqa: E402
from monitor.core.models import Item  # noqa: E402
from connectors.testing import drain  # noqa: E402
from monitor.pipeline import poll_account  # noqa: E402
from monitor.runtime import build_runtime  # noqa: E402
from monitor.core.settings import config_from_dict  # noqa: E402
from monitor.core.types import Classification, CycleReport  # noqa: E402


class Quiet:
    def classify(self, text, platform=None, rating=None):
        return Classification()

    def classify_batch(self, items):
        return [Classification() for _ in items]


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def serve(world: FakePage) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(world), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="none", http="h11"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}/v21.0"


async def scenario(name: str, world: FakePage, clock: Clock, tmp: Path) -> None:
    server, base = serve(world)
    os.environ["BENCH_FB_TOKEN"] = world.token
    config = config_from_dict({
        "setting": {"name": "Benchmark Nursery"},
        "database": {"url": f"sqlite:///{tmp / name}.db"},
        "email": {"outbox_dir": str(tmp / "outbox")},
        "accounts": [{"platform": "facebook", "id": world.page_id, "token_env": "BENCH_FB_TOKEN", "api_base": base}],
    })
    rt = build_runtime(config, clock=clock, classifier=Quiet())
    (account_id, connector), = rt.connectors.items()

    async def ingest() -> tuple[int, CycleReport, float]:
        """One poll of the account: fetch and store (classification is another stage)."""
        report = CycleReport()
        before, t0 = world.requests, time.perf_counter()
        await poll_account(rt, account_id, connector, report, only_due=False)
        return world.requests - before, report, time.perf_counter() - t0

    try:
        before, t0 = world.requests, time.perf_counter()
        fetched = await drain(connector, {})  # the connector alone, nothing stored
        fetch_requests, fetch_time = world.requests - before, time.perf_counter() - t0
        first, report, elapsed = await ingest()
        with rt.sessions() as s:
            stored = s.scalar(select(func.count()).select_from(Item))
        clock.now += timedelta(minutes=5)
        quiet, _, quiet_time = await ingest()
        posts = list(world.posts)
        for n in range(20):  # new comments scattered over old and new posts
            world.add_comment(posts[(n * 7) % len(posts)], clock.now - timedelta(seconds=10), f"new {n}")
        clock.now += timedelta(minutes=5)
        some, r3, some_time = await ingest()
        print(f"{name}: {len(world.posts)} posts, {sum(map(len, world.comments.values())) - 20} comments")
        print(f"  fetch only (no store):   {fetch_requests:4d} requests, {len(fetched)} items in {fetch_time:.2f} s")
        print(f"  first cycle (ingest):    {first:4d} requests, {report.stored} stored ({stored} rows) in {elapsed:.2f} s")
        print(f"  cycle with nothing new:  {quiet:4d} requests in {quiet_time:.2f} s")
        print(f"  cycle with 20 new:       {some:4d} requests, {r3.stored} stored in {some_time:.2f} s")
    finally:
        await rt.aclose()
        server.should_exit = True


def main() -> None:
    os.environ.setdefault("NURSERYWATCH_SECRET_KEY", "benchmark-secret-key-0123456789")
    now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        quiet_page = FakePage()
        for i in range(12):  # about one post a week over the 90-day window
            pid = quiet_page.add_post(now - timedelta(days=7 * i + 1), f"Post {i}")
            for j in range(3):
                quiet_page.add_comment(pid, now - timedelta(days=7 * i, minutes=-j), f"Comment {j}")
        asyncio.run(scenario("quiet page", quiet_page, Clock(now), tmp))
        asyncio.run(scenario("busy page", busy_page(100, 2000, now=now), Clock(now), tmp))


if __name__ == "__main__":
    main()
