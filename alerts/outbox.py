"""The email outbox: queue in the caller's transaction; `alerts.delivery` sends it.

A message is queued in the same transaction as the alert or notice it belongs
to, once per dedup key. Temporary delivery failures back off exponentially
with jitter (`backoff`).
"""
from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.orm import Session

from alerts.transport import as_raw
from monitor.core.db import insert_ignoring_conflict
from monitor.core.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)


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
