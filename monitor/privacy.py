"""Retention, subject access and erasure (UK GDPR), with the safeguarding exception.

What is erased loses its words, not its existence: an item keeps its id,
platform, kind and times (so it is never fetched, classified or alerted
twice), and an alert keeps its categories, times and who acknowledged it
(the audit stub a safeguarding lead may need). The text, the author, the
link, the evidence spans, staff notes and email bodies go.

- `apply_retention`: items that raised nothing, after `unflagged_after`; sent
  email bodies after `sent_email_after`; closed alerts after
  `closed_alerts_after` (safeguarding: `closed_safeguarding_after`); labelled
  examples (copies of comments kept to teach the classifier) after
  `labelled_examples_after`; web sessions and sign-in links `sign_ins_after`
  they ended or expired; sign-in attempts (hashed address or IP) once past
  the rate-limit window they serve.
- `export_author`: everything held about an author, as a dict for JSON.
- `erase_author`: erase an author's items and the labelled examples copied
  from them, except those that are part of an open or still-retained
  safeguarding alert (DPA 2018 Sch.1 para 18); the refusal names the alert
  and the reason.

Every run is an audit event holding item ids and counts, never the name.
On SQLite, `secure_delete` (set on every connection) overwrites what is
erased and a WAL checkpoint removes the old page copies; `vacuum` rewrites the
file on the `vacuum_every` schedule. docs/data-protection.md explains it all.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.db import Database
from monitor.core.models import (
    Alert, AlertState, AuditEvent, Finding, Item, OutboxMessage, OutboxState,
)
from monitor.core.settings import RetentionConfig
from monitor.core.webmodels import LabelledExample, LoginAttempt, LoginToken, WebSession
from monitor.web.auth import IDLE_LIMIT, LINK_LIFETIME, RATE_WINDOW

log = logging.getLogger(__name__)

ERASED = {"erased": True}  # an outbox row's payload once its content is erased
WITHDRAWN = "withdrawn: the comment it was about was erased"


@dataclass
class RetentionReport:
    unflagged_items: int = 0
    email_bodies: int = 0
    closed_alerts: int = 0
    labelled_examples: int = 0
    sign_ins: int = 0  # web sessions and sign-in links
    login_attempts: int = 0
    vacuumed: bool = False


@dataclass
class ErasureReport:
    erased_items: list[int] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)  # item id -> why it was kept


def _erase_items(session: Session, item_ids: list[int], now: datetime) -> None:
    """Erase the words of these items and everything quoting them; `erased_at`
    keeps the platform re-reads and webhooks from bringing the words back."""
    if not item_ids:
        return
    session.execute(update(Item).where(Item.id.in_(item_ids))
                    .values(text="", author_name=None, author_id=None, permalink=None, erased_at=now))
    session.execute(update(Finding).where(Finding.item_id.in_(item_ids)).values(evidence=[]))
    alert_ids = list(session.scalars(select(Alert.id).where(Alert.item_id.in_(item_ids))))
    if alert_ids:
        session.execute(update(Alert).where(Alert.id.in_(alert_ids)).values(action_note=None))
        session.execute(update(AuditEvent).where(AuditEvent.alert_id.in_(alert_ids)).values(detail={}))
        unsent = OutboxMessage.state.in_((OutboxState.pending.value, OutboxState.sending.value))
        session.execute(update(OutboxMessage).where(OutboxMessage.alert_id.in_(alert_ids), unsent)
                        .values(state=OutboxState.failed.value, last_error=WITHDRAWN))
        session.execute(update(OutboxMessage).where(OutboxMessage.alert_id.in_(alert_ids)).values(payload=ERASED, raw=None))


def _has_words():
    return or_(Item.text != "", Item.author_name.is_not(None), Item.author_id.is_not(None))


def _audit(session: Session, setting_id: int, action: str, actor: str, now: datetime, **detail) -> None:
    session.add(AuditEvent(setting_id=setting_id, action=action, actor=actor, detail=detail, created_at=now))


def apply_retention(sessions: Database, setting_id: int, cfg: RetentionConfig, now: datetime,
                    *, actor: str = "system") -> RetentionReport:
    report = RetentionReport()
    with sessions.begin() as s:
        unflagged = list(s.scalars(
            select(Item.id).where(
                Item.setting_id == setting_id,
                Item.classified_at.is_not(None),
                Item.fetched_at < now - timedelta(seconds=cfg.unflagged_after),
                ~select(Alert.id).where(Alert.item_id == Item.id).exists(),
                _has_words(),
            )
        ))
        _erase_items(s, unflagged, now)
        report.unflagged_items = len(unflagged)

        old_messages = [row_id for row_id, payload in s.execute(
            select(OutboxMessage.id, OutboxMessage.payload)
            .where(OutboxMessage.setting_id == setting_id,
                   OutboxMessage.state.in_((OutboxState.sent.value, OutboxState.failed.value)),
                   OutboxMessage.created_at < now - timedelta(seconds=cfg.sent_email_after))
        ) if payload != ERASED]
        if old_messages:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(old_messages)).values(payload=ERASED, raw=None))
        report.email_bodies = len(old_messages)

        expired = []
        for alert_id, item_id, categories, closed_at in s.execute(
            select(Alert.id, Alert.item_id, Alert.categories, Alert.closed_at)
            .join(Item, Item.id == Alert.item_id)
            .where(Alert.setting_id == setting_id, Alert.state == AlertState.closed.value,
                   Alert.closed_at.is_not(None), _has_words())
        ):
            keep = cfg.closed_safeguarding_after if "safeguarding" in (categories or []) else cfg.closed_alerts_after
            if closed_at < now - timedelta(seconds=keep):
                expired.append(item_id)
        _erase_items(s, expired, now)
        report.closed_alerts = len(expired)
        _expire_web_records(s, setting_id, cfg, now, report)

        if report.unflagged_items or report.email_bodies or report.closed_alerts or report.labelled_examples:
            _audit(s, setting_id, "retention", actor, now, **{k: v for k, v in asdict(report).items() if k != "vacuumed"},
                   unflagged_item_ids=unflagged, closed_alert_item_ids=expired)
            log.info("retention: erased %s unflagged item(s), %s email body(ies), %s closed alert(s), "
                     "%s labelled example(s)", report.unflagged_items, report.email_bodies, report.closed_alerts,
                     report.labelled_examples)
        if report.sign_ins or report.login_attempts:
            log.info("retention: removed %s ended sign-in(s) and %s old sign-in attempt(s)",
                     report.sign_ins, report.login_attempts)
        last_vacuum = s.scalar(select(func.max(AuditEvent.created_at))
                               .where(AuditEvent.setting_id == setting_id, AuditEvent.action == "vacuum"))
        due = last_vacuum is None or last_vacuum < now - timedelta(seconds=cfg.vacuum_every)
        if due:
            _audit(s, setting_id, "vacuum", actor, now)
    flush_erased(sessions)
    if due:
        vacuum(sessions)
        report.vacuumed = True
    return report


def _expire_web_records(s: Session, setting_id: int, cfg: RetentionConfig, now: datetime,
                        report: RetentionReport) -> None:
    """The web app's own records: labelled examples after their period; sessions and
    sign-in links once ended or expired, plus `sign_ins_after`; sign-in attempts once
    older than the rate-limit window (all they are for)."""
    report.labelled_examples = s.execute(delete(LabelledExample).where(
        LabelledExample.setting_id == setting_id,
        LabelledExample.created_at < now - timedelta(seconds=cfg.labelled_examples_after))).rowcount
    grace = timedelta(seconds=cfg.sign_ins_after)
    report.sign_ins = s.execute(delete(WebSession).where(
        WebSession.setting_id == setting_id,
        or_(WebSession.ended_at < now - grace, WebSession.last_seen_at < now - IDLE_LIMIT - grace))).rowcount
    report.sign_ins += s.execute(delete(LoginToken).where(
        LoginToken.setting_id == setting_id, LoginToken.created_at < now - LINK_LIFETIME - grace)).rowcount
    # attempts carry no setting (the key is a hashed address or an IP): any older than the window goes
    report.login_attempts = s.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - RATE_WINDOW)).rowcount


def flush_erased(sessions: sessionmaker[Session]) -> None:
    """SQLite: copy the WAL into the file and empty it, so the pages that held
    the erased words (zeroed by secure_delete) replace the old ones."""
    with sessions() as s:
        if s.bind.dialect.name == "sqlite":
            s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def vacuum(sessions: Database) -> None:
    """Rewrite the database so no free page keeps old data (VACUUM, outside a transaction)."""
    with sessions.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")
    flush_erased(sessions)


def _author_clause(author: str):
    return or_(Item.author_id == author, func.lower(Item.author_name) == author.lower())


def export_author(sessions: sessionmaker[Session], setting_id: int, author: str, now: datetime,
                  *, actor: str) -> dict:
    """Everything held about an author (by platform id or exact name), for a subject access request."""
    with sessions.begin() as s:
        items = s.scalars(select(Item).where(Item.setting_id == setting_id, _author_clause(author))
                          .order_by(Item.id)).all()
        out = []
        for it in items:
            alert = s.scalar(select(Alert).where(Alert.item_id == it.id))
            entry = {
                "item_id": it.id, "platform": it.platform, "kind": it.kind, "external_id": it.external_id,
                "author_name": it.author_name, "author_id": it.author_id, "text": it.text,
                "permalink": it.permalink, "created_at": _iso(it.created_at), "fetched_at": _iso(it.fetched_at),
                "classified_at": _iso(it.classified_at), "rating": it.rating,
                "findings": [{"category": f.category, "severity": f.severity, "score": f.score,
                              "detector": f.detector, "evidence": f.evidence} for f in it.findings],
                "labelled_examples": [{"source": e.source, "labels": e.labels, "text": e.text,
                                       "created_at": _iso(e.created_at)} for e in s.scalars(
                    select(LabelledExample).where(LabelledExample.item_id == it.id).order_by(LabelledExample.id))],
                "alert": None,
            }
            if alert is not None:
                events = s.scalars(select(AuditEvent).where(AuditEvent.alert_id == alert.id).order_by(AuditEvent.id))
                emails = s.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id)
                                   .order_by(OutboxMessage.id))
                entry["alert"] = {
                    "id": alert.id, "categories": alert.categories, "state": alert.state,
                    "created_at": _iso(alert.created_at), "acknowledged_at": _iso(alert.acknowledged_at),
                    "closed_at": _iso(alert.closed_at), "note": alert.action_note,
                    "events": [{"action": e.action, "at": _iso(e.created_at), "detail": e.detail} for e in events],
                    "messages": [{"channel": m.channel, "to": m.address, "kind": m.kind, "state": m.state,
                                  "sent_at": _iso(m.sent_at)} for m in emails],
                }
            out.append(entry)
        _audit(s, setting_id, "privacy_export", actor, now, item_ids=[i["item_id"] for i in out])
    return {"author": author, "exported_at": _iso(now), "items": out}


def erase_author(sessions: sessionmaker[Session], setting_id: int, author: str, cfg: RetentionConfig,
                 now: datetime, *, actor: str) -> ErasureReport:
    """Erase an author's items, keeping those that belong to a safeguarding record."""
    report = ErasureReport()
    with sessions.begin() as s:
        for item_id, alert_id, categories, state, closed_at in s.execute(
            select(Item.id, Alert.id, Alert.categories, Alert.state, Alert.closed_at)
            .outerjoin(Alert, Alert.item_id == Item.id)
            .where(Item.setting_id == setting_id, _author_clause(author)).order_by(Item.id)
        ):
            if alert_id is not None and "safeguarding" in (categories or []):
                retained = state != AlertState.closed.value or closed_at is None or \
                    closed_at >= now - timedelta(seconds=cfg.closed_safeguarding_after)
                if retained:
                    report.kept[item_id] = (
                        f"part of safeguarding alert {alert_id} ({state}): kept under the safeguarding exception "
                        "(DPA 2018 Sch.1 para 18) until its retention period after closing ends"
                    )
                    continue
            report.erased_items.append(item_id)
        _erase_items(s, report.erased_items, now)
        if report.erased_items:  # the copies kept to teach the classifier go with them
            s.execute(delete(LabelledExample).where(LabelledExample.item_id.in_(report.erased_items)))
        _audit(s, setting_id, "privacy_erase", actor, now,
               erased_item_ids=report.erased_items, kept_item_ids=sorted(report.kept))
    flush_erased(sessions)
    log.info("privacy: erased %s item(s), kept %s for safeguarding", len(report.erased_items), len(report.kept))
    return report


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None
