"""Operational notices to the admins: an account to reconnect, mail that bounced.

They go to recipients with the `admin` role, or to the managers when nobody
has it. Dedup keys make each notice go once per cause.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.emails import build_message
from alerts.service import AlertEnv
from monitor.models import Recipient


def admin_recipients(session: Session, setting_id: int) -> list[Recipient]:
    people = [r for r in session.scalars(select(Recipient).where(Recipient.setting_id == setting_id)) if r.active]
    admins = [r for r in people if "admin" in r.roles]
    return admins or [r for r in people if "manager" in r.roles]


def queue_admin_notice(
    session: Session, env: AlertEnv, kind: str, context: dict, *, dedup_key: str, now: datetime
) -> int:
    queued = 0
    for r in admin_recipients(session, env.setting_id):
        msg = build_message(
            kind=kind,
            context={"setting_name": env.setting_name, "name": r.name, **context},
            from_addr=env.from_addr,
            to_addr=r.email,
            date=now,
        )
        queued += outbox.enqueue(
            session, setting_id=env.setting_id, dedup_key=f"{dedup_key}:{r.id}", kind=kind, msg=msg, now=now,
            recipient_id=r.id,
        )
    return queued
