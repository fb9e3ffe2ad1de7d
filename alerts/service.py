"""Turn a classified item into one alert and its queued emails.

Runs inside the caller's transaction: the alert, its findings and its outbox
rows commit together or not at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.emails import build_message, highlight
from alerts.links import LinkSigner
from alerts.routing import Subject, route
from monitor.models import Alert, Item, Recipient
from monitor.settings import RouteConfig
from monitor.types import CATEGORIES, Classification

ROLE_NAMES = {"dsl": "Designated Safeguarding Lead", "deputy": "deputy DSL", "manager": "manager",
              "owner": "owner", "admin": "administrator"}


@dataclass
class AlertEnv:
    setting_id: int
    setting_name: str
    timezone: ZoneInfo
    from_addr: str
    signer: LinkSigner
    routes: list[RouteConfig] = field(default_factory=list)
    safeguarding_after: int = 1800
    other_after: int = 4 * 3600

    @property
    def mail_domain(self) -> str:
        return self.from_addr.rpartition("@")[2] or "nurserywatch.invalid"


def _names_of(r: Recipient) -> list[str]:
    names = [r.name, *r.known_as]
    first = r.name.split()[0] if r.name.split() else ""
    if len(first) > 2:
        names.append(first)
    return [n for n in names if n]


def named_in(text: str, r: Recipient) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE) for n in _names_of(r))


def choose_recipients(
    recipients: list[Recipient], roles: set[str], text: str, categories: list[str]
) -> list[Recipient]:
    """Recipients with the routed roles, never someone the comment names.

    When the named person is the DSL or the manager, the other of the two and
    the owner are told instead (an allegation never goes to its subject).
    """
    wanted = set(roles)
    excluded = {r.id for r in recipients if named_in(text, r)} if ("safeguarding" in categories or "criticism" in categories) else set()
    for r in recipients:
        if r.id in excluded and set(r.roles) & {"dsl", "manager", "deputy"}:
            wanted |= {"dsl", "manager", "owner"}
    return [r for r in recipients if r.active and r.id not in excluded and wanted & set(r.roles)]


def alert_context(env: AlertEnv, alert: Alert, item: Item, recipient: Recipient, step: int = 0) -> dict:
    evidence = [e for f in item.findings if f.alerting for e in f.evidence]
    return {
        "categories": alert.categories,
        "platform": item.platform,
        "posted_local": item.created_at.astimezone(env.timezone).strftime("%a %d %b %Y, %H:%M"),
        "author": item.author_name,
        "permalink": item.permalink,
        "segments": highlight(item.text, evidence),
        "reasons": alert_reasons(item),
        "ack_url": env.signer.url("ack", alert.id, recipient.id),
        "roles": " and ".join(ROLE_NAMES.get(r, r) for r in recipient.roles),
        "setting_name": env.setting_name,
        "step": step,
    }


def alert_reasons(item: Item) -> list[str]:
    reasons: list[str] = []
    for f in item.findings:
        if not f.alerting:
            continue
        for e in f.evidence:
            line = f'{e.get("reason", f.category)}: "{e.get("text", "")}"'
            if line not in reasons:
                reasons.append(line)
        if not f.evidence:
            reasons.append(f"{f.category} ({f.detector or 'classifier'}, score {f.score:.2f})")
    return reasons


def queue_alert_email(
    session: Session, env: AlertEnv, alert: Alert, recipient: Recipient, now: datetime, *, kind: str = "alert", step: int = 0
) -> bool:
    msg = build_message(
        kind="alert",
        context=alert_context(env, alert, alert.item, recipient, step),
        from_addr=env.from_addr,
        to_addr=recipient.email,
        message_id=alert.message_id if step == 0 else None,
        in_reply_to=alert.message_id if step > 0 else None,
        date=now,
    )
    return outbox.enqueue(
        session,
        setting_id=env.setting_id,
        dedup_key=f"{alert.id}:{recipient.id}:{kind}:{step}",
        kind=kind,
        msg=msg,
        now=now,
        alert_id=alert.id,
        recipient_id=recipient.id,
    )


def create_alert(session: Session, env: AlertEnv, item: Item, classification: Classification, now: datetime) -> Alert | None:
    """One alert per item with all its categories; emails queued per routing."""
    categories = [c for c in CATEGORIES if c in classification.labels]
    if not categories:
        return None
    severity = classification.severity or "medium"
    immediate: set[str] = set()
    digest: set[str] = set()
    for f in classification.findings:
        if f.category not in categories:
            continue
        for d in route(env.routes, Subject(f.category, f.severity, item.platform)):
            (immediate if d.when == "immediate" else digest).update(d.roles)
    alert = Alert(
        setting_id=env.setting_id,
        item_id=item.id,
        categories=categories,
        severity=severity,
        delivery="immediate" if immediate else "digest",
        state="open",
        created_at=now,
        message_id=f"<alert-{item.id}.{env.setting_id}@{env.mail_domain}>",
    )
    session.add(alert)
    session.flush()
    alert.item = item
    recipients = list(session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)))
    for r in choose_recipients(recipients, immediate, item.text, categories):
        queue_alert_email(session, env, alert, r, now)
    if immediate:
        wait = env.safeguarding_after if "safeguarding" in categories else env.other_after
        alert.next_escalation_at = now + timedelta(seconds=wait)
    return alert

