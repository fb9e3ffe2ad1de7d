"""An edit on the platform that adds a concern to an alerted comment raises the alert again.

Someone writes "lovely photos", a manager closes the criticism alert on a
later rude edit as handled, then the author edits again to add a disclosure:
the DSL must hear of it whatever state the alert is in. One alert per
comment, so the alert itself is raised again:

- the new wording's findings for the added categories join the alert (their
  evidence without spans: they quote words the stored text does not hold,
  because the alert keeps the wording people were first shown, the record of
  concern) and the alert takes the new categories;
- if the added concern is routed at once (not only to the digest), the alert
  is open again, whatever its state (acknowledged, even closed: the earlier
  outcome stays in the audit trail), nobody "has it", and an email with the
  new wording goes to everyone routed for it and everyone already told,
  never to anyone either wording names; escalation resumes from its rung.

An edit that adds nothing raises nothing (`monitor.recheck` notes it).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.ack import audit
from alerts.emails import highlight
from alerts.escalation import wait_for
from alerts.service import (
    AlertEnv, alert_context, choose_recipients, named_recipients, routed_roles, staff_named, told_ids,
)
from monitor.core.models import Alert, AlertState, AuditEvent, Finding, Recipient
from monitor.core.types import CATEGORIES, SEVERITIES, Classification
from monitor.core.webmodels import AlertOutcome


def added_categories(alert: Alert, result: Classification) -> list[str]:
    return [c for c in CATEGORIES if c in result.labels and c not in alert.categories]


def raise_again(session: Session, env: AlertEnv, alert: Alert, new_text: str, result: Classification,
                now: datetime) -> int:
    """Add the edit's new concerns to `alert` (caller's transaction); reopen it and
    email the people routed if a new concern is routed at once. Returns the emails queued
    (-1: nothing was added)."""
    added = added_categories(alert, result)
    if not added:
        return -1
    item = alert.item
    new = [f for f in result.findings if f.category in added]
    for f in new:
        item.findings.append(Finding(setting_id=alert.setting_id, category=f.category, severity=f.severity,
                                     score=float(f.score), detector=f.detector, alerting=True,
                                     evidence=[replace(e, start=0, end=0).to_json() for e in f.evidence]))
    alert.categories = [c for c in CATEGORIES if c in alert.categories or c in added]
    alert.severity = max([alert.severity, *(f.severity for f in new)], key=SEVERITIES.index)
    immediate, _digest = routed_roles(env, item.platform, [(f.category, f.severity) for f in new])
    if not immediate:
        return 0  # only for the digest: the alert carries it, the note says so
    if alert.state == AlertState.closed.value:
        session.execute(delete(AlertOutcome).where(AlertOutcome.alert_id == alert.id))  # kept in the audit trail
    # one alert per comment: raised again by hand, because no transition leads back to open
    alert.state, alert.closed_at = AlertState.open.value, None
    alert.acknowledged_at = alert.acknowledged_by_id = None
    more = alert.escalation_step < env.max_escalation_steps
    alert.next_escalation_at = now + timedelta(seconds=wait_for(env, alert.categories)) if more else None
    session.flush()
    audit(session, alert, env.setting_id, "reopened", None, now, added=added)
    session.flush()
    return _tell(session, env, alert, new_text, result, added, now)


def _tell(session: Session, env: AlertEnv, alert: Alert, new_text: str, result: Classification,
          added: list[str], now: datetime) -> int:
    """The alert's email again, with the new wording, to everyone routed for it now and everyone already told."""
    recipients = list(session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)))
    both = f"{alert.item.text}\n{new_text}"  # someone either wording names hears nothing
    immediate, _ = routed_roles(env, alert.item.platform, [(f.category, f.severity) for f in alert.item.findings
                                                           if f.alerting and f.category in alert.categories])
    named = named_recipients(recipients, both, alert.categories)
    to = {r.id for r in choose_recipients(recipients, immediate, both, alert.categories)}
    to |= told_ids(session, alert.id) - named
    raised = session.scalar(select(AuditEvent.id).where(AuditEvent.alert_id == alert.id,
                                                        AuditEvent.action == "reopened").order_by(AuditEvent.id.desc()))
    evidence = [e.to_json() for f in result.findings if f.category in alert.categories for e in f.evidence]
    queued = 0
    for r in recipients:
        if r.id not in to or not r.active:
            continue
        context = alert_context(env, alert, alert.item, r, step=1, kind="edited",
                                staff_named=bool(named) or staff_named(session, env, alert.item, alert.categories)) | {
            "segments": highlight(new_text, evidence), "added": added}
        queued += outbox.enqueue_for(session, r, setting_id=env.setting_id, dedup_key=f"{alert.id}:{r.id}:edited:{raised}",
                                     kind="edited", template="alert", context=context, now=now, alert_id=alert.id,
                                     in_reply_to=alert.message_id)
    return queued
