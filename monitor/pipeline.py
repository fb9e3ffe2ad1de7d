"""One cycle: fetch -> store -> classify -> alert -> deliver.

Each step commits its own work, so a crash at any point is picked up by the
next cycle: items whose cursor moved are stored; stored items that were not
classified are still marked pending; alerts have their emails queued in the
same transaction; queued emails are delivered until accepted.

Only the fetching runs on the event loop; every database and SMTP step runs
in a worker thread (`asyncio.to_thread`), so the pages served from the same
loop answer whatever a cycle is doing. Accounts are polled side by side, each
within `[polling] deadline`: a stuck account is abandoned at its deadline
(its committed batches stay; the next poll resumes from its cursors) and
never holds up another account, whose items are classified and alerted as
soon as its own poll ends.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from alerts.delivery import deliver_due, delivery_problem
from alerts.notices import queue_admin_notice
from connectors.base import (
    AuthFailed,
    Connector,
    ConnectorError,
    Misconfigured,
    PermissionMissing,
    RateLimited,
    TemporaryFailure,
)
from monitor.backfill import start_backfill, summarise_backfills
from monitor.core.models import Account, AccountState
from monitor.core.progress import task as progress_task
from monitor.accounts.connect import reconnect_fix
from monitor.core.store import load_cursors, store_batch
from monitor.core.types import CycleReport
from monitor.judging import classify_pending
from monitor.metrics import API_PLATFORM
from monitor.recheck import recheck_account
from monitor.runtime import Runtime, credential_identity
from monitor.webhook_health import after_poll, poll_every as webhook_pace
from monitor.limits import PollLimits
from monitor.poll_leases import LeaseLost

log = logging.getLogger(__name__)

MISCONFIGURED_RETRY = timedelta(hours=1)  # a fixed config is picked up without a token change


def poll_due(account: Account, now: datetime, tolerance: float = 0.0) -> bool:
    """Due when the planned time has come, or comes within `tolerance` seconds
    (the daemon passes half its tick, so the tick nearest the plan takes it)."""
    return account.next_poll_at is None or account.next_poll_at <= now + timedelta(seconds=tolerance)


def next_plan(planned: datetime | None, every: int, now: datetime) -> datetime:
    """The next planned poll: one interval after the previous plan (not after
    whenever this poll began), or one after now when a whole interval was missed."""
    nxt = (planned or now) + timedelta(seconds=every)
    return nxt if nxt > now else now + timedelta(seconds=every)


def _account_for_poll(rt: Runtime, session, account_id: int) -> Account | None:
    """The account, leased to this replica (PostgreSQL: None when another holds it), or simply the row."""
    return rt.leases.take(session, account_id) if rt.leases else session.get(Account, account_id)


def _account_held(rt: Runtime, session, account_id: int) -> Account:
    """The account for writing a poll's results: LeaseLost if another replica took it over."""
    return rt.leases.check(session, account_id) if rt.leases else session.get(Account, account_id)


def _begin_poll(rt: Runtime, account_id: int, only_due: bool) -> dict | None:
    """Decide whether to poll; if so, note it and return the cursors (worker thread)."""
    now = rt.clock()
    token_fp = credential_identity(rt, account_id)
    with rt.sessions.begin() as session:
        acc = _account_for_poll(rt, session, account_id)
        if acc is None:
            return None  # another replica is polling it
        cursors = _plan_poll(rt, session, acc, token_fp, now, only_due)
        if cursors is None and rt.leases:
            rt.leases.release(acc)
        return cursors


def _plan_poll(rt: Runtime, session, acc: Account, token_fp: str | None, now: datetime, only_due: bool) -> dict | None:
    if acc.state in (AccountState.needs_reconnect.value, AccountState.misconfigured.value):
        if acc.token_fingerprint != token_fp:
            log.info("account %s: token changed, polling again", acc.id)
            acc.state, acc.reconnect_notified_at, acc.backoff_until = AccountState.ok.value, None, None
        elif acc.state == AccountState.needs_reconnect.value:
            return None  # waiting for a person to reconnect the account
    if acc.backoff_until and acc.backoff_until > now and acc.state != AccountState.ok.value:
        return None  # rate limited until then, or misconfigured: looked at again hourly
    every = webhook_pace(rt.config, acc, rt.poll_every[acc.id], now)  # slower while webhooks are trusted
    if only_due and not poll_due(acc, now, rt.tolerance):
        return None
    acc.token_fingerprint = token_fp
    acc.last_poll_at = now
    acc.next_poll_at = next_plan(acc.next_poll_at, every, now)
    start_backfill(acc, now, rt.config.polling.backfill_horizon)
    return load_cursors(session, acc.id)


def _store(rt: Runtime, account_id: int, batch) -> int:
    with rt.sessions.begin() as session:
        acc = _account_held(rt, session, account_id)
        stored = store_batch(session, acc, batch, rt.clock())
        acc.items_seen += stored
        acc.items_unreadable += batch.unreadable
        if batch.unreadable:
            acc.unreadable_at = rt.clock()
        return stored


def _record_success(rt: Runtime, account_id: int) -> None:
    with rt.sessions.begin() as session:
        acc = _account_held(rt, session, account_id)
        if acc.failures:
            log.info("account %s: recovered after %s failed poll(s)", acc.id, acc.failures)
        acc.state, acc.failures, acc.last_error, acc.backoff_until = AccountState.ok.value, 0, None, None
        started, acc.last_success_at = acc.last_poll_at, rt.clock()
        after_poll(session, rt.config, rt.alert_env, acc, started, rt.clock())
        # webhooks no longer trusted: back to the account's own pace from this poll, not the slow plan
        pace = timedelta(seconds=webhook_pace(rt.config, acc, rt.poll_every[account_id], rt.clock()))
        if acc.next_poll_at is None or started + pace < acc.next_poll_at:
            acc.next_poll_at = started + pace
        if rt.leases:
            rt.leases.release(acc)


async def poll_account(rt: Runtime, account_id: int, connector: Connector, report: CycleReport, only_due: bool) -> bool:
    """Fetch and store one account's new items, within the poll deadline. True if it polled
    (False too when another replica took the account over mid-poll: it polls it now)."""
    try:
        return await _poll(rt, account_id, connector, report, only_due)
    except LeaseLost as lost:
        log.warning("stopped polling account %s: %s (its lease ran out)", account_id, lost)
        return False


async def _poll(rt: Runtime, account_id: int, connector: Connector, report: CycleReport, only_due: bool) -> bool:
    cursors = await asyncio.to_thread(_begin_poll, rt, account_id, only_due)
    if cursors is None:
        return False
    failure: ConnectorError | None = None
    try:
        async with asyncio.timeout(rt.config.polling.deadline):
            with progress_task(f"{connector.platform} account {account_id}: fetching") as advance:
                async for batch in connector.fetch(cursors):
                    report.fetched += len(batch.items)
                    stored = await asyncio.to_thread(_store, rt, account_id, batch)
                    report.stored += stored  # after the await: `+= await` would lose another account's count
                    advance(len(batch.items))
    except ConnectorError as err:
        failure = err
    except LeaseLost:
        raise
    except TimeoutError:
        failure = TemporaryFailure(f"no complete answer within the poll deadline ({rt.config.polling.deadline} s)")
    except SQLAlchemyError as err:  # storing failed (locked, restarted); no cursor moved past what was committed
        log.debug("account %s: database error while storing", account_id, exc_info=True)  # may quote SQL params
        failure = TemporaryFailure(f"database error while storing ({type(err).__name__}); fetched again next poll")
    except Exception as err:  # a connector bug must not stop the other accounts
        log.debug("account %s: unexpected error", account_id, exc_info=True)  # debug only: may quote data
        failure = TemporaryFailure(f"unexpected {type(err).__name__} in the connector")
    if failure is not None:
        await asyncio.to_thread(_record_failure, rt, account_id, failure)
        report.failed_accounts.append(str(account_id))
        return True
    await _recheck(rt, account_id, connector)
    await asyncio.to_thread(_record_success, rt, account_id)
    return True


async def _recheck(rt: Runtime, account_id: int, connector: Connector) -> None:
    """The hourly re-read of recent comments (`monitor.recheck`), still under this poll's
    lease; it never fails the poll. Edited items are classified by the `process` that follows."""
    try:
        async with asyncio.timeout(rt.config.polling.deadline):
            await recheck_account(rt, account_id, connector)
    except TimeoutError:
        log.info("account %s: re-reading recent comments took longer than the poll deadline; trying again next poll",
                 account_id)


def _record_failure(rt: Runtime, account_id: int, err: ConnectorError) -> None:
    now = rt.clock()
    with rt.sessions.begin() as session:
        acc = _account_held(rt, session, account_id)
        if rt.leases:
            rt.leases.release(acc)
        first = acc.failures == 0
        acc.failures += 1
        acc.last_error = f"{type(err).__name__}: {err.detail}"
        if isinstance(err, RateLimited):
            acc.state, acc.backoff_until = AccountState.backing_off.value, err.until
            (log.warning if first else log.debug)("account %s: rate limited until %s", acc.id, err.until.isoformat())
        elif isinstance(err, AuthFailed):
            acc.state = AccountState.needs_reconnect.value
            if acc.reconnect_notified_at is None:
                acc.reconnect_notified_at = now
                permission = err.permission if isinstance(err, PermissionMissing) else None
                queue_admin_notice(
                    session,
                    rt.alert_env,
                    "reconnect",
                    {"account_name": acc.name, "platform": acc.platform, "problem": err.detail, "permission": permission,
                     "fix": _fix(rt, acc)},
                    dedup_key=f"reconnect:{acc.id}:{acc.token_fingerprint}",
                    now=now,
                )
            log.error("account %s: needs reconnecting (%s)", acc.id, type(err).__name__)
        elif isinstance(err, Misconfigured):
            acc.state, acc.backoff_until = AccountState.misconfigured.value, now + MISCONFIGURED_RETRY
            (log.error if first else log.debug)("account %s: misconfigured: %s", acc.id, err.detail)
        elif first:
            log.warning("account %s: polling failed, will retry next cycle: %s", acc.id, err.detail)


def _fix(rt: Runtime, acc: Account) -> str | None:
    ac = next((a for a in rt.config.accounts if (a.platform, a.id) == (acc.platform, acc.external_id)), None)
    return reconnect_fix(rt.config, ac) if ac is not None else None


def deliver(rt: Runtime, report: CycleReport) -> None:
    r = deliver_due(
        rt.sessions,
        rt.notifiers or rt.transport,
        rt.clock,
        from_addr=rt.config.email.from_,
        retry_for=rt.config.email.retry_for,
    )
    report.sent += r.sent
    problem = delivery_problem(rt.sessions)  # a channel known not to work (refused login, bad TLS), with the fix
    if problem is None and (r.failed or (r.retried and not r.sent)):
        problem = (f"{r.failed} message(s) refused for good, " if r.failed else "") + (
            f"{r.retried} to retry, {r.sent} sent")
    report.delivery_problem = problem or report.delivery_problem


def _process(rt: Runtime, report: CycleReport, until: float | None) -> None:
    """One classifier run at a time. A caller that finds one running asks it to go
    round again (and returns), rather than holding a worker thread while it waits."""
    rt.process_wanted.set()
    while rt.process_wanted.is_set():
        if not rt.process_lock.acquire(blocking=False):
            return
        try:
            rt.process_wanted.clear()
            classify_pending(rt, report, until=until)
            summarise_backfills(rt, report)
            deliver(rt, report)
        finally:
            rt.process_lock.release()


async def process(rt: Runtime, report: CycleReport, until: float | None = None) -> None:
    """Classify, alert, summarise backfills and deliver (worker thread)."""
    await asyncio.to_thread(_process, rt, report, until)


async def run_account(rt: Runtime, account_id: int, connector: Connector, report: CycleReport,
                      only_due: bool = True, until: float | None = None, limits: PollLimits | None = None) -> None:
    """Poll one account (within its platform's and app's limit of polls at
    once), then process what it brought at once."""
    started = time.monotonic()
    limits = limits or PollLimits(rt.config.concurrency)
    async with limits.slot(connector.platform, getattr(connector, "account", None)):
        API_PLATFORM.set(connector.platform)  # labels the account's API calls in /metrics (this task's context)
        polled = await poll_account(rt, account_id, connector, report, only_due)
    if polled:
        await process(rt, report, until)
        if rt.health:  # readiness, metrics and the dead-man's switch
            await rt.health.cycle_done(report, time.monotonic() - started)


async def run_cycle(rt: Runtime, *, only_due: bool = False, deadline: float | None = None,
                    limits: PollLimits | None = None) -> CycleReport:
    """Every account side by side (within `limits`, from `[concurrency]`), then
    whatever is still pending; all within `deadline` seconds (default: the poll
    deadline plus as long again to process)."""
    report = CycleReport()
    limits = limits or PollLimits(rt.config.concurrency)
    deadline = deadline or 2 * rt.config.polling.deadline
    until = time.monotonic() + deadline
    tasks = [asyncio.create_task(run_account(rt.for_account(a), a, c, report, only_due, until, limits))
             for a, c in rt.all_connectors.items()]  # a group: every setting's accounts
    if tasks:
        done, late = await asyncio.wait(tasks, timeout=deadline)
        for t in late:
            t.cancel()
            report.timed_out = True
        for t in done:
            if t.exception() is not None:
                raise t.exception()
    if time.monotonic() < until:
        for each in rt.every_setting:
            await process(each, report, until)
    else:
        report.timed_out = True
    return report
