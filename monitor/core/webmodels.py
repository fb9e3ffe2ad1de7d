"""Tables for the manager's web app: sign-in, sessions, outcomes and what
people teach the classifier (labelled examples, phrase rules, the roster).

Kept beside `models.py` rather than in it so the alerting tables stay short;
`monitor/core/migrations/env.py` imports both.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from monitor.core.models import Base

OUTCOMES = ("handled", "referred", "not_a_concern")
REFERRED_TO = ("dsl", "lado", "social_care", "police")
PHRASE_ACTIONS = ("always", "never")
ROSTER_KINDS = ("child", "staff")


class LoginToken(Base):
    """One emailed sign-in link (the signed token carries this row's id);
    `used_at` makes it single-use, `created_at` makes it expire."""

    __tablename__ = "login_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored.
    `alert_id` set: a session opened from an alert email, good for that alert only."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """A sign-in request, by hashed address or by IP, for rate limiting."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime]


class AlertOutcome(Base):
    """How an alert was closed: handled, referred (to whom, with a reference) or not a concern."""

    __tablename__ = "alert_outcome"
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(20))
    referred_to: Mapped[str | None] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    wrong_labels: Mapped[list] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    closed_at: Mapped[datetime]


class LabelledExample(Base):
    """A comment a person labelled: "not a concern" (labels it should not have had)
    or "this needed a human" (labels it should have had). Training data for the setting."""

    __tablename__ = "labelled_example"
    __table_args__ = (UniqueConstraint("item_id", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"))
    source: Mapped[str] = mapped_column(String(20))  # not_a_concern | needed_human
    text: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(20))
    labels: Mapped[list] = mapped_column(default=list)  # the labels it should carry
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("recipient.id"))
    created_at: Mapped[datetime]


class PhraseRule(Base):
    """Always (or never) raise `label` when a comment contains `phrase`, for one setting."""

    __tablename__ = "phrase_rule"
    __table_args__ = (UniqueConstraint("setting_id", "phrase", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    phrase: Mapped[str] = mapped_column(String(200))  # stored lower-cased
    label: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))  # always | never
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("recipient.id"))
    created_at: Mapped[datetime]


class RosterPerson(Base):
    """A child or member of staff the classifier should recognise. Leavers are deleted."""

    __tablename__ = "roster_person"
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # child | staff
    first_name: Mapped[str] = mapped_column(String(100))
    surname: Mapped[str] = mapped_column(String(100), default="")
    room: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
