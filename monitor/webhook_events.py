"""Webhook events, off the request: queue -> claim -> complete -> store -> alert.

The web route only verifies the signature and queues the raw delivery
(`queue_event`); a replayed delivery has the same digest and is not queued
twice. `process_due` claims due events with a conditional UPDATE (a second
worker is safe), turns each change into store changes through the account's
own connector (a targeted fetch fills in what the payload leaves out), and
applies them. The store's (account, external id) key makes a comment that
arrives both by webhook and by polling one item and one alert.

Edits (a stored comment that comes again with other words, whatever the
platform calls it: Instagram sends no "edited" verb) are handled as the hourly
re-read handles them (`monitor.recheck.apply_changes`), at once: an item
nobody was alerted about is re-classified with its new text; once an alert
exists, the stored text stays what people were shown (the record of concern),
the new wording is classified and noted on the alert, and one that adds a
concern raises the alert again. Hides and removals mark the item; a removal
of an alerted item is an audit event too.

A failing fetch is retried with backoff, then the event is marked failed
(kept, logged by id); a delivery that is not a Meta payload fails at once.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from alerts.ack import audit
from connectors.base import ConnectorError, RateLimited, TemporaryFailure
from connectors.facebook.webhook import resolve as resolve_facebook
from connectors.instagram.webhook import resolve as resolve_instagram
from connectors.webhook import Change, MalformedDelivery, meta_changes
from monitor.core.db import insert_ignoring_conflict
from monitor.core.models import Account, Alert, Item, WebhookEvent, WebhookState
from monitor.core.store import store_batch
from monitor.core.types import Batch, CycleReport, ItemChange
from monitor.pipeline import process
from monitor.recheck import apply_changes
from monitor.runtime import Runtime
from monitor.webhook_health import heard

log = logging.getLogger(__name__)

RESOLVERS: dict[str, Callable[..., Awaitable[list[Change]]]] = {
    "facebook": resolve_facebook,
    "instagram": resolve_instagram,
}
CLAIM_BATCH = 50
FETCH_AT_ONCE = 8  # targeted fetches in flight per batch
MAX_ATTEMPTS = 8  # backoff 1, 2, 4 ... 64 minutes: about two hours, then failed
STALE_CLAIM = timedelta(minutes=5)  # a worker that died mid-event loses its claim


def queue_event(session: Session, setting_id: int, source: str, raw: bytes, now: datetime) -> bool:
    """Store a verified delivery as received; False when it was already queued (a replay)."""
    row = dict(setting_id=setting_id, source=source, digest=hashlib.sha256(raw).hexdigest(),
               body=raw.decode("utf-8"), state=WebhookState.pending.value, attempts=0,
               received_at=now, next_attempt_at=now)
    return insert_ignoring_conflict(session, WebhookEvent, row, ["digest"]) == 1


@dataclass
class EventReport:
    events: int = 0
    stored: int = 0
    failed: int = 0


def _accounts(rt: Runtime) -> dict[tuple[str, str], int]:
    """(platform, webhook entry id) -> account id: a Page's id, an Instagram user's id,
    over every setting of a group (the app's webhook deliveries are queued once, under the first)."""
    out: dict[tuple[str, str], int] = {}
    for each in rt.every_setting:
        with rt.sessions() as session:
            rows = session.scalars(select(Account).where(Account.setting_id == each.setting_id))
            by_key = {(a.platform, a.external_id): a.id for a in rows}
        for ac in each.config.accounts:
            account_id = by_key.get((ac.platform, ac.id))
            if account_id is not None:
                out[(ac.platform, ac.id)] = account_id
                if ig_user_id := getattr(ac.options, "ig_user_id", None):
                    out[(ac.platform, str(ig_user_id))] = account_id
    return out


def _claim(rt: Runtime, now: datetime) -> list[int]:
    with rt.sessions.begin() as session:
        due = session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.setting_id == rt.setting_id, WebhookEvent.state == WebhookState.pending.value,
                   WebhookEvent.next_attempt_at <= now,
                   or_(WebhookEvent.claimed_at.is_(None), WebhookEvent.claimed_at < now - STALE_CLAIM))
            .order_by(WebhookEvent.id)
            .limit(CLAIM_BATCH)
        ).all()
        claimed = []
        for event_id in due:
            won = session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == event_id, WebhookEvent.state == WebhookState.pending.value,
                       or_(WebhookEvent.claimed_at.is_(None), WebhookEvent.claimed_at < now - STALE_CLAIM))
                .values(claimed_at=now)
            ).rowcount
            if won:
                claimed.append(event_id)
        return claimed


async def process_due(rt: Runtime, *, batches: int | None = None) -> EventReport:
    """Claim and process due events, CLAIM_BATCH at a time (all of them when `batches` is None).

    Within a batch the targeted fetches run side by side (at most FETCH_AT_ONCE);
    what they found is applied in the order the deliveries arrived, so an edit
    or a removal never overtakes the comment it is about.
    """
    report = EventReport()
    accounts = _accounts(rt)
    done = 0
    while (batches is None or done < batches) and (ids := _claim(rt, rt.clock())):
        done += 1
        report.events += len(ids)
        gate = asyncio.Semaphore(FETCH_AT_ONCE)

        async def resolve(event_id: int) -> tuple[int, object]:
            async with gate:
                try:
                    return event_id, await _resolve(rt, event_id, accounts)
                except Exception as err:  # kept as a value: applied (or retried) in order below
                    return event_id, err

        for event_id, outcome in await asyncio.gather(*(resolve(i) for i in ids)):
            _settle(rt, event_id, outcome, report)
    return report


async def _resolve(rt: Runtime, event_id: int, accounts: dict) -> list[tuple[int, list[Change]]]:
    """The event's changes, completed through the connectors: [(account id, changes)]."""
    with rt.sessions() as session:
        body = session.get(WebhookEvent, event_id).body
    try:
        changes = meta_changes(json.loads(body), rt.clock())
    except ValueError as err:  # bad JSON included
        raise MalformedDelivery(str(err)) from None
    out = []
    for mc in changes:
        account_id = accounts.get((mc.platform, mc.entry_id))
        connector = rt.all_connectors.get(account_id) if account_id else None
        if connector is None:
            log.info("webhook: %s %s is not a watched account; change ignored", mc.platform, mc.entry_id)
            continue
        out.append((account_id, await RESOLVERS[mc.platform](connector, mc)))
    return out


def _settle(rt: Runtime, event_id: int, outcome: object, report: EventReport) -> None:
    if isinstance(outcome, MalformedDelivery):
        _finish(rt, event_id, WebhookState.failed, f"not a Meta webhook payload: {outcome}"[:500])
        log.error("webhook event %s: not a Meta webhook payload; marked failed", event_id)
        report.failed += 1
    elif isinstance(outcome, ConnectorError):
        _retry(rt, event_id, outcome, report)
    elif isinstance(outcome, Exception):  # a bug must not lose the event: retried, then kept as failed
        log.debug("webhook event %s: unexpected error", event_id, exc_info=outcome)  # debug only: may quote data
        _retry(rt, event_id, TemporaryFailure(f"unexpected {type(outcome).__name__}"), report)
    else:
        now = rt.clock()
        with rt.sessions.begin() as session:
            for account_id, changes in outcome:
                acc = session.get(Account, account_id)
                heard(acc, now)
                for ch in changes:
                    report.stored += apply(session, rt.for_account(account_id), acc, ch, now)
            ev = session.get(WebhookEvent, event_id)
            ev.state, ev.processed_at, ev.claimed_at, ev.last_error = WebhookState.done.value, now, None, None


def _finish(rt: Runtime, event_id: int, state: WebhookState, error: str | None) -> None:
    with rt.sessions.begin() as session:
        ev = session.get(WebhookEvent, event_id)
        ev.state, ev.processed_at, ev.claimed_at, ev.last_error = state.value, rt.clock(), None, error


def _retry(rt: Runtime, event_id: int, err: ConnectorError, report: EventReport) -> None:
    now = rt.clock()
    with rt.sessions.begin() as session:
        ev = session.get(WebhookEvent, event_id)
        ev.attempts += 1
        ev.claimed_at, ev.last_error = None, f"{type(err).__name__}: {err.detail}"[:500]
        if ev.attempts >= MAX_ATTEMPTS:
            ev.state, ev.processed_at = WebhookState.failed.value, now
            report.failed += 1
            log.error("webhook event %s: gave up after %s attempts (%s)", event_id, ev.attempts, type(err).__name__)
            return
        wait = timedelta(minutes=2 ** (ev.attempts - 1))
        ev.next_attempt_at = max(err.until, now + wait) if isinstance(err, RateLimited) else now + wait
        log.warning("webhook event %s: %s; retrying at %s", event_id, type(err).__name__, ev.next_attempt_at.isoformat())


def apply(session: Session, rt: Runtime, acc: Account, ch: Change, now: datetime) -> int:
    """One store change in the caller's transaction (`rt`: the account's setting); how many new items it stored."""
    if ch.action == "upsert" and ch.item is not None:
        stored = store_batch(session, acc, Batch(items=[ch.item]), now)
        acc.items_seen += stored
        if not stored:
            _edited(session, rt, acc, ch)
        return stored
    item = session.scalar(select(Item).where(Item.account_id == acc.id, Item.external_id == ch.external_id))
    if item is None:
        return 0  # never stored (before nurserywatch watched, or an item kind it skips)
    if ch.action in ("hidden", "unhidden"):
        item.is_hidden = ch.action == "hidden"
    elif ch.action == "removed" and item.removed_at is None:
        item.removed_at = now
        if (alert := session.scalar(select(Alert).where(Alert.item_id == item.id))) is not None:
            audit(session, alert, acc.setting_id, "removed_on_platform", None, now)
    return 0


def _edited(session: Session, rt: Runtime, acc: Account, ch: Change) -> None:
    """A stored comment came again: if its words changed, the edit is read as the re-read reads it."""
    stored = session.scalar(select(Item.text).where(Item.account_id == acc.id, Item.external_id == ch.external_id))
    if stored is not None and stored != ch.item.text:
        apply_changes(rt, session, acc, [ItemChange(ch.external_id, text=ch.item.text)])


async def process_and_alert(rt: Runtime) -> EventReport:
    """What the daemon runs when a delivery arrives: a batch of events, then
    classify, alert and send at once (off the event loop: the pages keep
    answering), and again while more are waiting (so a steady stream of
    events never holds back the alerts of the first ones)."""
    total = EventReport()
    while (report := await process_due(rt, batches=1)).events:
        total.events, total.stored, total.failed = (total.events + report.events, total.stored + report.stored,
                                                    total.failed + report.failed)
        for each in rt.every_setting:  # a group: each setting classifies and alerts its own
            await process(each, CycleReport())  # one classifier run at a time (its process_lock), then SMTP
    return total
