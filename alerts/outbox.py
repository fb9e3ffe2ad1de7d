"""The outbox: queue in the caller's transaction; `alerts.delivery` sends it.

A row is one message to one address on one channel, queued in the same
transaction as the alert or notice it belongs to, once per dedup key. It holds
what the channel needs to render it (a template name and a JSON context), not
a rendered message: rendering happens at delivery, so a template fault fails
that one message and never the transaction that raised the alert.

Temporary delivery failures back off exponentially with jitter (`backoff`).
"""
from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from monitor.core.db import insert_ignoring_conflict
from monitor.core.models import OutboxMessage, OutboxState, Recipient

MAX_BACKOFF = timedelta(hours=1)


def _json_default(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot be queued in a message context")


def as_json(context: dict) -> dict:
    """The context as plain JSON data (dataclasses become objects, tuples lists)."""
    return json.loads(json.dumps(context, default=_json_default))


def enqueue(
    session: Session,
    *,
    setting_id: int,
    dedup_key: str,
    kind: str,
    template: str,
    context: dict,
    address: str,
    now: datetime,
    channel: str = "email",
    alert_id: int | None = None,
    recipient_id: int | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
) -> bool:
    """Queue one message; a second enqueue with the same dedup key does nothing."""
    payload = {"template": template, "context": as_json(context), "message_id": message_id, "in_reply_to": in_reply_to}
    inserted = insert_ignoring_conflict(
        session,
        OutboxMessage,
        dict(
            setting_id=setting_id,
            alert_id=alert_id,
            recipient_id=recipient_id,
            dedup_key=dedup_key,
            kind=kind,
            channel=channel,
            address=address,
            payload=payload,
            state=OutboxState.pending.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ),
        ["dedup_key"],
    )
    return inserted == 1


def enqueue_for(session: Session, recipient: Recipient, *, dedup_key: str, **message) -> int:
    """Queue a message to a person on every channel they have: email (under
    `dedup_key`) and each of their other addresses (`dedup_key:<channel>`).
    How many rows went in."""
    queued = int(enqueue(session, dedup_key=dedup_key, address=recipient.email, recipient_id=recipient.id, **message))
    for channel, address in sorted((recipient.addresses or {}).items()):
        queued += enqueue(session, dedup_key=f"{dedup_key}:{channel}", channel=channel, address=address,
                          recipient_id=recipient.id, **message)
    return queued


def backoff(attempts: int, rng: random.Random = random.Random()) -> timedelta:
    base = min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)
    return base * (0.5 + rng.random() / 2)  # "equal jitter"
