"""The long fault suite: what survives kill -9, cut database connections, a
30-second SQLite lock, a day without SMTP and a full disk.

    python benchmarks/fault_suite.py                     # all scenarios, SQLite
    python benchmarks/fault_suite.py --comments 5000 --kills 20
    NURSERYWATCH_TEST_DATABASE_URL=postgresql://... python benchmarks/fault_suite.py --only postgres

Each scenario runs real worker processes (`python -m monitor.faults`: the
daemon's own cycle job) against a synthetic page, a real SMTP server on
127.0.0.1 (aiosmtpd) and a real database, then audits: comments stored (and
twice), alerts (and items alerted twice), emails delivered, delivered twice,
never delivered. The PostgreSQL scenario cuts only the connections of the
database in NURSERYWATCH_TEST_DATABASE_URL (pg_terminate_backend): it never
restarts the server. The full-disk scenario needs root to mount a small tmpfs
and is skipped otherwise.
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from alerts.testing import ScriptedHandler, free_port  # noqa: E402
from monitor.core.db import normalise_url, open_database  # noqa: E402
from monitor.faults import audit, config_file  # noqa: E402

PG_ENV = "NURSERYWATCH_TEST_DATABASE_URL"


class Scenario:
    def __init__(self, name: str, n: int, db_url: str | None = None):
        self.name, self.n = name, n
        self.dir = Path(tempfile.mkdtemp(prefix=f"nw-fault-{name}-"))
        self.db_url = db_url or f"sqlite:///{self.dir}/nw.db"
        if self.db_url.startswith("postgresql"):
            wipe(self.db_url)
        self.handler = ScriptedHandler()
        self.smtp_port = free_port()
        self.smtp = Controller(self.handler, hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()
        self.config = config_file(self.dir, self.db_url, self.smtp_port)
        self.cmd = [sys.executable, "-m", "monitor.faults", "--config", str(self.config), "--comments", str(n)]
        self.started = time.monotonic()

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(self.cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def finish(self, **figures) -> dict:
        done = subprocess.run(self.cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
        db = open_database(self.db_url)
        try:
            a = audit(db, self.n, [m["Message-ID"] for _f, _t, m in self.handler.messages])
        finally:
            db.dispose()
            self.smtp.stop()
        ok = (done.returncode == 0 and a.stored == self.n and a.duplicate_items == 0 and a.items_alerted_twice == 0
              and a.never_delivered == 0 and a.unsent == 0)
        result = {"scenario": self.name, "ok": ok, "seconds": round(time.monotonic() - self.started, 1),
                  **figures, "audit": a.line()}
        print(f"{'PASS' if ok else 'FAIL'} {self.name}: {figures} -> {a.line()} "
              f"in {result['seconds']} s", flush=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], flush=True)
        return result


def wipe(url: str) -> None:
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def progress(db_url: str) -> tuple[int, int, int]:
    """(comments stored, classified, emails sent) so far: where a kill landed."""
    try:
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30)
        stored = conn.execute("SELECT count(*) FROM item").fetchone()[0]
        classified = conn.execute("SELECT count(*) FROM item WHERE classified_at IS NOT NULL").fetchone()[0]
        sent = conn.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
        conn.close()
        return stored, classified, sent
    except sqlite3.Error:
        return 0, 0, 0  # killed before the schema existed


def kill9(n: int, kills: int, seed: int, window: tuple[float, float]) -> dict:
    s, rng = Scenario("kill-9", n), random.Random(seed)
    survived, at = 0, []
    for _ in range(kills):
        proc = s.worker()
        time.sleep(rng.uniform(*window))
        if proc.poll() is not None:
            break  # finished before this kill
        proc.kill()
        proc.wait()
        survived += 1
        at.append(progress(s.db_url))
    return s.finish(kills=survived, killed_at_stored_classified_sent=at)


def postgres(n: int, cuts: int, seed: int) -> dict:
    url = os.environ.get(PG_ENV)
    if not url:
        print(f"SKIP postgres: set {PG_ENV} to a database of your own", flush=True)
        return {"scenario": "postgres", "ok": None}
    s, rng = Scenario("postgres-cut", n, url), random.Random(seed)
    admin = create_engine(normalise_url(url))
    proc, done_cuts = s.worker(), 0
    while proc.poll() is None and done_cuts < cuts:
        time.sleep(rng.uniform(2, 6))
        with admin.connect() as c:  # only this database's connections, never the server
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        done_cuts += 1
    recovered = proc.wait(timeout=3600) == 0  # the same worker, never restarted
    admin.dispose()
    return s.finish(connection_cuts=done_cuts, recovered_without_restart=recovered)


def sqlite_lock(n: int, seconds: float) -> dict:
    s = Scenario("sqlite-lock", n)
    proc = s.worker()
    path = s.db_url.removeprefix("sqlite:///")
    while not Path(path).exists() and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(3)
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("BEGIN EXCLUSIVE")
    held = time.monotonic()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()
    held = round(time.monotonic() - held, 1)
    recovered = proc.wait(timeout=3600) == 0
    return s.finish(locked_seconds=held, caught_up_without_restart=recovered)


def smtp_day(n: int) -> dict:
    """SMTP refused for a simulated day: in one process with a fake clock."""
    import asyncio
    from datetime import datetime, timezone

    from alerts.testing import FakeClock
    from monitor.core.settings import load_config
    from monitor.daemon import Jobs
    from monitor.faults import SyntheticPage, finished
    from monitor.runtime import build_runtime

    s = Scenario("smtp-down-a-day", n)
    s.smtp.stop()  # nothing listens on the port for the day
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
    rt = build_runtime(load_config(s.config), clock=clock)
    rt.connectors[next(iter(rt.connectors))] = SyntheticPage(n, clock)
    jobs = Jobs(rt)
    attempts = 0
    for _ in range(24 * 12):
        asyncio.run(jobs.cycle())
        clock.advance(minutes=5)
    s.smtp = Controller(s.handler, hostname="127.0.0.1", port=s.smtp_port)
    s.smtp.start()
    clock.advance(hours=1)
    while not finished(rt.sessions, n):
        asyncio.run(jobs.deliver())
        clock.advance(minutes=1)
        attempts += 1
    asyncio.run(rt.aclose())
    rt.sessions.dispose()
    return s.finish(simulated_hours_down=24, delivery_rounds_after=attempts)


def disk_full(n: int) -> dict:
    if os.geteuid() != 0:
        print("SKIP disk-full: mounting a small tmpfs needs root", flush=True)
        return {"scenario": "disk-full", "ok": None}
    folder = Path(tempfile.mkdtemp(prefix="nw-small-disk-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)]).returncode != 0:
        print("SKIP disk-full: cannot mount a tmpfs here", flush=True)
        return {"scenario": "disk-full", "ok": None}
    try:
        s = Scenario("disk-full", n, f"sqlite:///{folder}/nw.db")
        filler = folder / "filler"
        free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 400_000))
        proc = s.worker()
        time.sleep(20)  # let it hit the wall
        stderr_full = proc.poll() is None
        proc.kill()
        _, err = proc.communicate()
        clear = "database or disk is full" in err
        with sqlite3.connect(folder / "nw.db") as c:
            intact = c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        filler.unlink()
        return s.finish(error_named_full_disk=clear, integrity_ok_while_full=intact, still_running=stderr_full)
    finally:
        subprocess.run(["umount", "-l", str(folder)])
        folder.rmdir()


def main() -> int:
    os.environ.setdefault("NURSERYWATCH_SECRET_KEY", secrets.token_urlsafe(32))  # the workers sign links
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--comments", type=int, default=5000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--lock-seconds", type=float, default=30)
    p.add_argument("--kill-window", type=float, nargs=2, default=(3.0, 30.0), metavar=("MIN", "MAX"),
                   help="each kill lands this many seconds after the worker starts (uniform)")
    p.add_argument("--only", choices=["kill", "postgres", "lock", "smtp", "disk"])
    args = p.parse_args()
    scenarios = {
        "kill": lambda: kill9(args.comments, args.kills, args.seed, tuple(args.kill_window)),
        "postgres": lambda: postgres(args.comments, 5, args.seed),
        "lock": lambda: sqlite_lock(min(args.comments, 2000), args.lock_seconds),
        "smtp": lambda: smtp_day(min(args.comments, 500)),
        "disk": lambda: disk_full(min(args.comments, 3000)),
    }
    results = [fn() for name, fn in scenarios.items() if args.only in (None, name)]
    failed = [r["scenario"] for r in results if r["ok"] is False]
    print(f"{len(results)} scenario(s), failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
