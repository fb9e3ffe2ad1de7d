"""Closing an alert with an outcome, and what "not a concern" teaches.

Outcomes: handled; referred (to the DSL, the LADO, children's social care or
the police, with their reference); not a concern, which names the label that
was wrong and stores the comment as a labelled example for the setting
(`nurserywatch train --with-feedback` reads them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from alerts.ack import Actor, audit
from alerts.service import AlertEnv
from monitor.core.models import Alert, AlertState, Item
from monitor.core.types import CATEGORIES
from monitor.core.webmodels import OUTCOMES, REFERRED_TO, AlertOutcome, LabelledExample

REFERRED_NAMES = {"dsl": "the DSL", "lado": "the LADO", "social_care": "children's social care", "police": "the police"}
OUTCOME_NAMES = {"handled": "Handled", "referred": "Referred", "not_a_concern": "Not a concern"}


class OutcomeError(ValueError):
    """A close request that cannot be recorded, worded for the person closing."""


@dataclass(frozen=True)
class Closing:
    outcome: str
    referred_to: str | None = None
    reference: str | None = None
    wrong_labels: tuple[str, ...] = ()
    note: str | None = None

    def check(self, alert: Alert) -> None:
        if self.outcome not in OUTCOMES:
            raise OutcomeError("Choose an outcome: handled, referred or not a concern.")
        if self.outcome == "referred" and self.referred_to not in REFERRED_TO:
            raise OutcomeError("Say who it was referred to.")
        if self.outcome == "not_a_concern":
            if not self.wrong_labels:
                raise OutcomeError("Tick which label was wrong, so the classifier can learn from it.")
            if not set(self.wrong_labels) <= set(alert.categories):
                raise OutcomeError("Only a label the alert carried can be wrong.")


def close_alert(session: Session, env: AlertEnv, alert: Alert, actor: Actor, closing: Closing, now: datetime) -> None:
    """Close `alert` (locked by the caller) with its outcome; audited. Raises OutcomeError."""
    if alert.state == AlertState.closed.value:
        raise OutcomeError("This alert is already closed.")
    closing.check(alert)
    reference = (closing.reference or "").strip()[:200] or None
    note = (closing.note or "").strip()[:4000] or None
    alert.transition(AlertState.closed.value, now)
    alert.next_escalation_at = None
    session.add(AlertOutcome(
        setting_id=env.setting_id, alert_id=alert.id, outcome=closing.outcome,
        referred_to=closing.referred_to if closing.outcome == "referred" else None, reference=reference,
        wrong_labels=list(closing.wrong_labels), note=note, closed_by_id=actor.recipient.id, closed_at=now,
    ))
    audit(session, alert, env.setting_id, "close", actor, now, outcome=closing.outcome,
          referred_to=closing.referred_to if closing.outcome == "referred" else None, reference=reference,
          wrong_labels=list(closing.wrong_labels), note=note)
    if closing.outcome == "not_a_concern":
        item: Item = alert.item
        right = [c for c in alert.categories if c not in closing.wrong_labels]
        record_example(session, env.setting_id, item, "not_a_concern", right, actor.recipient.id, now)


def record_example(session: Session, setting_id: int, item: Item, source: str, labels: list[str],
                   by_id: int | None, now: datetime) -> LabelledExample:
    """Store (or update) the labelled example for this item and source."""
    labels = [c for c in CATEGORIES if c in labels]
    existing = session.query(LabelledExample).filter_by(item_id=item.id, source=source).one_or_none()
    if existing is not None:
        existing.labels, existing.created_by_id, existing.created_at = labels, by_id, now
        return existing
    example = LabelledExample(setting_id=setting_id, item_id=item.id, source=source, text=item.text,
                              platform=item.platform, labels=labels, created_by_id=by_id, created_at=now)
    session.add(example)
    return example
