"""Whole replicas against an imitation Graph API: three daemons in threads, and three in
processes with one killed by SIGKILL mid-poll, on one PostgreSQL database, with a real SMTP
server. Every flagged comment is alerted exactly once and no Page is read by two replicas at
once. The leases these rest on are tested one by one in test_replicas.py.
"""
from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import uvicorn
from sqlalchemy import func, select

from alerts.testing import free_port
from connectors.fakeserver import FakePages
from monitor.core.db import open_database
from monitor.core.models import Account, Item, OutboxMessage
from monitor.daemon import Jobs
from monitor.poll_leases import lease_ttl
from monitor.replica_drill import FLAG, audit, build, concurrent_requests, config_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Graph:
    """FakePages on a local uvicorn server; comments are added on the server's own loop."""

    def __init__(self, pages: int, latency: float, error_rate: float = 0.0):
        self.fake = FakePages(pages, latency=latency, error_rate=error_rate)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.fake, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", ws="none", http="h11"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True)
        self.posted: dict[str, str] = {}
        self.rng = random.Random(5)
        now = datetime.now(timezone.utc)
        self.posts = {pid: page.add_post(now - timedelta(hours=2)) for pid, page in self.fake.pages.items()}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.loop.close()

    def comment(self, n: int) -> None:
        """Comment n on a random Page: every fourth one flagged."""
        page_id = self.rng.choice(list(self.fake.pages))
        text = f"I saw a {FLAG} on her arm ({n})" if n % 4 == 0 else f"Lovely photos, thank you ({n})"
        done = threading.Event()

        def add():
            cid = self.fake.pages[page_id].add_comment(self.posts[page_id], datetime.now(timezone.utc), text)
            self.posted[cid] = text
            done.set()

        self.loop.call_soon_threadsafe(add)
        done.wait(5)


def settled(sessions, graph: Graph) -> bool:
    with sessions() as s:
        stored = s.scalar(select(func.count()).select_from(Item).where(Item.external_id.in_(list(graph.posted))))
        pending = s.scalar(select(func.count()).select_from(Item).where(Item.classified_at.is_(None)))
        unsent = s.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.state.in_(("pending", "sending"))))
    return stored == len(graph.posted) and not pending and not unsent


def wait_for(what, timeout: float, step: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step)
    return what()


def all_polled_once(sessions) -> bool:
    with sessions() as s:
        return not s.scalar(select(func.count()).select_from(Account).where(Account.last_success_at.is_(None)))


def received(smtp_server) -> list[tuple[str, list[str]]]:
    return [(msg["Message-ID"], rcpts) for _f, rcpts, msg in smtp_server.handler.messages]


def test_three_replica_threads_alert_every_flagged_comment_once_and_never_poll_one_page_at_once(
        pg_url, tmp_path, smtp_server, monkeypatch):
    monkeypatch.setenv("DRILL_PAGE_TOKEN", "page-token")
    with Graph(pages=6, latency=0.05, error_rate=0.05) as graph:
        path = config_file(tmp_path, "replica", db_url=pg_url, api_base=graph.base, pages=list(graph.fake.pages),
                           smtp_port=smtp_server.port, web_port=free_port(), poll_every=5)
        stop = threading.Event()

        def replica(rt) -> None:
            jobs = Jobs(rt)
            rt.tolerance, rt.leases.ttl = 0.5, lease_ttl(1.0)

            async def run():
                while not stop.is_set():
                    await jobs.tick()
                    await jobs.deliver()
                    await asyncio.sleep(0.5)
                await jobs.stop()
                await rt.aclose()

            asyncio.run(run())
            rt.sessions.dispose()

        # built one after another: alembic's migration context is not thread-safe (replicas are processes)
        threads = [threading.Thread(target=replica, args=(build(path, replica=f"r{n}"),)) for n in range(3)]
        for t in threads:
            t.start()
        db = open_database(pg_url)
        try:
            assert wait_for(lambda: all_polled_once(db), 60)
            for n in range(40):  # comments keep arriving while the replicas poll
                graph.comment(n)
                time.sleep(0.25)
            assert wait_for(lambda: settled(db, graph), 90), audit(db, graph.posted, received(smtp_server)).line()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        result = audit(db, graph.posted, received(smtp_server))
        db.dispose()
    assert result.exactly_once and result.delivered_twice == 0, result.line()
    assert concurrent_requests(graph.fake.requests) == 0  # never two replicas on one Page at once
    # (how the polls fall between replicas is not asserted: one that finishes first claims more)


def test_a_replica_killed_with_sigkill_mid_poll_loses_its_accounts_to_the_others_with_nothing_lost(
        pg_url, tmp_path, smtp_server, monkeypatch):
    monkeypatch.setenv("DRILL_PAGE_TOKEN", "page-token")
    with Graph(pages=6, latency=0.3) as graph:
        procs = []
        for n in range(3):
            path = config_file(tmp_path, f"replica{n}", db_url=pg_url, api_base=graph.base,
                               pages=list(graph.fake.pages), smtp_port=smtp_server.port, web_port=free_port(),
                               poll_every=5, settings=3)  # a group of three settings, two Pages each
            procs.append(subprocess.Popen([sys.executable, "-m", "monitor.replica_drill", "--config", str(path)],
                                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        db = open_database(pg_url)
        try:
            assert wait_for(lambda: all_polled_once(db), 90)
            victim, held, killed_at = None, [], None
            for n in range(40):
                graph.comment(n)
                if n == 12:  # SIGKILL a replica that is polling right now
                    victim, held, killed_at = kill_one_polling(db, procs)
                time.sleep(0.25)
            assert held, "no replica was caught mid-poll"
            assert wait_for(lambda: polled_since(db, held, killed_at), 30)  # taken over by the others
            assert wait_for(lambda: settled(db, graph), 90), audit(db, graph.posted, received(smtp_server)).line()
            result = audit(db, graph.posted, received(smtp_server))
            with db() as s:  # the dead replica's leases ran out and were taken: it holds nothing now
                stale = s.scalar(select(func.count()).select_from(Account)
                                 .where(Account.lease_holder.like(f"%:{victim.pid}:%")))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                p.communicate(timeout=30)
            db.dispose()
    assert result.exactly_once, result.line()
    assert stale == 0
    assert all(p.returncode == 0 for p in procs if p is not victim), [p.returncode for p in procs]


def kill_one_polling(db, procs):
    """SIGKILL the replica holding a poll lease now; (its process, the accounts it held, when)."""
    pids = {str(p.pid): p for p in procs}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with db() as s:
            rows = s.execute(select(Account.id, Account.lease_holder).where(Account.lease_holder.is_not(None))).all()
        for account_id, holder in rows:
            pid = holder.split(":")[1]
            if pid in pids:
                victim = pids[pid]
                victim.send_signal(signal.SIGKILL)
                killed_at = datetime.now(timezone.utc)
                victim.wait()
                return victim, [a for a, h in rows if h == holder], killed_at
        time.sleep(0.05)
    return None, [], None


def polled_since(db, accounts: list[int], since: datetime) -> bool:
    with db() as s:
        return all((s.get(Account, a, populate_existing=True).last_poll_at or since) > since for a in accounts)
