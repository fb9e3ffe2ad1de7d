"""One cycle: fetch -> store -> classify -> alert -> deliver.

Each step commits its own work, so a crash at any point is picked up by the
next cycle: items whose cursor moved are stored; stored items that were not
classified are still marked pending; alerts have their emails queued in the
same transaction; queued emails are delivered until accepted.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import select

from alerts.notices import queue_admin_notice
from alerts.delivery import deliver_due
from alerts.service import create_alert
from connectors.base import (
    AuthFailed,
    Connector,
    ConnectorError,
    Misconfigured,
    PermissionMissing,
    RateLimited,
    TemporaryFailure,
)
from monitor.judging import classify_each, unjudged
from monitor.metrics import API_PLATFORM
from monitor.phrase_rules import PhraseRules
from monitor.roster import refresh_classifier
from monitor.core.models import Account, AccountState, Finding, Item
from monitor.recheck import recheck_due
from monitor.runtime import Runtime, credential_identity
from monitor.accounts.connect import reconnect_fix
from monitor.core.store import load_cursors, store_batch
from monitor.core.types import CycleReport
from monitor.limits import PollLimits
from monitor.webhook_health import after_poll, poll_every

log = logging.getLogger(__name__)

CLASSIFY_BATCH = 256
MISCONFIGURED_RETRY = timedelta(hours=1)  # a fixed config is picked up without a token change


def _poll_due(account: Account, every: int, now: datetime) -> bool:
    return account.last_poll_at is None or account.last_poll_at + timedelta(seconds=every) <= now


async def poll_account(rt: Runtime, account_id: int, connector: Connector, report: CycleReport, only_due: bool) -> None:
    now = rt.clock()
    token_fp = credential_identity(rt, account_id)
    with rt.sessions.begin() as session:
        acc = session.get(Account, account_id)
        every = next(a.poll_every for a in rt.config.accounts if (a.platform, a.id) == (acc.platform, acc.external_id))
        if acc.state in (AccountState.needs_reconnect.value, AccountState.misconfigured.value):
            if acc.token_fingerprint != token_fp:
                log.info("account %s: token changed, polling again", acc.id)
                acc.state, acc.reconnect_notified_at, acc.backoff_until = AccountState.ok.value, None, None
            elif acc.state == AccountState.needs_reconnect.value:
                return  # waiting for a person to reconnect the account
        if acc.backoff_until and acc.backoff_until > now and acc.state != AccountState.ok.value:
            return  # rate limited until then, or misconfigured: looked at again hourly
        every = poll_every(rt.config, acc, every, now)  # slower while webhooks are trusted
        if only_due and not _poll_due(acc, every, now):
            return
        acc.token_fingerprint = token_fp
        acc.last_poll_at = now
        cursors = load_cursors(session, account_id)

    try:
        async for batch in connector.fetch(cursors):
            report.fetched += len(batch.items)
            with rt.sessions.begin() as session:
                acc = session.get(Account, account_id)
                stored = store_batch(session, acc, batch, rt.clock())
                acc.items_seen += stored
                acc.items_unreadable += batch.unreadable
                report.stored += stored
    except ConnectorError as err:
        _record_failure(rt, account_id, err)
        report.failed_accounts.append(str(account_id))
        return
    except Exception as err:  # a connector bug must not stop the other accounts
        log.debug("account %s: unexpected error", account_id, exc_info=True)  # debug only: may quote data
        _record_failure(rt, account_id, TemporaryFailure(f"unexpected {type(err).__name__} in the connector"))
        report.failed_accounts.append(str(account_id))
        return
    with rt.sessions.begin() as session:
        acc = session.get(Account, account_id)
        if acc.failures:
            log.info("account %s: recovered after %s failed poll(s)", acc.id, acc.failures)
        acc.state, acc.failures, acc.last_error, acc.backoff_until = AccountState.ok.value, 0, None, None
        acc.last_success_at = rt.clock()
        after_poll(session, rt.config, rt.alert_env, acc, now, rt.clock())


def _record_failure(rt: Runtime, account_id: int, err: ConnectorError) -> None:
    now = rt.clock()
    with rt.sessions.begin() as session:
        acc = session.get(Account, account_id)
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


def classify_pending(rt: Runtime, report: CycleReport) -> None:
    """Classify stored items not yet classified; alert on what warrants it."""
    refresh_classifier(rt)  # a roster edited on the Roster page is used from the next cycle
    while True:
        with rt.sessions() as session:
            pending = session.scalars(
                select(Item)
                .where(Item.setting_id == rt.setting_id, Item.classified_at.is_(None))
                .order_by(Item.id)
                .limit(CLASSIFY_BATCH)
            ).all()
        if not pending:
            return
        outcomes = classify_each(rt.classifier, [(i.text, i.platform, i.rating) for i in pending])
        with rt.sessions() as session:  # the setting's own always/never phrases, read each batch
            rules = PhraseRules.load(session, rt.setting_id)
        outcomes = [rules.apply(i.text, o) for i, o in zip(pending, outcomes)]
        results = []
        for item, outcome in zip(pending, outcomes):
            if isinstance(outcome, Exception):
                log.error("item %s: classifier failed (%s); marked for human review", item.id, type(outcome).__name__)
                outcome = unjudged(outcome)
            results.append(outcome)
        now = rt.clock()
        with rt.sessions.begin() as session:
            for item, result in zip(pending, results):
                item = session.get(Item, item.id)
                if item.classified_at is not None:
                    continue  # another worker got there first
                for f in result.findings:
                    session.add(
                        Finding(
                            setting_id=item.setting_id,
                            item_id=item.id,
                            category=f.category,
                            severity=f.severity,
                            score=float(f.score),
                            detector=f.detector,
                            evidence=[e.to_json() for e in f.evidence],
                            alerting=f.category in result.labels,
                        )
                    )
                item.classified_at = now
                item.needs_review = result.needs_review
                session.flush()
                session.refresh(item, ["findings"])
                if create_alert(session, rt.alert_env, item, result, now) is not None:
                    report.alerts += 1
                    log.info("item %s: alert raised (%s)", item.id, ",".join(result.labels))
        report.classified += len(pending)


def deliver(rt: Runtime, report: CycleReport) -> None:
    r = deliver_due(
        rt.sessions,
        rt.notifiers or rt.transport,
        rt.clock,
        from_addr=rt.config.email.from_,
        retry_for=rt.config.email.retry_for,
    )
    report.sent += r.sent


async def run_cycle(rt: Runtime, *, only_due: bool = False, limits: PollLimits | None = None) -> CycleReport:
    report, started = CycleReport(), time.monotonic()
    limits = limits or PollLimits(rt.config.concurrency)

    async def poll_one(account_id: int, connector: Connector) -> None:
        async with limits.slot(connector.platform, getattr(connector, "account", None)):  # side by side, within each platform's and app's limit
            API_PLATFORM.set(connector.platform)  # labels the account's API calls in /metrics (this task's context)
            await poll_account(rt, account_id, connector, report, only_due)

    await asyncio.gather(*(poll_one(a, c) for a, c in rt.connectors.items()))
    await recheck_due(rt)  # edits, hides and deletions made on the platforms
    classify_pending(rt, report)
    deliver(rt, report)
    if rt.health:  # readiness, metrics and the dead-man's switch
        await rt.health.cycle_done(report, time.monotonic() - started)
    return report
