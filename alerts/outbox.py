"""The email outbox: queue in the caller's transaction, deliver later.

Rows are claimed with a conditional UPDATE, so two workers never send the same
row; a claim older than CLAIM_TIMEOUT is taken to be a crashed worker's and is
retried (the unavoidable at-least-once window). Temporary failures back off
exponentially with jitter for `retry_for` seconds; permanent ones stop at once.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.transport import DeliveryError, Transport, as_raw
from monitor.db import insert_ignoring_conflict
from monitor.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
MIN_ATTEMPTS = 3  # never give up on a temporary failure before this many tries

FailureHook = Callable[[Session, OutboxMessage, datetime], None]


class _NotifyAdmins:
    """Default permanent-failure hook: queue a `delivery_failed` notice to the admins."""

    def __repr__(self) -> str:
        return "NOTIFY_ADMINS"


NOTIFY_ADMINS = _NotifyAdmins()


def enqueue(
    session: Session,
    *,
    setting_id: int,
    dedup_key: str,
    kind: str,
    msg: EmailMessage,
    now: datetime,
    alert_id: int | None = None,
    recipient_id: int | None = None,
) -> bool:
    """Queue a message; a second enqueue with the same dedup key does nothing."""
    inserted = insert_ignoring_conflict(
        session,
        OutboxMessage,
        dict(
            setting_id=setting_id,
            alert_id=alert_id,
            recipient_id=recipient_id,
            dedup_key=dedup_key,
            kind=kind,
            to_addr=str(msg["To"]),
            subject=str(msg["Subject"]),
            raw=as_raw(msg),
            state=OutboxState.pending.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ),
        ["dedup_key"],
    )
    return inserted == 1


def backoff(attempts: int, rng: random.Random = random.Random()) -> timedelta:
    base = min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)
    return base * (0.5 + rng.random() / 2)  # "equal jitter"


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def _claim(session: Session, row_id: int, now: datetime) -> bool:
    stale = now - CLAIM_TIMEOUT
    res = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .where(
            or_(
                (OutboxMessage.state == OutboxState.pending.value) & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.state == OutboxState.sending.value) & (OutboxMessage.claimed_at < stale),
            )
        )
        .values(state=OutboxState.sending.value, claimed_at=now)
    )
    return res.rowcount == 1


def deliver_due(
    sessions: sessionmaker[Session],
    transport: Transport,
    clock: Callable[[], datetime],
    *,
    from_addr: str,
    retry_for: int,
    limit: int = 100,
    on_permanent_failure: FailureHook | _NotifyAdmins | None = NOTIFY_ADMINS,
) -> DeliveryReport:
    """Send what is due. A permanent failure (5xx, or temporary ones for longer
    than `retry_for`) marks the row failed and, by default, tells the admins."""
    if on_permanent_failure is NOTIFY_ADMINS:
        from alerts.notices import queue_delivery_failed  # notices builds on this module

        def on_permanent_failure(session: Session, row: OutboxMessage, now: datetime) -> None:
            queue_delivery_failed(session, row, now, from_addr=from_addr)

    report = DeliveryReport()
    now = clock()
    with sessions() as session:
        due = session.scalars(
            select(OutboxMessage.id)
            .where(
                or_(
                    (OutboxMessage.state == OutboxState.pending.value) & (OutboxMessage.next_attempt_at <= now),
                    (OutboxMessage.state == OutboxState.sending.value)
                    & (OutboxMessage.claimed_at < now - CLAIM_TIMEOUT),
                )
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    for row_id in due:
        with sessions.begin() as session:
            if not _claim(session, row_id, clock()):
                continue  # another worker has it
        with sessions() as session:
            row = session.get(OutboxMessage, row_id)
            raw, to_addr = row.raw, row.to_addr
        try:
            transport.send(raw, from_addr, to_addr)
        except DeliveryError as err:
            with sessions.begin() as session:
                row = session.get(OutboxMessage, row_id)
                now = clock()
                row.attempts += 1
                row.last_error = err.detail
                row.claimed_at = None
                gave_up = (now - row.created_at).total_seconds() > retry_for and row.attempts >= MIN_ATTEMPTS
                if err.permanent or gave_up:
                    row.state = OutboxState.failed.value
                    report.failed += 1
                    log.error("outbox %s: giving up after %s attempt(s): %s", row_id, row.attempts, err.detail)
                    if on_permanent_failure is not None:
                        on_permanent_failure(session, row, now)
                else:
                    row.state = OutboxState.pending.value
                    row.next_attempt_at = now + backoff(row.attempts)
                    report.retried += 1
                    if row.attempts == 1:
                        log.warning("outbox %s: delivery failed, will retry: %s", row_id, err.detail)
            continue
        with sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            row.state = OutboxState.sent.value
            row.sent_at = clock()
            row.attempts += 1
            row.claimed_at = None
        report.sent += 1
        log.info("outbox %s: sent (%s)", row_id, row.kind)
    return report
