"""Replicas sharing one PostgreSQL database: a nursery group's Pages, one replica killed mid-cycle.

    .venv/bin/python benchmarks/bench_replicas.py --database postgresql://.../nurserywatch_bench \\
        [--replicas 3] [--settings 200] [--per-setting 3] [--latency 0.2] [--poll-every 60] [--minutes 4]

An imitation Graph API (`connectors.fakeserver.FakePages`, uvicorn on
127.0.0.1) serves settings x per-setting Facebook Pages, answering every
request after --latency seconds, with 2% 5xx errors and 0.5% throttling.
--replicas daemons (`python -m monitor.replica_drill`: `monitor.daemon.serve`
with a phrase classifier, or --classifier real) share the database (its
public schema is dropped first). Comments arrive on random Pages throughout,
one in four flagged. Halfway through, the replica holding the most poll
leases is killed with SIGKILL. At the end the comments stop, the survivors
drain, and the benchmark prints:

- the audit: every comment stored once, every flagged one alerted once, each
  alert email delivered (and how many twice); API requests to one Page by two
  replicas at once (should be 0);
- poll lag: how late each poll started against one interval after the
  previous (p50, p95, max), before and after the kill;
- takeover: for each account the killed replica held, how long after the kill
  another replica polled it (max, against one poll interval);
- CPU (% of one core) and peak RSS per replica, from /proc (Linux);
- database growth: bytes per stored comment, and per day at this run's rate.

The replicas read a real group configuration: a group file and --settings
setting files (`settings.d/`), each with its own manager, DSL and
--per-setting Pages, and the group's area manager over them all.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from alerts.testing import ScriptedHandler, free_port  # noqa: E402
from connectors.fakeserver import FakePages  # noqa: E402
from connectors.meta import DEFAULT_PAUSE  # noqa: E402
from monitor.core.db import normalise_url, open_database  # noqa: E402
from monitor.core.models import Account, Item, OutboxMessage  # noqa: E402
from monitor.replica_drill import FLAG, audit, clashing_requests, config_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
PLATFORM_PAUSE = DEFAULT_PAUSE.total_seconds()  # the longest a throttled Graph API account waits


def proc_sample(pid: int) -> tuple[float, int] | None:
    """(CPU seconds so far, RSS bytes) of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss = next(int(line.split()[1]) * 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return None
    return (int(stat[11]) + int(stat[12])) / TICK, rss


class Graph:
    def __init__(self, pages: int, latency: float, errors: float, throttle: float):
        self.fake = FakePages(pages, latency=latency, error_rate=errors, throttle_rate=throttle)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.fake, host="127.0.0.1", port=self.port, log_level="error",
                                                    lifespan="off", ws="none", http="h11", backlog=4096))
        self.loop = asyncio.new_event_loop()
        self.posted: dict[str, str] = {}
        now = datetime.now(timezone.utc)
        self.posts = {pid: page.add_post(now - timedelta(hours=3)) for pid, page in self.fake.pages.items()}
        threading.Thread(target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True).start()
        while not self.server.started:
            time.sleep(0.02)

    def comment(self, rng: random.Random, n: int) -> None:
        page_id = rng.choice(list(self.fake.pages))
        text = f"I saw a {FLAG} on her arm ({n})" if n % 4 == 0 else f"Lovely photos, thank you ({n})"

        def add():
            cid = self.fake.pages[page_id].add_comment(self.posts[page_id], datetime.now(timezone.utc), text)
            self.posted[cid] = text

        self.loop.call_soon_threadsafe(add)


def poll_lags(feeds: list[tuple[str, str, float]], every: float, since: float, until: float,
              paused: dict[str, list[float]] | None = None) -> tuple[list[float], int]:
    """Seconds each poll started after one interval from the previous poll of its Page, and how
    many polls were left out because the platform throttled the Page in between (the connector
    then waits the pause the platform asks for: 5-15 minutes, by design).
    A poll is a run of feed requests (retries included) less than half an interval apart."""
    starts: dict[str, list[float]] = {}
    for page, _replica, at in sorted(feeds, key=lambda f: f[2]):
        polls = starts.setdefault(page, [])
        if not polls or at - polls[-1] > every / 2:
            polls.append(at)
    lags, waited = [], 0
    for page, polls in starts.items():
        for a, b in zip(polls, polls[1:]):
            if not since <= b < until:
                continue
            if any(a <= t < b for t in (paused or {}).get(page, ())):
                waited += 1
            else:
                lags.append(max(0.0, b - a - every))
    return lags, waited


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


def reset(url: str) -> None:
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def leases_by_replica(db) -> dict[str, list[int]]:
    with db() as s:
        rows = s.execute(select(Account.id, Account.lease_holder).where(Account.lease_holder.is_not(None))).all()
    out: dict[str, list[int]] = {}
    for account_id, holder in rows:
        out.setdefault(holder.split(":")[1], []).append(account_id)
    return out


def settled(db, posted: dict[str, str]) -> bool:
    with db() as s:
        stored = s.scalar(select(func.count()).select_from(Item).where(Item.external_id.in_(list(posted))))
        pending = s.scalar(select(func.count()).select_from(Item).where(Item.classified_at.is_(None)))
        unsent = s.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.state.in_(("pending", "sending"))))
    return stored == len(posted) and not pending and not unsent


def db_bytes(db) -> int:
    with db() as s:
        return s.scalar(text("SELECT pg_database_size(current_database())"))


def table_bytes(db) -> dict[str, int]:
    with db() as s:
        return dict(s.execute(text(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY 2 DESC")).all())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", default=os.environ.get("NURSERYWATCH_BENCH_DATABASE_URL"), required=False)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--settings", type=int, default=200)
    p.add_argument("--per-setting", type=int, default=3)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--errors", type=float, default=0.02)
    p.add_argument("--throttle", type=float, default=0.005)
    p.add_argument("--poll-every", type=int, default=60)
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--comments-per-second", type=float, default=2.0)
    p.add_argument("--classifier", choices=["phrases", "real"], default="phrases")
    p.add_argument("--max-drain", type=float, default=20.0,
                   help="minutes to wait after the last comment for everything to be stored and sent")
    args = p.parse_args()
    if not args.database or not args.database.startswith("postgresql"):
        sys.exit("--database postgresql://... (or NURSERYWATCH_BENCH_DATABASE_URL): replicas need PostgreSQL")

    pages = args.settings * args.per_setting
    os.environ.setdefault("NURSERYWATCH_SECRET_KEY", "bench-secret-key-0123456789abcdef")
    os.environ["DRILL_PAGE_TOKEN"] = "page-token"
    reset(args.database)
    open_database(args.database).dispose()  # migrate once, before the replicas start
    graph = Graph(pages, args.latency, args.errors, args.throttle)
    handler = ScriptedHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    tmp = Path(tempfile.mkdtemp(prefix="nw-bench-replicas-"))
    procs = []
    for n in range(args.replicas):
        path = config_file(tmp, f"replica{n}", db_url=args.database, api_base=f"http://127.0.0.1:{graph.port}/v21.0",
                           pages=list(graph.fake.pages), smtp_port=smtp.port, web_port=free_port(),
                           poll_every=args.poll_every, settings=args.settings)
        log = open(tmp / f"replica{n}.log", "w")
        procs.append(subprocess.Popen([sys.executable, "-m", "monitor.replica_drill", "--config", str(path),
                                       "--classifier", args.classifier], cwd=ROOT, stdout=log, stderr=log))
    db = open_database(args.database)
    samples: dict[int, list[tuple[float, float, int]]] = {pr.pid: [] for pr in procs}
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            for pr in procs:
                got = proc_sample(pr.pid) if pr.poll() is None else None
                if got:
                    samples[pr.pid].append((time.monotonic(), *got))
            stop_sampling.wait(2)

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.monotonic()
    print(f"{args.replicas} replicas, {args.settings} settings x {args.per_setting} = {pages} Facebook Pages, "
          f"poll every {args.poll_every} s, {args.latency} s per request, {args.errors:.0%} errors, "
          f"{args.throttle:.1%} throttled; {args.comments_per_second}/s comments for {args.minutes} min")
    while time.monotonic() - t0 < 300:  # every replica has synced the config, and every Page has been polled once
        with db() as s:  # (or is waiting out a pause the platform asked for on its first poll)
            polled, paused = s.execute(select(
                func.count(Account.last_success_at),
                func.count().filter(Account.last_success_at.is_(None), Account.backoff_until.is_not(None)))).one()
        if polled + paused >= pages:
            break
        time.sleep(1)
    steady = time.monotonic()
    print(f"first poll of every Page done in {steady - t0:.0f} s ({paused} throttled on it and waiting out the "
          f"platform's pause; backfill: nothing alerted)")
    size_before, items_before = db_bytes(db), len(graph.posted)

    rng, n, victim, held, killed_mono = random.Random(3), 0, None, [], None
    end = steady + args.minutes * 60
    kill_at = steady + args.minutes * 30
    while time.monotonic() < end:
        graph.comment(rng, n)
        n += 1
        if victim is None and time.monotonic() >= kill_at:
            by = leases_by_replica(db)
            live = {str(pr.pid): pr for pr in procs}
            candidates = sorted(((len(a), pid) for pid, a in by.items() if pid in live), reverse=True)
            if candidates:
                pid = candidates[0][1]
                victim = live[pid]
                victim.send_signal(signal.SIGKILL)
                killed_mono = time.monotonic()
                held = by[pid]
                print(f"SIGKILL replica pid {pid} at {killed_mono - steady:.0f} s, holding {len(held)} poll lease(s)")
        time.sleep(1 / args.comments_per_second)
    posting_ended = time.monotonic()
    # a throttled Page waits out the platform's pause (up to 15 minutes) before its comments come in
    last_throttle = max((t for page in graph.fake.pages.values() for t in page.throttled), default=0.0)
    deadline = max(posting_ended + 180, last_throttle + PLATFORM_PAUSE + 2 * args.poll_every + 60)
    deadline = min(deadline, posting_ended + args.max_drain * 60)
    while not settled(db, graph.posted) and time.monotonic() < deadline:
        time.sleep(1)
    drained = time.monotonic() - posting_ended
    size_after = db_bytes(db)
    stop_sampling.set()
    for pr in procs:
        if pr.poll() is None:
            pr.send_signal(signal.SIGTERM)
    codes = [pr.wait(timeout=90) for pr in procs]
    received = [(msg["Message-ID"], rcpts) for _f, rcpts, msg in handler.messages]
    result = audit(db, graph.posted, received)
    tables = table_bytes(db)
    with db() as s:
        items = s.scalar(select(func.count()).select_from(Item))
    db.dispose()
    smtp.stop()
    graph.server.should_exit = True

    print(f"audit: {result.line()} -> {'EXACTLY ONCE' if result.exactly_once else 'NOT EXACTLY ONCE'}; "
          f"drained {drained:.0f} s after the last comment")
    clashes = clashing_requests(graph.fake.requests)
    print(f"requests to one Page by two replicas at once: {len(clashes)} (of {len(graph.fake.requests)} requests)")
    for (page, replica, start, end, path), (_, other, o_start, o_end, o_path) in clashes[:10]:
        print(f"  Page {page}: pid {replica} {path} at {start - steady:.1f}-{end - steady:.1f} s while pid {other} "
              f"{o_path} at {o_start - steady:.1f}-{o_end - steady:.1f} s (from the steady start; kill at "
              f"{(killed_mono - steady) if killed_mono else float('nan'):.1f} s)")
    per_replica = {}
    for _page, replica, _at in graph.fake.feeds:
        per_replica[replica] = per_replica.get(replica, 0) + 1
    print("polls (feed requests) per replica: " + ", ".join(f"pid {k}: {v}" for k, v in sorted(per_replica.items())))
    every = float(args.poll_every)
    paused = {pid: page.throttled for pid, page in graph.fake.pages.items()}
    print(f"throttling answers: {sum(map(len, paused.values()))} on {sum(1 for t in paused.values() if t)} Page(s)")
    before = poll_lags(graph.fake.feeds, every, steady, killed_mono or end, paused)
    after = poll_lags(graph.fake.feeds, every, (killed_mono or end) + every, posting_ended, paused)
    for name, (lags, waited) in (("before the kill", before), ("after the kill (from one interval on)", after)):
        if lags:
            tenth = sum(1 for lag in lags if lag <= every / 10) / len(lags)
            within = sum(1 for lag in lags if lag <= every) / len(lags)
            print(f"poll lag {name}: p50 {pct(lags, 50):.1f} s, p95 {pct(lags, 95):.1f} s, max {max(lags):.1f} s "
                  f"over {len(lags)} polls; {tenth:.1%} within a tenth of an interval of plan, {within:.1%} within one "
                  f"({waited} poll(s) after a platform pause left out)")
    if victim is not None:
        me = str(victim.pid)
        victim_pages = {page for page, replica, at in graph.fake.feeds if replica == me}
        waits, late = [], []
        for page in victim_pages:
            before_kill = [at for p_, _r, at in graph.fake.feeds if p_ == page and at <= killed_mono]
            later = [at for p_, r, at in graph.fake.feeds if p_ == page and at > killed_mono and r != me]
            if later:
                waits.append(min(later) - killed_mono)
                if before_kill:  # how late against its plan: one interval after its last poll before the kill
                    late.append(max(0.0, min(later) - max(before_kill) - every))
        missing = len(victim_pages) - len(waits)
        # a Page the platform throttled shortly before the kill waits out its pause whoever holds it
        on_pause = sum(1 for page in victim_pages if not any(
            p_ == page and at > killed_mono and r != me for p_, r, at in graph.fake.feeds)
            and any(t <= killed_mono < t + PLATFORM_PAUSE for t in paused[page]))
        print(f"takeover: the killed replica had polled {len(victim_pages)} Page(s) ({len(held)} leased at the kill); "
              f"each was next polled by another replica within {max(waits, default=0):.1f} s of the kill "
              f"(p95 {pct(waits, 95):.1f} s; one poll interval is {every:.0f} s), at most {max(late, default=0):.1f} s "
              f"later than one interval after its previous poll (p95 {pct(late, 95):.1f} s); "
              f"never polled again: {missing} ({on_pause} of them waiting out a platform pause that began "
              f"before the kill)")
    for pr in procs:
        rows = samples[pr.pid]
        busy = [r for r in rows if steady <= r[0] <= posting_ended]  # while comments arrived (not the idle drain)
        if len(busy) < 2:
            continue
        (t_a, cpu_a, _), (t_b, cpu_b, _) = busy[0], busy[-1]
        peak = max(r for _t, _c, r in rows)
        tag = " (killed)" if pr is victim else ""
        print(f"replica pid {pr.pid}{tag}: CPU {100 * (cpu_b - cpu_a) / (t_b - t_a):.0f}% of one core while "
              f"comments arrived, peak RSS {peak / 2**20:.0f} MiB, exit {pr.returncode}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    run_s = posting_ended - steady
    new_items = items - items_before
    grown = size_after - size_before
    print(f"database: {size_after / 2**20:.1f} MiB; grew {grown / 2**20:.1f} MiB over {run_s:.0f} s "
          f"({grown / max(1, new_items) / 1024:.1f} KiB per stored item) = {grown / run_s * 86400 / 2**30:.2f} GiB/day "
          f"at this run's {len(graph.posted) / run_s:.1f} comments/s")
    print("largest tables: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in list(tables.items())[:6]))
    print(f"replica exit codes: {codes}")


if __name__ == "__main__":
    main()
