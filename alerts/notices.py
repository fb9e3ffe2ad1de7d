"""Operational notices to the admins: an account to reconnect, mail that bounced.

They go to recipients with the `admin` role, or to the managers when nobody
has it. Dedup keys make each notice go once per cause.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.service import AlertEnv
from monitor.core.models import OutboxMessage, Recipient, Setting

log = logging.getLogger(__name__)


def admin_recipients(session: Session, setting_id: int) -> list[Recipient]:
    people = [r for r in session.scalars(select(Recipient).where(Recipient.setting_id == setting_id)) if r.active]
    admins = [r for r in people if "admin" in r.roles]
    return admins or [r for r in people if "manager" in r.roles]


def _queue(
    session: Session, *, setting_id: int, setting_name: str, kind: str, context: dict,
    dedup_key: str, now: datetime, skip: set[int] = frozenset(),
) -> int:
    queued = 0
    for r in admin_recipients(session, setting_id):
        if r.id in skip:
            continue
        queued += outbox.enqueue_for(
            session, r, setting_id=setting_id, dedup_key=f"{dedup_key}:{r.id}", kind=kind, template=kind,
            context={"setting_name": setting_name, "name": r.name, **context}, now=now,
        )
    return queued


def queue_admin_notice(
    session: Session, env: AlertEnv, kind: str, context: dict, *, dedup_key: str, now: datetime
) -> int:
    return _queue(session, setting_id=env.setting_id, setting_name=env.setting_name, kind=kind, context=context, dedup_key=dedup_key, now=now)


def queue_delivery_failed(session: Session, row: OutboxMessage, now: datetime) -> int:
    """Tell the admins an email was refused for good. Never about a failed notice
    of this kind (no loops), never to the address that refused it."""
    if row.kind == "delivery_failed":
        return 0
    setting = session.get(Setting, row.setting_id)
    queued = _queue(
        session,
        setting_id=row.setting_id,
        setting_name=setting.name if setting else "",
        kind="delivery_failed",
        context={"failed_kind": row.kind, "outbox_id": row.id, "failed_to": row.address, "channel": row.channel,
                 "error": row.last_error or ""},
        dedup_key=f"delivery_failed:{row.id}",
        now=now,
        skip={row.recipient_id} if row.recipient_id else set(),
    )
    if not queued:
        log.error("outbox %s: permanent failure and no admin to tell", row.id)
    return queued
