"""One polling pass over many accounts against a slow imitation Graph API.

    .venv/bin/python benchmarks/bench_polling.py [--facebook 350] [--instagram 150] [--delay 0.5]

A local server (uvicorn on 127.0.0.1) answers every Graph request after
`--delay` seconds (an empty feed, an empty media list, no tags) and counts
the requests in flight per platform (told apart by token). The pipeline's
`run_cycle` polls all accounts once (SQLite in a temp dir, classifier not
run). Prints the pass's wall time (goal: 500 accounts at 0.5 s a request in
under 60 s) and, per platform, the most requests the server saw at once and
the most polls the limiter let run at once, against the configured limit.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from monitor.core.settings import config_from_dict  # noqa: E402
from monitor.core.types import Classification  # noqa: E402
from monitor.limits import PollLimits  # noqa: E402
from monitor.pipeline import run_cycle  # noqa: E402
from monitor.runtime import build_runtime  # noqa: E402


class Quiet:
    def classify(self, text, platform=None, rating=None):
        return Classification()

    def classify_batch(self, items):
        return [Classification() for _ in items]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slow_graph(delay: float, in_flight: dict, peak: dict, requests: dict) -> Starlette:
    async def node(request: Request):
        platform = "instagram" if request.headers.get("authorization", "").endswith("ig-token") else "facebook"
        in_flight[platform] += 1
        peak[platform] = max(peak[platform], in_flight[platform])
        requests[platform] += 1
        try:
            await asyncio.sleep(delay)
            return JSONResponse({"data": []}, headers={"X-App-Usage": '{"call_count": 1, "total_cputime": 1, "total_time": 1}'})
        finally:
            in_flight[platform] -= 1

    return Starlette(routes=[Route("/v21.0/{obj}/{edge}", node)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--facebook", type=int, default=350)
    p.add_argument("--instagram", type=int, default=150)
    p.add_argument("--delay", type=float, default=0.5)
    p.add_argument("--database", help="a database URL (default: SQLite in a temp dir)")
    args = p.parse_args()

    in_flight, peak, requests = defaultdict(int), defaultdict(int), defaultdict(int)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(slow_graph(args.delay, in_flight, peak, requests), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off", backlog=4096))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)

    tmp = Path(tempfile.mkdtemp(prefix="nw-bench-polling-"))
    os.environ.update({"NURSERYWATCH_SECRET_KEY": "bench-secret-key-0123456789abcdef", "FB_TOKEN": "fb-token",
                       "IG_TOKEN": "ig-token"})
    base = f"http://127.0.0.1:{port}/v21.0"
    accounts = [{"platform": "facebook", "id": str(10_000 + n), "token_env": "FB_TOKEN", "api_base": base}
                for n in range(args.facebook)]
    accounts += [{"platform": "instagram", "id": str(20_000 + n), "token_env": "IG_TOKEN", "api_base": base}
                 for n in range(args.instagram)]
    config = config_from_dict({
        "setting": {"name": "A Nursery Group"},
        "database": {"url": args.database or f"sqlite:///{tmp}/bench.db"},
        "email": {"outbox_dir": str(tmp / "outbox")},
        "accounts": accounts,
    }, "bench")
    rt = build_runtime(config, classifier=Quiet())
    limits = PollLimits(config.concurrency)

    async def one_pass():
        t = time.monotonic()
        report = await run_cycle(rt, limits=limits)
        took = time.monotonic() - t
        await rt.aclose()
        return report, took

    report, took = asyncio.run(one_pass())
    server.should_exit = True
    total = args.facebook + args.instagram
    print(f"{total} accounts ({args.facebook} facebook, {args.instagram} instagram), {args.delay:.1f} s per request: "
          f"one full pass in {took:.1f} s (goal < 60 s) {'OK' if took < 60 else 'MISSED'}; "
          f"failed accounts: {len(report.failed_accounts)}")
    for platform in ("facebook", "instagram"):
        limit = limits.platform_limit(platform)
        print(f"  {platform}: {requests[platform]} requests; at most {peak[platform]} in flight at the server, "
              f"{limits.peak['platform:' + platform]} polls at once; limit {limit} "
              f"{'OK' if peak[platform] <= limit else 'EXCEEDED'}")
    print(f"  all platforms: at most {limits.peak['total']} polls at once (limit {config.concurrency.total})")


if __name__ == "__main__":
    main()
