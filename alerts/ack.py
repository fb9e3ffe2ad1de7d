"""Acknowledging an alert: idempotent, audited, and told to the others.

The first acknowledgement wins and stops escalation; later ones are recorded
as audit events but change nothing. Everyone else who was emailed the alert
gets a short "taken by ... at ..." note in the same thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.service import AlertEnv, told_ids
from monitor.core.models import Alert, AlertState, AuditEvent, Recipient


@dataclass(frozen=True)
class Actor:
    recipient: Recipient
    ip: str | None
    user_agent: str | None


def audit(session: Session, alert: Alert | None, setting_id: int, action: str, actor: Actor | None, now: datetime, **detail) -> None:
    session.add(
        AuditEvent(
            setting_id=setting_id,
            alert_id=alert.id if alert else None,
            action=action,
            actor=actor.recipient.email if actor else "system",
            ip=actor.ip if actor else None,
            user_agent=(actor.user_agent or "")[:500] if actor else None,
            detail=detail,
            created_at=now,
        )
    )


def lock_alert(session: Session, alert_id: int) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())


def acknowledge(session: Session, env: AlertEnv, alert: Alert, actor: Actor, note: str | None, now: datetime) -> bool:
    """Acknowledge `alert` (locked by the caller). True if this was the first."""
    note = (note or "").strip()[:4000] or None
    if alert.state != AlertState.open.value:
        audit(session, alert, env.setting_id, "acknowledge_again", actor, now, note=note)
        return False
    alert.transition(AlertState.acknowledged.value, now)
    alert.acknowledged_by_id = actor.recipient.id
    alert.action_note = note
    audit(session, alert, env.setting_id, "acknowledge", actor, now, note=note)
    _notify_others(session, env, alert, actor.recipient, now)
    return True


def add_note(session: Session, env: AlertEnv, alert: Alert, actor: Actor, note: str | None, now: datetime) -> bool:
    """Record a note of action taken (any state). False if the note is empty."""
    note = (note or "").strip()[:4000]
    if not note:
        return False
    if alert.acknowledged_by_id == actor.recipient.id and not alert.action_note:
        alert.action_note = note
    audit(session, alert, env.setting_id, "note", actor, now, note=note)
    return True


def _notify_others(session: Session, env: AlertEnv, alert: Alert, by: Recipient, now: datetime) -> None:
    told = told_ids(session, alert.id)
    when = now.astimezone(env.timezone).strftime("%H:%M on %a %d %b")
    for r in session.scalars(select(Recipient).where(Recipient.id.in_(told - {by.id}))):
        outbox.enqueue_for(
            session, r, setting_id=env.setting_id, dedup_key=f"{alert.id}:{r.id}:ack_notice:0", kind="ack_notice",
            template="ack_notice",
            context={"by_name": by.name, "when": when, "categories": alert.categories, "platform": alert.item.platform,
                     "setting_name": env.setting_name},
            now=now, alert_id=alert.id, in_reply_to=alert.message_id,
        )
