"""A small, real world for tests, benchmarks and demos of the alerts stage.

Builds a database (SQLite in a folder, or the PostgreSQL named by
NURSERYWATCH_TEST_DATABASE_URL, emptied first), a setting with five people in
the usual roles, one account, and helpers to add comments and raise alerts the
way the pipeline does. The clock is controllable. Nothing here touches the
network.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.email.render import build_email
from alerts.delivery import as_message
from alerts.service import AlertEnv, create_alert
from monitor.core.db import normalise_url, open_database
from monitor.core.models import Account, Alert, Finding, Item, OutboxMessage, Recipient
from monitor.core.settings import Config, config_from_dict
from monitor.core.store import sync_config
from monitor.core.types import Classification, Evidence
from monitor.core.types import Finding as FoundFinding

SECRET = "test-secret-key-0123456789abcdef"
TEST_DB_ENV = "NURSERYWATCH_TEST_DATABASE_URL"

PEOPLE = [
    {"name": "Dana Lewis", "email": "dana@acorns.example", "roles": ["dsl"], "known_as": ["Miss Dana"]},
    {"name": "Pat Okafor", "email": "pat@acorns.example", "roles": ["deputy"]},
    {"name": "Sam Patel", "email": "sam@acorns.example", "roles": ["manager"], "known_as": ["Mr Sam"]},
    {"name": "Olive Grant", "email": "olive@acorns.example", "roles": ["owner"]},
    {"name": "Jo Byrne", "email": "jo@acorns.example", "roles": ["admin"]},
]


class FakeClock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedHandler:
    """An aiosmtpd handler that accepts mail unless told otherwise:
    `rcpt_codes[address]` answers RCPT TO, `data_code` answers DATA."""

    def __init__(self):
        self.messages: list = []  # (mail_from, rcpt_tos, email.message.EmailMessage)
        self.rcpt_codes: dict[str, str] = {}
        self.data_code: str | None = None
        self.port: int | None = None
        self.connections: set = set()  # (host, port) of each client connection that sent mail

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.rcpt_codes.get(address)
        if code:
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        if self.data_code:
            return self.data_code
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.connections.add(session.peer)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for _f, rcpts, m in self.messages if address in rcpts]


def email_of(row: OutboxMessage, from_addr: str = "alerts@acorns.example"):
    """The email a queued row becomes when the email channel delivers it."""
    return build_email(as_message(row), from_addr)


def raw_of(row: OutboxMessage, from_addr: str = "alerts@acorns.example") -> str:
    """That email as it goes over SMTP."""
    msg = email_of(row, from_addr)
    return msg.as_string(policy=msg.policy)


def database_url(folder: Path) -> str:
    """A fresh, empty database for one test."""
    url = os.environ.get(TEST_DB_ENV)
    if not url:
        return f"sqlite:///{folder}/t.db"
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def make_config(folder: Path, db_url: str | None = None, **overrides) -> Config:
    data = {
        "setting": {"name": "Little Acorns Nursery", "timezone": "Europe/London"},
        "database": {"url": db_url or database_url(folder)},
        "web": {"base_url": "https://watch.acorns.example"},
        "email": {"from": "alerts@acorns.example", "outbox_dir": str(folder / "outbox")},
        "recipients": PEOPLE,
        "accounts": [{"platform": "facebook", "id": "1001", "name": "Little Acorns Facebook", "token_env": "NW_TEST_FB"}],
    }
    for key, value in overrides.items():
        data[key] = value
    return config_from_dict(data)


@dataclass
class World:
    config: Config
    sessions: sessionmaker[Session]
    clock: FakeClock
    env: AlertEnv
    setting_id: int
    account_id: int
    transport: object = None
    people: dict[str, int] = field(default_factory=dict)  # first name (lower) -> recipient id

    def add_item(
        self, text: str, *, platform: str = "facebook", author: str | None = "A Parent", can_hide: bool | None = True,
        permalink: str | None = "https://facebook.com/1001/posts/1?comment_id=9", posted: datetime | None = None,
        classified: bool = True,
    ) -> int:
        with self.sessions.begin() as s:
            n = s.scalar(select(Item.id).order_by(Item.id.desc()).limit(1)) or 0
            item = Item(
                setting_id=self.setting_id, account_id=self.account_id, platform=platform,
                external_id=f"c{n + 1}", kind="comment", author_name=author, text=text,
                created_at=posted or self.clock() - timedelta(minutes=2), permalink=permalink, can_hide=can_hide,
                is_hidden=False, fetched_at=self.clock(), needs_review=False,
                classified_at=self.clock() if classified else None,
            )
            s.add(item)
            s.flush()
            return item.id

    def raise_alert(self, text: str, findings: list[tuple[str, str]] | None = None, *, evidence: str | None = None,
                    reason: str = "flagged phrase", detector: str = "test", rule: str = "",
                    about: str | None = None, scores: dict | None = None, **item_kw) -> int | None:
        """Store a comment and raise its alert as the pipeline does: (category, severity) findings."""
        findings = findings or [("safeguarding", "high")]
        item_id = self.add_item(text, **item_kw)
        ev = ()
        if evidence:
            start = text.index(evidence)
            ev = (Evidence(start, start + len(evidence), evidence, reason, detector, rule, about, scores or {}),)
        found = tuple(FoundFinding(c, sev, 0.9, ev, "test") for c, sev in findings)
        result = Classification(labels=tuple(dict.fromkeys(c for c, _ in findings)), findings=found)
        with self.sessions.begin() as s:
            item = s.get(Item, item_id)
            for f in found:
                s.add(Finding(setting_id=self.setting_id, item_id=item_id, category=f.category, severity=f.severity,
                              score=f.score, detector=f.detector, evidence=[e.to_json() for e in f.evidence],
                              alerting=True))
            s.flush()
            s.refresh(item, ["findings"])
            alert = create_alert(s, self.env, item, result, self.clock())
            return alert.id if alert else None

    def close(self) -> None:
        self.sessions.dispose()

    def alert(self, alert_id: int) -> Alert:
        with self.sessions() as s:
            a = s.get(Alert, alert_id)
            a.item, a.acknowledged_by  # load for use after the session closes
            return a

    def recipient(self, first_name: str) -> Recipient:
        with self.sessions() as s:
            return s.get(Recipient, self.people[first_name.lower()])


def make_world(folder: Path, *, start: datetime | None = None, db_url: str | None = None, **config_overrides) -> World:
    """A world in `folder`; `db_url` (an empty database) overrides the default choice."""
    config = make_config(folder, db_url, **config_overrides)
    sessions = open_database(config.database.url)
    clock = FakeClock(start or datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc))
    with sessions.begin() as s:
        setting = sync_config(s, config)
        setting_id = setting.id
        account_id = s.scalar(select(Account.id).where(Account.setting_id == setting_id))
        people = {r.name.split()[0].lower(): r.id for r in s.scalars(select(Recipient))}
    env = AlertEnv.from_config(config, setting_id, SECRET)
    return World(config=config, sessions=sessions, clock=clock, env=env, setting_id=setting_id,
                 account_id=account_id, people=people)
