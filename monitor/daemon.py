"""The daemon: a scheduler and the acknowledgement web server in one process.

It is thin: jobs call the pipeline; durable state (cursors, alerts, outbox,
escalations, the planned time of each account's next poll) lives in the
database. Jobs do not share a lock: each account is polled by its own task
(a stuck one is abandoned at `[polling] deadline`), and delivery, escalation
and the digest run beside them, so nothing waits behind a slow platform.
All database and SMTP work runs in worker threads, so the pages on the same
event loop answer within their budget whatever a cycle is doing.

On SQLite, one daemon per database: it holds the lease (`monitor.lease`)
while it runs and stops if another process takes it with --force. On
PostgreSQL any number of daemons (replicas) share the work with no leader:
each tick claims due accounts nobody holds (`monitor.poll_leases`; an
account's hourly re-read of recent comments is part of its leased poll),
delivery claims outbox rows one by one, and the whole-setting jobs (escalation,
digest, retention) run on one replica at a time (`monitor.job_locks`). Every
replica serves the pages and webhooks. On SIGTERM or Ctrl-C the work in
progress finishes its current batch before the process stops, and a replica
hands its leases back.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Callable

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerts.escalation import run_escalations
from monitor.privacy import apply_retention
from monitor.core.settings import ConfigError
from monitor.core.types import CycleReport
from monitor.accounts.testalert import send_test_alert
from monitor.group_jobs import run_digests
from monitor.job_locks import one_replica
from monitor.lease import DatabaseLease
from monitor.limits import PollLimits, app_of
from monitor.pipeline import deliver, run_account, run_cycle
from monitor.poll_leases import lease_ttl
from monitor.runtime import Runtime, hide_unavailable
from monitor.web import MetaWebhook, WebDeps, connector_hider, create_app
from monitor.webhook_events import process_and_alert

log = logging.getLogger(__name__)


class WebServer(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon decides how to stop
    (finish the job in progress, then exit 0) instead of re-raising SIGTERM."""

    def capture_signals(self):
        return contextlib.nullcontext()


def meta_webhook(rt: Runtime, wake: Callable[[], None]) -> MetaWebhook | None:
    meta = rt.config.webhooks.meta
    if meta is None:
        return None
    return MetaWebhook(
        app_secret=rt.config.secret(meta.app_secret_env, "webhooks.meta.app_secret_env"),
        verify_token=rt.config.secret(meta.verify_token_env, "webhooks.meta.verify_token_env"),
        on_queued=wake,
    )


def make_web_server(rt: Runtime, host: str, port: int, wake: Callable[[], None] = lambda: None) -> WebServer:
    app = create_app(
        WebDeps(sessions=rt.sessions, env=rt.alert_env, clock=rt.clock, hide=connector_hider(rt.all_connectors),
                health=rt.health, meta_webhook=meta_webhook(rt, wake),
                hide_unavailable=lambda account_id: hide_unavailable(rt.for_account(account_id), account_id),
                envs={each.setting_id: each.alert_env for each in rt.settings},  # a group: every setting's pages
                send_test_alert=lambda setting_id, to: send_test_alert(  # a group: the admin's own setting
                    rt.for_setting(setting_id).config, rt.sessions, rt.transport, rt.clock, to))
    )
    # log_config=None: uvicorn's records go to the root handler, through its redaction (monitor.logs)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
                            log_config=None)
    return WebServer(config)


def tick_seconds(rt: Runtime) -> float:
    """How often to look for due accounts: a fifth of the shortest poll interval,
    1 s to 10 s. Polls start at the tick nearest their planned time."""
    shortest = min((a.poll_every for each in rt.every_setting for a in each.config.accounts), default=60)
    return max(1.0, min(10.0, shortest / 5))


class Jobs:
    def __init__(self, rt: Runtime, lease: DatabaseLease | None = None):
        self.rt = rt
        self.lease = lease
        self.polling: dict[int, asyncio.Task] = {}
        self.starting: set[int] = set()  # polls created that have not run their first step
        self.claiming = asyncio.Lock()  # replicas: one lease claim at a time
        self.claimed_at = 0.0
        self.refill_due = False  # a claim is waiting for its second (`_refill`)
        self.background: set[asyncio.Task] = set()
        self.limits = PollLimits(rt.config.concurrency, on_free=self._refill)  # every account's task: [concurrency]
        self.locks = {name: asyncio.Lock() for name in ("deliver", "escalate", "digest", "retention")}
        self.started_at: datetime = rt.clock()
        self.lost_lease = asyncio.Event()
        self.webhook_wake = asyncio.Event()
        self.stopping = False

    async def webhooks(self, idle: float = 30.0) -> None:
        """Process queued webhook events as soon as one arrives (and every `idle`
        seconds, for retries). Not behind any poll: a long polling pass must not
        hold back an alert that is already here."""
        while not self.stopping:
            try:
                await asyncio.wait_for(self.webhook_wake.wait(), timeout=idle)
            except TimeoutError:
                pass
            self.webhook_wake.clear()
            if self.stopping:
                return
            try:
                await process_and_alert(self.rt)
            except Exception:  # the events stay queued and are retried
                log.exception("webhook processing failed; the queued events are retried")

    async def tick(self) -> None:
        """Start a poll for every account not already being polled (each checks whether it is due).
        Replicas (PostgreSQL): renew this replica's leases, then lease due accounts (`claim`)."""
        if self.rt.leases is None:
            self._start([a for a in self.rt.all_connectors if a not in self.polling])  # a group: every setting's
            return
        await asyncio.to_thread(self.rt.leases.renew)
        await self.claim()

    async def claim(self) -> None:
        """Replicas: start polls for the due accounts this replica could lease, as many as
        `[concurrency]` leaves room for: in all, and per platform and app up to twice the limit
        less the polls still fetching or queued for a slot (`PollLimits.room`). Run at each tick
        and when a poll finishes fetching or ends (`_refill`), so a replica is not held to its
        limits' polls per tick. A poll that has fetched and is classifying or delivering holds
        no platform slot; a replica that dies strands at most its queue, not `total` accounts."""
        async with self.claiming:
            self.claimed_at = time.monotonic()
            for ids, room in self._rooms():
                self._start(await asyncio.to_thread(self.rt.leases.claim_due, ids, self.rt.tolerance, room))

    def _rooms(self) -> list[tuple[list[int], int]]:
        """The accounts not being polled, by platform and app, each group with how many more may poll now."""
        connectors = self.rt.all_connectors

        def key(account_id: int) -> tuple[str, str]:
            platform = connectors[account_id].platform
            return platform, app_of(platform, getattr(connectors[account_id], "account", None))

        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for account_id in connectors:
            if account_id not in self.polling:
                groups[key(account_id)].append(account_id)
        on_platform, on_app = Counter(), Counter()  # started, not yet counted by the limits
        for platform, app in (key(a) for a in self.starting if a in connectors):
            on_platform[platform] += 1
            on_app[app] += 1
        left, out = self.rt.config.concurrency.total - len(self.polling), []
        for (platform, app), ids in groups.items():
            room = min(left, self.limits.room(platform, app, (on_platform[platform], on_app[app])))
            if room > 0:
                out.append((ids, room))
                left -= room  # at most: claim_due may find fewer due
                on_platform[platform] += room
                on_app[app] += room
        return out

    def _start(self, account_ids) -> None:
        connectors = self.rt.all_connectors
        for account_id in account_ids:
            task = asyncio.create_task(self._account(account_id, connectors[account_id]), name=f"account {account_id}")
            self.polling[account_id] = task
            self.starting.add(account_id)

    def _refill(self) -> None:
        """A poll finished fetching (its platform slot is free) or ended: lease more due
        accounts now rather than at the next tick, at most once a second, so an account
        that declines to poll cannot spin. Never dropped: a refill asked for within the
        second runs when the second is up (a replica's queue is only one limit deep, so a
        lost refill would leave its slots idle until the next tick)."""
        if self.rt.leases is None or self.stopping or self.refill_due:
            return
        self.refill_due = True
        task = asyncio.create_task(self._refill_soon(), name="claim")
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _refill_soon(self) -> None:
        await asyncio.sleep(max(0.0, self.claimed_at + 1.0 - time.monotonic()))
        self.refill_due = False  # a slot freed while this claims asks for the next one
        try:
            await self.claim()
        except Exception:  # the next tick claims again
            log.exception("claiming due accounts failed; the next tick tries again")

    async def cycle(self) -> None:
        """One `tick`, waited for: every account polled once if due (the fault suite's worker)."""
        await self.tick()
        await asyncio.gather(*list(self.polling.values()))

    async def _account(self, account_id: int, connector) -> None:
        self.starting.discard(account_id)  # from here to its first wait, the limits count it (`wanting`)
        try:
            await run_account(self.rt.for_account(account_id), account_id, connector, CycleReport(), limits=self.limits)
        except Exception as err:  # a crash mid-cycle is resumed by the next one
            log.exception("account %s: cycle failed; the next cycle resumes from the committed state", account_id)
            if self.rt.health:
                self.rt.health.cycle_failed(err)  # /readyz names it until a cycle succeeds
        finally:
            self.polling.pop(account_id, None)
            self._refill()

    async def deliver(self) -> None:
        async with self.locks["deliver"]:
            await asyncio.to_thread(deliver, self.rt, CycleReport())

    def one_replica(self, job: str):
        """PostgreSQL: True inside when this replica runs the whole-group `job` now (`monitor.job_locks`)."""
        return one_replica(self.rt.sessions.kw["bind"], job)

    async def escalate(self) -> None:
        async with self.locks["escalate"], self.one_replica("escalate") as mine:
            for rt in self.rt.every_setting if mine else []:
                await asyncio.to_thread(run_escalations, rt.sessions, rt.alert_env, rt.clock())

    async def retention(self) -> None:
        """Erase what the [retention] periods say has been kept long enough."""
        async with self.locks["retention"], self.one_replica("retention") as mine:
            for rt in self.rt.every_setting if mine else []:
                await asyncio.to_thread(apply_retention, rt.sessions, rt.setting_id, rt.config.retention, rt.clock())

    async def digest(self) -> None:
        """Checked every minute rather than on a cron trigger: the digest module
        knows the local time across clock changes, and a daemon that was down at
        digest time catches up when it starts (never twice a day: dedup keys).
        The very first digest waits for its time: never one at installation."""
        async with self.locks["digest"], self.one_replica("digest") as mine:
            if mine and await asyncio.to_thread(run_digests, self.rt, self.rt.clock(), self.started_at):
                await self.deliver()

    async def heartbeat(self) -> None:
        if self.lease is not None and not await asyncio.to_thread(self.lease.renew):
            log.error("the database lease was taken by another process (%s); stopping", self.lease.taken_by or "?")
            self.lost_lease.set()

    async def stop(self) -> None:
        """Let work in progress finish its batch; abandon polls still waiting on a platform."""
        self.rt.stopping.set()
        self.stopping = True
        self.webhook_wake.set()
        for task in [*self.polling.values(), *self.background]:
            task.cancel()
        await asyncio.gather(*self.polling.values(), *self.background, return_exceptions=True)
        for lock in self.locks.values():
            async with lock:
                pass
        if self.rt.leases is not None:  # the other replicas take these accounts at once, not after an expiry
            try:
                await asyncio.to_thread(self.rt.leases.release_all)
            except Exception as err:  # the database is away: the leases run out by themselves
                log.warning("could not hand back the poll leases (%s); they expire in %s s", type(err).__name__,
                            int(self.rt.leases.ttl.total_seconds()))


def schedule(rt: Runtime, jobs: Jobs) -> AsyncIOScheduler:
    sched = AsyncIOScheduler(timezone=timezone.utc)
    common = dict(max_instances=1, coalesce=True, misfire_grace_time=None)
    sched.add_job(jobs.tick, "interval", seconds=tick_seconds(rt), id="tick", next_run_time=datetime.now(timezone.utc),
                  **common)
    sched.add_job(jobs.deliver, "interval", seconds=30, id="deliver", **common)
    sched.add_job(jobs.escalate, "interval", seconds=60, id="escalate", **common)
    if jobs.lease is not None:
        sched.add_job(jobs.heartbeat, "interval", seconds=jobs.lease.renew_every, id="lease", **common)
    sched.add_job(jobs.retention, "interval", hours=1, id="retention", **common)
    if rt.config.digest.enabled:
        sched.add_job(jobs.digest, "interval", seconds=60, id="digest", **common)
    return sched


def listen_socket(host: str, port: int) -> socket.socket:
    """`web.listen`, bound before anything starts. uvicorn would log a busy port or an
    unknown address and exit 3 (our "database held") after the first cycle began."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ConfigError(f"web.listen: cannot listen on {host}:{port}: {err.strerror or err}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as err:
        sock.close()
        raise ConfigError(f"web.listen: cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


async def serve(rt: Runtime, *, lease: DatabaseLease | None = None) -> int:
    """Run until SIGTERM/SIGINT (0) or until the lease is lost (3)."""
    try:
        sock = listen_socket(rt.config.web.host, rt.config.web.port)
    except ConfigError:
        await rt.aclose()
        raise
    jobs = Jobs(rt, lease)
    for each in rt.every_setting:  # a group: every setting's polls start at the tick nearest their plan
        each.tolerance = tick_seconds(rt) / 2
    if rt.leases is not None:
        rt.leases.ttl = lease_ttl(tick_seconds(rt))
    sched = schedule(rt, jobs)
    server = make_web_server(rt, rt.config.web.host, rt.config.web.port, jobs.webhook_wake.set)
    webhook_task = asyncio.create_task(jobs.webhooks()) if rt.config.webhooks.meta else None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))

    async def watch_lease() -> None:
        await jobs.lost_lease.wait()
        server.should_exit = True

    watcher = asyncio.create_task(watch_lease())
    try:
        sched.start()
        log.info("nurserywatch running; pages on %s", rt.config.web.base_url)
        await server.serve(sockets=[sock])  # returns once should_exit is set
        sched.shutdown(wait=False)
        await jobs.stop()
        if webhook_task is not None:  # finish the event in hand, then stop
            await webhook_task
        log.info("nurserywatch stopped")
        return 3 if jobs.lost_lease.is_set() else 0
    finally:
        watcher.cancel()
        sock.close()
        await rt.aclose()


async def run_once(rt: Runtime) -> CycleReport:
    try:
        return await run_cycle(rt)
    finally:
        await rt.aclose()


__all__ = ["Jobs", "schedule", "serve", "run_once", "tick_seconds"]
