"""The fault suite, small enough for CI (benchmarks/fault_suite.py is the long
version): kill -9 mid-ingest, PostgreSQL connections cut, SQLite locked, SMTP
down for a simulated day, the disk full. After each: every comment stored
once, every flagged comment alerted once, every email delivered."""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, event, select, text

from alerts.testing import ScriptedHandler, free_port
from monitor.core.db import normalise_url
from monitor.core.models import Alert, Item
from monitor.daemon import Jobs
from monitor.faults import SyntheticPage, audit, config_file, finished
from monitor.health import blocking
from monitor.runtime import build_runtime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def received_ids(handler: ScriptedHandler) -> list[str]:
    return [m["Message-ID"] for _f, _t, m in handler.messages]


def alerted_by_sample(sessions, samples: int) -> dict[int, set[bool]]:
    """For each demo sample, whether its copies were alerted: a set of one
    value when every copy was treated alike (nothing lost to a fault)."""
    with sessions() as s:
        alerted = set(s.scalars(select(Item.external_id).join(Alert, Alert.item_id == Item.id)))
        ids = s.scalars(select(Item.external_id)).all()
    out: dict[int, set[bool]] = defaultdict(set)
    for ext in ids:
        out[int(ext[1:]) % samples].add(ext in alerted)
    return out


def assert_complete(sessions, n: int, handler: ScriptedHandler) -> None:
    a = audit(sessions, n, received_ids(handler))
    assert (a.stored, a.duplicate_items, a.items_alerted_twice) == (n, 0, 0), a.line()
    assert (a.unsent, a.never_delivered) == (0, 0), a.line()
    assert a.alerts > 0 and a.delivered == a.outbox_rows, a.line()
    by_sample = alerted_by_sample(sessions, len(SyntheticPage(1, None).samples))
    assert all(len(v) == 1 for v in by_sample.values()), by_sample  # no flagged copy went unalerted
    return a


@pytest.fixture
def smtp():
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def test_kill_9_at_random_moments_then_a_clean_run_loses_and_doubles_nothing(tmp_path, smtp):
    n, kills, rng = 300, 3, random.Random(14)
    config = config_file(tmp_path, f"sqlite:///{tmp_path}/nw.db", smtp.port)
    cmd = [sys.executable, "-m", "monitor.faults", "--config", config, "--comments", str(n)]
    survived = 0
    for _ in range(kills):
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.5, 5.0))
        if proc.poll() is not None:
            break  # it finished before the kill
        proc.kill()
        proc.wait()
        survived += 1
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from monitor.core.db import open_database

    db = open_database(f"sqlite:///{tmp_path}/nw.db")
    try:
        a = assert_complete(db, n, smtp.handler)
    finally:
        db.dispose()
    assert a.delivered_twice <= survived  # at-least-once: only a kill between 250 and "sent" repeats one


def daemon_runtime(make_config, sessions, clock, smtp_port, n):
    rt = build_runtime(make_config(smtp_port=smtp_port), clock=clock, sessions=sessions)
    rt.connectors[next(iter(rt.connectors))] = SyntheticPage(n, clock, batch=25)
    return rt, Jobs(rt)


def run_until_done(rt, jobs, n, clock, rounds=20):
    for _ in range(rounds):
        asyncio.run(jobs.cycle())
        asyncio.run(jobs.deliver())
        if finished(rt.sessions, n):
            return
        clock.advance(minutes=5)
    raise AssertionError("not finished")


def test_postgres_connections_cut_mid_cycle_and_the_next_cycle_recovers(make_config, sessions, db_url, clock, smtp):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    n = 100
    rt, jobs = daemon_runtime(make_config, sessions, clock, smtp.port, n)
    page = rt.connectors[next(iter(rt.connectors))]
    real_fetch = page.fetch
    admin = create_engine(normalise_url(db_url))

    async def fetch_and_cut(cursors):
        async for i, batch in _enumerate(real_fetch(cursors)):
            if i == 2:  # two batches stored: cut every connection this database has (ours only)
                with admin.connect() as c:
                    c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            yield batch

    page.fetch = fetch_and_cut
    report = asyncio.run(jobs.cycle())  # the store fails: the account's poll, or the cycle, is marked failed
    assert report is None or report.failed_accounts
    page.fetch = real_fetch
    clock.advance(minutes=5)
    run_until_done(rt, jobs, n, clock)
    assert rt.health.last_failure is None
    assert_complete(rt.sessions, n, smtp.handler)
    admin.dispose()
    asyncio.run(rt.aclose())


async def _enumerate(agen):
    i = 0
    async for x in agen:
        yield i, x
        i += 1


def test_a_sqlite_database_locked_by_another_process_is_waited_for(make_config, sessions, db_url, clock, smtp):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    n = 100
    rt, jobs = daemon_runtime(make_config, sessions, clock, smtp.port, n)
    path = db_url.removeprefix("sqlite:///")
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(3)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait()
    started = time.monotonic()
    run_until_done(rt, jobs, n, clock)
    waited = time.monotonic() - started
    holder.join()
    assert rt.health.last_failure is None and waited >= 2.5  # it waited, and did not fail
    assert_complete(rt.sessions, n, smtp.handler)
    asyncio.run(rt.aclose())


def test_smtp_down_for_a_simulated_day_then_everything_is_delivered_once(make_config, sessions, clock):
    n, port = 24, free_port()
    rt, jobs = daemon_runtime(make_config, sessions, clock, port, n)
    codes = set()
    for _ in range(24):  # a day of hourly cycles (the longest backoff) with nothing listening
        asyncio.run(jobs.cycle())
        clock.advance(hours=1)
        rt.health.last_cycle_at = clock()
        codes |= {r.code for r in rt.health.reasons()}
    assert "smtp_failing" in codes
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(hours=1)  # past every backoff
        run_until_done(rt, jobs, n, clock)
        a = assert_complete(rt.sessions, n, handler)
        assert a.delivered_twice == 0
        assert rt.health.reasons() == []
    finally:
        controller.stop()
        asyncio.run(rt.aclose())


@contextlib.contextmanager
def small_disk():
    """A 32 MB tmpfs when we may mount one (root), else None: then SQLite's page
    limit stands in, which fails the same way (SQLITE_FULL). Mounted outside
    pytest's temporary folders, and always unmounted (lazily, if still busy)."""
    if os.geteuid() != 0:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="nw-small-disk-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", folder], capture_output=True).returncode:
        os.rmdir(folder)
        yield None
        return
    try:
        yield Path(folder)
    finally:
        subprocess.run(["umount", "-l", folder], capture_output=True)
        os.rmdir(folder)


def test_a_full_disk_gives_a_clear_reason_no_corruption_and_catches_up_when_freed(make_config, db_url, tmp_path,
                                                                                   clock, smtp):
    if not db_url.startswith("sqlite"):
        pytest.skip("a SQLite file on a small disk; PostgreSQL's own disk is the server's business")
    with small_disk() as folder:
        full_disk_run(make_config, folder or tmp_path, folder is not None, clock, smtp)


def full_disk_run(make_config, folder, real_disk, clock, smtp):
    from monitor.core.db import open_database

    path = folder / "nw.db"
    db = open_database(f"sqlite:///{path}")
    filler = None
    try:
        if real_disk:  # fill the disk, leaving less room than the ingest needs
            filler = folder / "filler"
            free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
            filler.write_bytes(b"\0" * max(0, free - 300_000))
        else:
            @event.listens_for(db.engine, "connect")
            def _cap(dbapi_conn, _rec):
                dbapi_conn.execute("PRAGMA max_page_count = 150")

            db.engine.dispose()
        n = 200
        rt = build_runtime(make_config(smtp_port=smtp.port, database={"url": f"sqlite:///{path}"}),
                           clock=clock, sessions=db)
        rt.connectors[next(iter(rt.connectors))] = SyntheticPage(n, clock, batch=20)
        jobs = Jobs(rt)
        asyncio.run(jobs.cycle())
        assert rt.health.last_failure and "database or disk is full" in rt.health.last_failure
        assert [r.code for r in blocking(rt.health.reasons())] == ["cycle_failing"]
        check = sqlite3.connect(path)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()

        if filler is not None:
            filler.unlink()
        else:
            event.remove(db.engine, "connect", _cap)
            db.engine.dispose()
        clock.advance(minutes=5)
        run_until_done(rt, jobs, n, clock, rounds=40)
        assert_complete(rt.sessions, n, smtp.handler)
        asyncio.run(rt.aclose())
    finally:
        db.dispose()
