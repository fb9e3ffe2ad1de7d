"""Turn a classified item into one alert and its queued emails.

Runs inside the caller's transaction: the alert, its findings and its outbox
rows commit together or not at all.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.emails import highlight, safe_url
from alerts.links import LinkSigner
from alerts.policy import CATEGORY_TITLES
from alerts.routing import Subject, route
from monitor.core.platforms import attachment_words
from monitor.core.models import Alert, Item, OutboxMessage, Recipient
from monitor.core.platforms import off_page
from monitor.core.settings import Config, RouteConfig
from monitor.core.types import CATEGORIES, Classification, Evidence

ROLE_NAMES = {"dsl": "the Designated Safeguarding Lead", "deputy": "a deputy DSL", "manager": "the manager",
              "owner": "the owner", "admin": "an administrator", "area_manager": "the area manager",
              "group_dsl": "the group safeguarding lead"}

# Categories where naming a person makes the comment an allegation about them.
ALLEGATION_CATEGORIES = frozenset({"safeguarding", "criticism"})
# When nobody routed is left (all named, or the role is missing), who hears instead.
FALLBACK_ROLES = ("owner", "manager", "dsl", "deputy", "area_manager", "group_dsl", "admin")
# Kinds of outbox message that put a person "on" an alert.
ALERTING_KINDS = ("alert", "reminder", "escalation", "edited")  # edited: raised again by an edit (alerts/edits.py)


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
    max_escalation_steps: int = 3
    poll_every: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, account id) -> seconds
    reconcile_every: int | None = None  # the slower pace of an account whose webhooks are trusted

    @property
    def mail_domain(self) -> str:
        return self.from_addr.rpartition("@")[2] or "nurserywatch.invalid"

    @classmethod
    def from_config(cls, config: Config, setting_id: int, secret_key: str) -> "AlertEnv":
        return cls(
            setting_id=setting_id,
            setting_name=config.setting.name,
            timezone=config.setting.tz,
            from_addr=config.email.from_,
            signer=LinkSigner(secret_key, config.web.base_url, config.web.link_max_age),
            routes=list(config.routes),
            safeguarding_after=config.escalation.safeguarding_after,
            other_after=config.escalation.other_after,
            max_escalation_steps=config.escalation.max_steps,
            poll_every={(a.platform, a.id): a.poll_every for a in config.accounts},
            reconcile_every=config.webhooks.meta.reconcile_every if config.webhooks.meta else None,
        )


def _names_of(r: Recipient) -> list[str]:
    names = [r.name, *r.known_as]
    first = r.name.split()[0] if r.name.split() else ""
    if len(first) > 2:
        names.append(first)
    return [n for n in names if n.strip()]


def named_in(text: str, r: Recipient) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(n.strip())}(?!\w)", text, re.IGNORECASE) for n in _names_of(r))


def named_recipients(recipients: Iterable[Recipient], text: str, categories: Iterable[str]) -> set[int]:
    """Ids of the people an allegation names (by name, first name or `known_as`)."""
    if not ALLEGATION_CATEGORIES & set(categories):
        return set()
    return {r.id for r in recipients if named_in(text, r)}


def choose_recipients(
    recipients: list[Recipient], roles: set[str], text: str, categories: list[str]
) -> list[Recipient]:
    """Active recipients with the routed roles, never someone the comment names.

    When the named person is the DSL (or deputy) the manager and the owner are
    told as well; when it is the manager, the DSL and the owner. In a group,
    a safeguarding allegation naming the manager or the DSL also goes to the
    group safeguarding lead, and criticism naming them to the area manager
    (roles nobody has in a single setting, so nothing changes there). If that leaves
    nobody, the first role in FALLBACK_ROLES with someone not named is used, so
    an alert is never routed to no one.
    """
    active = [r for r in recipients if r.active]
    excluded = named_recipients(active, text, categories)
    wanted = set(roles)
    for r in active:
        if r.id not in excluded:
            continue
        if {"dsl", "deputy"} & set(r.roles):
            wanted |= {"manager", "owner"}
        if "manager" in r.roles:
            wanted |= {"dsl", "owner"}
        if {"dsl", "deputy", "manager"} & set(r.roles):
            wanted.add("group_dsl" if "safeguarding" in categories else "area_manager")
    chosen = [r for r in active if r.id not in excluded and wanted & set(r.roles)]
    if chosen or not roles:
        return chosen
    for role in FALLBACK_ROLES:
        chosen = [r for r in active if r.id not in excluded and role in r.roles]
        if chosen:
            return chosen
    return []


def routed_roles(env: AlertEnv, platform: str, findings: Iterable[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """(immediate roles, digest-only roles) for an item's (category, severity) findings."""
    immediate: set[str] = set()
    digest: set[str] = set()
    for category, severity in findings:
        for d in route(env.routes, Subject(category, severity, platform)):
            (immediate if d.when == "immediate" else digest).update(d.roles)
    return immediate, digest - immediate


def _alert_findings(alert: Alert) -> list[tuple[str, str]]:
    return [(f.category, f.severity) for f in alert.item.findings if f.alerting and f.category in alert.categories]


def told_ids(session: Session, alert_id: int) -> set[int]:
    """Recipients already emailed about this alert (first email, reminders, escalations)."""
    return set(
        session.scalars(
            select(OutboxMessage.recipient_id).where(
                OutboxMessage.alert_id == alert_id, OutboxMessage.kind.in_(ALERTING_KINDS)
            )
        )
    ) - {None}


def audience(session: Session, env: AlertEnv, alert: Alert) -> list[Recipient]:
    """Everyone who should see this alert: routed (at once or in the digest) or already told."""
    recipients = list(session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)))
    immediate, digest = routed_roles(env, alert.item.platform, _alert_findings(alert))
    chosen = {r.id for r in choose_recipients(recipients, immediate | digest, alert.item.text, alert.categories)}
    chosen |= told_ids(session, alert.id)
    return [r for r in recipients if r.id in chosen and r.active]


def alert_context(
    env: AlertEnv, alert: Alert, item: Item, recipient: Recipient, step: int = 0, kind: str = "alert",
    staff_named: bool = False,
) -> dict:
    evidence = [e for f in item.findings if f.alerting for e in f.evidence]
    return {
        "categories": alert.categories,
        "platform": item.platform,
        "posted_local": item.created_at.astimezone(env.timezone).strftime("%a %d %b %Y, %H:%M"),
        "author": item.author_name,
        "permalink": safe_url(item.permalink),
        "off_page": off_page(item.platform, item.kind),
        "source": item.source,
        "segments": highlight(item.text, evidence),
        "attachment": attachment_words(item.attachment_type),
        "reasons": alert_reasons(item),
        "ack_url": env.signer.url("ack", alert.id, recipient.id),
        "roles": " and ".join(ROLE_NAMES.get(r, r) for r in recipient.roles),
        "setting_name": env.setting_name,
        "step": step,
        "kind": kind,
        "waited": _waited(alert, env),
        "staff_named": staff_named and "safeguarding" in alert.categories,
    }


def staff_named(session: Session, env: AlertEnv, item: Item, categories: list[str]) -> bool:
    """True when the comment names a member of staff (a recipient, or the evidence is about staff)."""
    if any(Evidence.from_json(e).about == "staff" for f in item.findings if f.alerting for e in f.evidence):
        return True
    recipients = session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id))
    return bool(named_recipients(recipients, item.text, categories))


def _waited(alert: Alert, env: AlertEnv) -> str:
    after = env.safeguarding_after if "safeguarding" in (alert.categories or []) else env.other_after
    minutes = after * max(alert.escalation_step, 1) // 60
    return f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"


def alert_reasons(item: Item) -> list[str]:
    """Why the comment was flagged, in the plain words the evidence carries (never scores or rule ids)."""
    reasons: list[str] = []
    for f in item.findings:
        if not f.alerting:
            continue
        title = CATEGORY_TITLES.get(f.category, f.category)
        lines = [f'{ev.reason or title}: "{ev.text}"' if ev.text else (ev.reason or title)
                 for ev in map(Evidence.from_json, f.evidence)] or [title]
        for line in lines:
            if line not in reasons:
                reasons.append(line)
    return reasons


def queue_alert_email(
    session: Session, env: AlertEnv, alert: Alert, recipient: Recipient, now: datetime, *, kind: str = "alert", step: int = 0
) -> int:
    """Queue one alert message to a person (on each of their channels); rendered at delivery.
    Step 0 carries the alert's Message-ID; later ones thread under it."""
    return outbox.enqueue_for(
        session,
        recipient,
        setting_id=env.setting_id,
        dedup_key=f"{alert.id}:{recipient.id}:{kind}:{step}",
        kind=kind,
        template="alert",
        context=alert_context(env, alert, alert.item, recipient, step, kind,
                              staff_named=staff_named(session, env, alert.item, alert.categories)),
        now=now,
        alert_id=alert.id,
        message_id=alert.message_id if step == 0 else None,
        in_reply_to=alert.message_id if step > 0 else None,
    )


def create_alert(session: Session, env: AlertEnv, item: Item, classification: Classification, now: datetime,
                 *, recipients: list[Recipient] | None = None) -> Alert | None:
    """One alert per item with all its categories; emails queued per routing.

    Idempotent: an item that already has an alert gets it back, with no new emails.
    `recipients` (the setting's, loaded once by a caller alerting on a batch) saves a query per alert.
    """
    categories = [c for c in CATEGORIES if c in classification.labels]
    if not categories:
        return None
    existing = session.scalar(select(Alert).where(Alert.item_id == item.id))
    if existing is not None:
        return existing
    severity = classification.severity or "medium"
    immediate, _digest = routed_roles(
        env, item.platform, [(f.category, f.severity) for f in classification.findings if f.category in categories]
    )
    alert = Alert(
        setting_id=env.setting_id,
        item_id=item.id,
        categories=categories,
        severity=severity,
        delivery="immediate" if immediate else "digest",
        state="open",
        created_at=now,
        escalation_step=0,
        message_id=f"<alert-{item.id}.{secrets.token_hex(6)}@{env.mail_domain}>",
    )
    session.add(alert)
    session.flush()
    alert.item = item
    if recipients is None:
        recipients = list(session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)))
    for r in choose_recipients(recipients, immediate, item.text, categories):
        queue_alert_email(session, env, alert, r, now)
    if immediate:
        wait = env.safeguarding_after if "safeguarding" in categories else env.other_after
        alert.next_escalation_at = now + timedelta(seconds=wait)
    return alert
