"""The daemon: a scheduler and the acknowledgement web server in one process.

It is thin: jobs call the pipeline; durable state (cursors, alerts, outbox,
escalations) lives in the database. Jobs never overlap (one lock), and on
SIGTERM or Ctrl-C the job in progress finishes before the process stops.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timezone
from typing import Callable

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerts.digest import digest_due, run_digest
from alerts.escalation import run_escalations
from monitor.pipeline import deliver, run_cycle
from monitor.privacy import apply_retention
from monitor.runtime import Runtime, hide_unavailable
from monitor.core.types import CycleReport
from monitor.accounts.testalert import send_test_alert
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
        WebDeps(sessions=rt.sessions, env=rt.alert_env, clock=rt.clock, hide=connector_hider(rt.connectors),
                health=rt.health, meta_webhook=meta_webhook(rt, wake),
                hide_unavailable=lambda account_id: hide_unavailable(rt, account_id),
                send_test_alert=lambda to: send_test_alert(rt.config, rt.sessions, rt.transport, rt.clock, to))
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return WebServer(config)


def tick_seconds(rt: Runtime) -> int:
    """How often to look for due accounts: the shortest poll interval, 10 s to 60 s."""
    shortest = min((a.poll_every for a in rt.config.accounts), default=60)
    return max(10, min(60, shortest))


class Jobs:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.lock = asyncio.Lock()
        self.webhook_wake = asyncio.Event()
        self.stopping = False

    async def webhooks(self, idle: float = 30.0) -> None:
        """Process queued webhook events as soon as one arrives (and every `idle`
        seconds, for retries). Not under the cycle lock: a long polling pass
        must not hold back an alert that is already here."""
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

    async def cycle(self) -> CycleReport | None:
        async with self.lock:
            try:
                return await run_cycle(self.rt, only_due=True)
            except Exception as err:  # a crash mid-cycle is resumed by the next one
                log.exception("cycle failed; the next cycle resumes from the committed state")
                if self.rt.health:
                    self.rt.health.cycle_failed(err)  # /readyz names it until a cycle succeeds
                return None

    async def deliver(self) -> None:
        async with self.lock:
            await asyncio.to_thread(deliver, self.rt, CycleReport())

    async def escalate(self) -> None:
        async with self.lock:
            await asyncio.to_thread(run_escalations, self.rt.sessions, self.rt.alert_env, self.rt.clock())

    async def retention(self) -> None:
        """Erase what the [retention] periods say has been kept long enough."""
        async with self.lock:
            await asyncio.to_thread(apply_retention, self.rt.sessions, self.rt.setting_id,
                                    self.rt.config.retention, self.rt.clock())

    async def digest(self) -> None:
        """Checked every minute rather than on a cron trigger: the digest module
        knows the local time across clock changes, and a daemon that was down at
        digest time catches up when it starts (never twice a day: dedup keys)."""
        if not digest_due(self.rt.sessions, self.rt.alert_env, self.rt.config.digest, self.rt.clock()):
            return
        async with self.lock:
            await asyncio.to_thread(run_digest, self.rt.sessions, self.rt.alert_env, self.rt.config.digest, self.rt.clock())
            await asyncio.to_thread(deliver, self.rt, CycleReport())


def schedule(rt: Runtime, jobs: Jobs) -> AsyncIOScheduler:
    sched = AsyncIOScheduler(timezone=timezone.utc)
    common = dict(max_instances=1, coalesce=True, misfire_grace_time=None)
    sched.add_job(jobs.cycle, "interval", seconds=tick_seconds(rt), id="cycle", next_run_time=rt.clock(), **common)
    sched.add_job(jobs.deliver, "interval", seconds=30, id="deliver", **common)
    sched.add_job(jobs.escalate, "interval", seconds=60, id="escalate", **common)
    sched.add_job(jobs.retention, "interval", hours=1, id="retention", **common)
    if rt.config.digest.enabled:
        sched.add_job(jobs.digest, "interval", seconds=60, id="digest", **common)
    return sched


async def serve(rt: Runtime, *, once: bool = False) -> int:
    try:
        if once:
            report = await run_cycle(rt)
            print(
                f"cycle done: {report.fetched} fetched, {report.stored} new, {report.classified} classified, "
                f"{report.alerts} alert(s), {report.sent} email(s) sent"
                + (f"; accounts failing: {', '.join(report.failed_accounts)}" if report.failed_accounts else "")
            )
            return 0
        jobs = Jobs(rt)
        sched = schedule(rt, jobs)
        server = make_web_server(rt, rt.config.web.host, rt.config.web.port, jobs.webhook_wake.set)
        webhook_task = asyncio.create_task(jobs.webhooks()) if rt.config.webhooks.meta else None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        sched.start()
        log.info("nurserywatch running; pages on %s", rt.config.web.base_url)
        await server.serve()  # returns once should_exit is set
        sched.shutdown(wait=False)
        if webhook_task is not None:  # finish the event in hand, then stop
            jobs.stopping = True
            jobs.webhook_wake.set()
            await webhook_task
        async with jobs.lock:  # let the job in progress finish
            log.info("nurserywatch stopped")
        return 0
    finally:
        await rt.aclose()
