"""Database models (SQLAlchemy 2.0, typed).

Every row knows its setting, so one deployment can serve a nursery group.
Times are stored as timezone-aware UTC (`UTCDateTime` normalises SQLite, which
has no time zones).
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Index,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class Setting(Base):
    __tablename__ = "setting"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))


class Recipient(Base):
    """A person alerts go to, synced from config; tokens carry only its id."""

    __tablename__ = "recipient"
    __table_args__ = (UniqueConstraint("setting_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    roles: Mapped[list] = mapped_column(default=list)
    known_as: Mapped[list] = mapped_column(default=list)
    addresses: Mapped[dict] = mapped_column(default=dict)  # other channels: channel name -> address
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AccountState(str, enum.Enum):
    ok = "ok"
    backing_off = "backing_off"
    needs_reconnect = "needs_reconnect"
    misconfigured = "misconfigured"


class Account(Base):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("setting_id", "platform", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default=AccountState.ok.value)
    backoff_until: Mapped[datetime | None]
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_unreadable: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # skipped: did not parse
    unreadable_at: Mapped[datetime | None]  # when an item last could not be read (digest, /readyz)
    token_fingerprint: Mapped[str | None] = mapped_column(String(64))
    reconnect_notified_at: Mapped[datetime | None]
    webhook_at: Mapped[datetime | None]  # the last webhook event received for this account
    webhook_since: Mapped[datetime | None]  # webhooks trusted since then (None: poll at the normal pace)
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)  # planned from the previous plan, not from when a poll began
    # A first poll (or one after a long outage) is a backfill: items created before
    # `backfill_before` are summarised in one email, not alerted (pipeline.backfill).
    backfill_since: Mapped[datetime | None]
    backfill_before: Mapped[datetime | None]
    # Replicas on PostgreSQL (monitor.poll_leases): who is polling the account, until when.
    lease_holder: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]


class Cursor(Base):
    """Where an account's stream got to. Moves only with the items it covers."""

    __tablename__ = "cursor"
    __table_args__ = (UniqueConstraint("account_id", "stream", "parent"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    stream: Mapped[str] = mapped_column(String(50))
    parent: Mapped[str] = mapped_column(String(200), default="")
    value: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("account_id", "external_id"),
        Index("ix_item_pending", "classified_at"),
        Index("ix_item_thread", "account_id", "parent_external_id", "created_at"),  # monitor/threads.py
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_external_id: Mapped[str | None] = mapped_column(String(200))
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    permalink: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None]
    can_hide: Mapped[bool | None]
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hide_claimed_at: Mapped[datetime | None]  # a hide in progress (web/pages.py): one platform call per comment
    attachment_type: Mapped[str | None] = mapped_column(String(40))  # photo, sticker, animated_image_share...
    attachment_url: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime]
    classified_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]  # removed on the platform (a webhook or a re-read said so); the record stays
    source: Mapped[str | None] = mapped_column(String(200))  # where an item off the setting's own page was found
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)  # older than the first poll's horizon
    erased_at: Mapped[datetime | None]  # words erased (retention, privacy erase): never re-read

    account: Mapped[Account] = relationship()
    findings: Mapped[list["Finding"]] = relationship(back_populates="item", order_by="Finding.id")


class Finding(Base):
    __tablename__ = "finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    score: Mapped[float] = mapped_column(Float)
    detector: Mapped[str] = mapped_column(String(100), default="")
    evidence: Mapped[list] = mapped_column(default=list)
    alerting: Mapped[bool] = mapped_column(Boolean, default=True)

    item: Mapped[Item] = relationship(back_populates="findings")


class AlertState(str, enum.Enum):
    open = "open"
    acknowledged = "acknowledged"
    closed = "closed"


# state -> states it may move to
ALERT_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "closed"}),
    "acknowledged": frozenset({"closed"}),
    "closed": frozenset(),
}


class InvalidTransition(Exception):
    pass


class Alert(Base):
    """One alert per item, carrying all its categories."""

    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), unique=True)
    categories: Mapped[list] = mapped_column(default=list)
    severity: Mapped[str] = mapped_column(String(10))
    delivery: Mapped[str] = mapped_column(String(10), default="immediate")  # or "digest"
    state: Mapped[str] = mapped_column(String(20), default=AlertState.open.value, index=True)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("recipient.id"))
    action_note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]  # retention counts from here (docs/data-protection.md)

    item: Mapped[Item] = relationship()
    acknowledged_by: Mapped[Recipient | None] = relationship()

    def transition(self, to: str, when: datetime) -> None:
        if to not in ALERT_TRANSITIONS[self.state]:
            raise InvalidTransition(f"alert {self.id}: cannot go from {self.state} to {to}")
        self.state = to
        if to == AlertState.acknowledged.value:
            self.acknowledged_at = when
            self.next_escalation_at = None
        elif to == AlertState.closed.value:
            self.closed_at, self.next_escalation_at = when, None


class OutboxState(str, enum.Enum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # permanent: will not be retried


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as what caused it.

    Channel-neutral: `channel` names how it goes ("email", or a module in
    alerts/channels/), `address` where, and `payload` what the channel needs
    to render it ({"template", "context", "message_id", "in_reply_to"}).
    Rendering happens at delivery. `raw` holds a ready email only for rows
    queued before that (migration 0005).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipient.id"))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # alert, reminder, escalation, ack_notice, digest, admin
    channel: Mapped[str] = mapped_column(String(30), default="email")
    address: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict | None] = mapped_column(JSON)
    raw: Mapped[str | None] = mapped_column(Text)  # legacy: a whole RFC 5322 message
    state: Mapped[str] = mapped_column(String(10), default=OutboxState.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # host:pid:nonce of the claiming process
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class DeliveryProblem(Base):
    """A channel that cannot deliver anything until a person fixes its
    configuration (a refused SMTP login, an untrusted certificate). One row per
    channel while the problem lasts; the health endpoint and `run --once` read
    it (`alerts.delivery.delivery_problem`)."""

    __tablename__ = "delivery_problem"
    channel: Mapped[str] = mapped_column(String(30), primary_key=True)
    detail: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    next_probe_at: Mapped[datetime]


class AuditEvent(Base):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str | None] = mapped_column(String(320))  # recipient email or "system"
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class WebhookState(str, enum.Enum):
    pending = "pending"
    done = "done"
    failed = "failed"  # gave up after retries: kept for a person to look at


class WebhookEvent(Base):
    """One signed webhook delivery, stored before it is answered, processed later.

    `body` is the raw JSON exactly as signed; `digest` (its SHA-256) makes a
    replayed delivery a no-op.
    """

    __tablename__ = "webhook_event"
    __table_args__ = (Index("ix_webhook_event_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    source: Mapped[str] = mapped_column(String(20))  # "meta"
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=WebhookState.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class StoredCredential(Base):
    """An account's tokens from `nurserywatch connect` or a refresh: `sealed` is
    Fernet ciphertext (monitor.accounts.vault), never the token in clear.
    `version` goes up with every save, so a refresh that raced another is noticed."""

    __tablename__ = "credential"
    __table_args__ = (UniqueConstraint("setting_id", "platform", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("setting.id"))
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))  # page, oauth2, app_bearer, user_token
    sealed: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime | None]  # of the access token; None: does not expire
    scopes: Mapped[list] = mapped_column(default=list)  # permissions granted (not secret)
    label: Mapped[str | None] = mapped_column(String(200))  # what is watched: Page name, @handle
    updated_at: Mapped[datetime]


class LeaseRow(Base):
    """Who runs against this database: one row per name ("daemon"), renewed
    by its holder's heartbeat; a second daemon refuses to start while it holds."""

    __tablename__ = "lease"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))  # "pid 123 on host x"
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime]
