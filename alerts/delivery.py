"""Send what the outbox holds.

Rows are claimed with a conditional UPDATE, so two workers never send the same
row; a claim older than CLAIM_TIMEOUT is taken to be a crashed worker's and is
retried (the unavoidable at-least-once window). Temporary failures back off
(`outbox.backoff`) for `retry_for` seconds; permanent ones stop at once and,
by default, tell the admins (`notices.queue_delivery_failed`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.notices import queue_delivery_failed
from alerts.outbox import backoff
from alerts.transport import DeliveryError, Transport
from monitor.core.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=10)
MIN_ATTEMPTS = 3  # never give up on a temporary failure before this many tries

FailureHook = Callable[[Session, OutboxMessage, datetime], None]


class _NotifyAdmins:
    """Default permanent-failure hook: queue a `delivery_failed` notice to the admins."""

    def __repr__(self) -> str:
        return "NOTIFY_ADMINS"


NOTIFY_ADMINS = _NotifyAdmins()


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
