"""Escalation of alerts nobody has acknowledged.

The ladder, one rung each `after` seconds (safeguarding_after for safeguarding,
other_after for the rest), bounded by `max_steps`:

  step 1: a reminder to the same people;
  step 2: also the deputy and the manager (safeguarding) or the manager;
  step 3 and later: also the owner.

In a group (the setting has an area manager) the chain goes on past the
setting's own people: step 3 adds the area manager (and, for safeguarding, the
group safeguarding lead), step 4 the owner; a group's `max_steps` is 4 unless
its file says otherwise (monitor.core.group).

Every rung still leaves out anyone the comment names. State lives on the alert
(`escalation_step`, `next_escalation_at`); a rung is claimed with a conditional
UPDATE on the step, so two workers never both take it, and the emails are
queued in the same transaction (dedup key alert:recipient:kind:step).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.service import AlertEnv, choose_recipients, queue_alert_email, told_ids
from monitor.core.models import Alert, AlertState, Recipient

log = logging.getLogger(__name__)


def rung_roles(categories: list[str], step: int, group: bool = False) -> set[str]:
    """Roles added (on top of everyone already told) at this step; `group`: the
    setting has an area manager, so the top of its chain is the group's people."""
    if step < 2:
        return set()
    roles = {"deputy", "manager"} if "safeguarding" in categories else {"manager"}
    if group:
        if step >= 3:
            roles |= {"area_manager", "group_dsl"} if "safeguarding" in categories else {"area_manager"}
        if step >= 4:
            roles.add("owner")
    elif step >= 3:
        roles.add("owner")
    return roles


def wait_for(env: AlertEnv, categories: list[str]) -> int:
    return env.safeguarding_after if "safeguarding" in categories else env.other_after


def _claim(session: Session, alert: Alert, now: datetime, next_at: datetime | None) -> bool:
    res = session.execute(
        update(Alert)
        .where(
            Alert.id == alert.id,
            Alert.state == AlertState.open.value,
            Alert.escalation_step == alert.escalation_step,
            Alert.next_escalation_at <= now,
        )
        .values(escalation_step=alert.escalation_step + 1, next_escalation_at=next_at)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


def escalate(session: Session, env: AlertEnv, alert: Alert, now: datetime, max_steps: int) -> int:
    """Take the alert's next rung (caller's transaction). Returns the emails queued,
    or -1 when there was no rung to take (past max_steps, or another worker took it)."""
    step = alert.escalation_step + 1
    if step > max_steps:
        session.execute(update(Alert).where(Alert.id == alert.id).values(next_escalation_at=None))
        return -1
    next_at = now + timedelta(seconds=wait_for(env, alert.categories)) if step < max_steps else None
    if not _claim(session, alert, now, next_at):
        return -1
    session.refresh(alert)
    recipients = list(session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)))
    already = told_ids(session, alert.id)
    group = any(r.active and "area_manager" in r.roles for r in recipients)
    new = {r.id for r in choose_recipients(recipients, rung_roles(alert.categories, step, group), alert.item.text,
                                           alert.categories)} if step >= 2 else set()
    queued = 0
    for r in recipients:
        if not r.active or r.id not in already | new:
            continue
        kind = "reminder" if r.id in already else "escalation"
        queued += queue_alert_email(session, env, alert, r, now, kind=kind, step=step)
    return queued


def run_escalations(sessions: sessionmaker[Session], env: AlertEnv, now: datetime, *, limit: int = 200) -> int:
    """Escalate every open alert that is due; how many alerts moved a rung."""
    with sessions() as session:
        due = session.scalars(
            select(Alert.id)
            .where(
                Alert.setting_id == env.setting_id,
                Alert.state == AlertState.open.value,
                Alert.next_escalation_at.is_not(None),
                Alert.next_escalation_at <= now,
            )
            .order_by(Alert.next_escalation_at)
            .limit(limit)
        ).all()
    moved = 0
    for alert_id in due:
        with sessions.begin() as session:
            alert = session.get(Alert, alert_id)
            if alert is None or alert.state != AlertState.open.value:
                continue
            queued = escalate(session, env, alert, now, env.max_escalation_steps)
            if queued >= 0:
                moved += 1
                log.info("alert %s: escalation step %s, %s email(s) queued", alert.id, alert.escalation_step, queued)
    return moved
