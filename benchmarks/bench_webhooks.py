"""Webhook latency: signed Meta `feed` events -> alert email accepted by SMTP.

    .venv/bin/python benchmarks/bench_webhooks.py [--rate 20] [--seconds 60] [--database URL]

Runs the daemon's real parts in one process, as `nurserywatch run` does: the
Starlette app under uvicorn on 127.0.0.1 (POST /webhooks/meta), the webhook
processor task, the real classifier, SQLite in a temp dir (or --database), a
local imitation of the Graph API (uvicorn, one comment per id) and a local
SMTP server (aiosmtpd). A sender thread posts `--rate` signed events a second
for `--seconds`, each announcing a new comment (ids only, as Meta sends them)
that reads as a safeguarding disclosure. For each comment it measures the
time from sending the event to the first alert email about it being accepted
by SMTP, and prints p50, p95 and max (goal: p95 under 10 s), with the HTTP
answer times of the webhook endpoint itself.
"""
from __future__ import annotations

import argparse
from email import message_from_bytes, policy
import asyncio
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from monitor.core.models import Alert, Item, OutboxMessage, WebhookEvent  # noqa: E402
from monitor.core.settings import config_from_dict  # noqa: E402
from monitor.daemon import Jobs, make_web_server  # noqa: E402
from monitor.runtime import build_runtime  # noqa: E402
from monitor.web.webhooks import sign  # noqa: E402

SECRET, PAGE, POST = "bench-app-secret", "1000", "1000_2001"
TEXT = "Amelia came home with a bruise on her arm and said a member of staff grabbed her. ref {n}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graph_app(comments: dict[str, dict]) -> Starlette:
    async def node(request: Request):
        obj = request.path_params["obj"]
        if obj in comments:
            return JSONResponse(comments[obj])
        return JSONResponse({"error": {"message": "(#100) Object does not exist", "code": 100}}, status_code=400)

    return Starlette(routes=[Route("/v21.0/{obj}", node)])


class Timing:
    """SMTP handler: when the first email naming each ref was accepted."""

    def __init__(self):
        self.accepted: dict[int, float] = {}
        self.emails = 0

    async def handle_DATA(self, server, session, envelope):
        self.emails += 1
        text = message_from_bytes(envelope.content, policy=policy.default).get_body(("plain",)).get_content()
        m = re.search(r"ref\W*(\d+)", text)
        if m:
            self.accepted.setdefault(int(m.group(1)), time.monotonic())
        return "250 Message accepted for delivery"


def start_thread_server(app, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def send_events(url: str, comments: dict, rate: float, seconds: float, sent: dict, answers: list) -> None:
    total = int(rate * seconds)
    start = time.monotonic()
    with httpx.Client(timeout=10) as client:
        for n in range(total):
            due = start + n / rate
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            cid = f"2001_{30000 + n}"
            comments[cid] = {"id": cid, "message": TEXT.format(n=n), "created_time": datetime.now(timezone.utc)
                             .strftime("%Y-%m-%dT%H:%M:%S+0000"), "from": {"id": "77", "name": "A Parent"},
                             "can_hide": True, "is_hidden": False}
            body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": int(time.time()), "changes": [
                {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": cid, "post_id": POST,
                                            "parent_id": POST, "created_time": int(time.time())}}]}]}).encode()
            sent[n] = time.monotonic()
            t0 = time.monotonic()
            try:
                resp = client.post(url, content=body, headers={"x-hub-signature-256": sign(SECRET, body),
                                                                "content-type": "application/json"})
            except httpx.HTTPError as err:
                print(f"event {n}: {type(err).__name__}", file=sys.stderr)
                continue
            answers.append(time.monotonic() - t0)
            if resp.status_code != 200:
                print(f"event {n}: HTTP {resp.status_code}", file=sys.stderr)


STAGES: dict[str, list[float]] = {}


def timed(module, name: str) -> None:
    """Record how long each call of module.name takes (stage times for the report)."""
    inner = getattr(module, name)
    if asyncio.iscoroutinefunction(inner):
        async def wrapper(*a, **kw):
            t = time.monotonic()
            try:
                return await inner(*a, **kw)
            finally:
                STAGES.setdefault(name, []).append(time.monotonic() - t)
    else:
        def wrapper(*a, **kw):
            t = time.monotonic()
            try:
                return inner(*a, **kw)
            finally:
                STAGES.setdefault(name, []).append(time.monotonic() - t)
    setattr(module, name, wrapper)


async def run(args) -> None:
    import monitor.webhook_events as events

    for name in ("process_due", "classify_pending", "deliver"):
        timed(events, name)
    tmp = Path(tempfile.mkdtemp(prefix="nw-bench-webhooks-"))
    os.environ.update({"NURSERYWATCH_SECRET_KEY": "bench-secret-key-0123456789abcdef", "FB_TOKEN": "page-token",
                       "META_APP_SECRET": SECRET, "META_VERIFY_TOKEN": "bench-verify"})
    comments: dict[str, dict] = {}
    graph_port, web_port = free_port(), free_port()
    graph = start_thread_server(graph_app(comments), graph_port)
    timing = Timing()
    smtp = Controller(timing, hostname="127.0.0.1", port=free_port())
    smtp.start()
    config = config_from_dict({
        "setting": {"name": "Willowbrook Day Nursery", "town": "Hadleigh"},
        "roster": {"children": ["Amelia Hart"], "staff": ["Sarah Jones"]},
        "database": {"url": args.database or f"sqlite:///{tmp}/bench.db"},
        "email": {"from": "nurserywatch@example.org", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                  "smtp_starttls": False},
        "recipients": [{"name": "Jo Manager", "email": "manager@example.org", "roles": ["manager", "admin"]},
                       {"name": "Sam Lead", "email": "dsl@example.org", "roles": ["dsl"]}],
        "accounts": [{"platform": "facebook", "id": PAGE, "token_env": "FB_TOKEN",
                      "api_base": f"http://127.0.0.1:{graph_port}/v21.0"}],
        "webhooks": {"meta": {}},
    }, "bench")
    rt = build_runtime(config)
    jobs = Jobs(rt)
    server = make_web_server(rt, "127.0.0.1", web_port, jobs.webhook_wake.set)
    processor = asyncio.create_task(jobs.webhooks())
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)

    sent: dict[int, float] = {}
    answers: list[float] = []
    total = int(args.rate * args.seconds)
    print(f"sending {total} signed events at {args.rate}/s for {args.seconds:.0f} s ...", flush=True)
    sender = threading.Thread(target=send_events, args=(f"http://127.0.0.1:{web_port}/webhooks/meta", comments,
                                                        args.rate, args.seconds, sent, answers))
    sender.start()
    while sender.is_alive():
        await asyncio.sleep(0.2)
    deadline = time.monotonic() + 120
    while len(timing.accepted) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.2)

    jobs.stopping = True
    jobs.webhook_wake.set()
    await processor
    with rt.sessions() as session:
        counts = {m.__tablename__: session.scalar(select(func.count()).select_from(m))
                  for m in (WebhookEvent, Item, Alert)}
        pending = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state != "sent"))
    server.should_exit = True
    await serving
    await rt.aclose()
    smtp.stop()
    graph.should_exit = True

    latencies = [timing.accepted[n] - sent[n] for n in sent if n in timing.accepted]
    missing = sorted(set(sent) - set(timing.accepted))
    print(f"stored: {counts}; emails not sent: {pending}" + (f"; no email for refs {missing[:10]}" if missing else ""))
    print(f"events sent: {len(sent)}; alert emails accepted by SMTP: {timing.emails} "
          f"(comments alerted: {len(latencies)}, missing: {len(sent) - len(latencies)})")
    if latencies:
        print(f"receipt -> SMTP acceptance: p50 {percentile(latencies, 50):.2f} s, "
              f"p95 {percentile(latencies, 95):.2f} s, max {max(latencies):.2f} s "
              f"(goal: p95 < 10 s) {'OK' if percentile(latencies, 95) < 10 else 'MISSED'}")
    for name, times in STAGES.items():
        print(f"  stage {name}: {len(times)} calls, {sum(times):.1f} s in all, longest {max(times):.2f} s")
    if answers:
        print(f"webhook HTTP answer: p50 {statistics.median(answers) * 1000:.0f} ms, "
              f"p95 {percentile(answers, 95) * 1000:.0f} ms, max {max(answers) * 1000:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--database", help="a database URL (default: SQLite in a temp dir)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
