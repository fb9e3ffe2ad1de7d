"""`nurserywatch test-alert --config FILE [--to EMAIL]`: one clearly marked test
alert through the real route (routing, the outbox, the configured SMTP
server), whose link opens the real acknowledgement page.

The alert belongs to a "Test alert" account that is never polled, carries no
comment from anyone (its text says what it is), is never escalated, and its
subject starts with [TEST] so nobody mistakes it for a real concern. Pressing
"I've got this" on it proves the link works end to end.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Callable, TextIO

from sqlalchemy import select

from alerts.delivery import deliver_due
from alerts.service import AlertEnv, create_alert
from alerts.channels.email import Transport
from monitor.core.db import open_database
from monitor.core.models import Account, Finding, Item, OutboxMessage, Recipient
from monitor.core.group import load_setting
from monitor.core.settings import Config, ConfigError, add_config_option
from monitor.core.store import sync_config
from monitor.core.types import Classification, Evidence
from monitor.core.types import Finding as FoundFinding

TEST_ACCOUNT = "nurserywatch-test-alert"
TEXT = ("This is a TEST alert from nurserywatch, sent with `nurserywatch test-alert` to check that alerts reach "
        "you and that the link in them works. Nobody wrote this and nothing needs doing: open the link and press "
        "\"I've got this\" to confirm it works.")


def _mark_test(row: OutboxMessage) -> None:
    """The email is rendered at delivery: the context's `test` flag puts [TEST] in its subject."""
    row.payload = {**row.payload, "context": {**row.payload["context"], "test": True}}


def send_test_alert(config: Config, sessions, transport: Transport, clock: Callable[[], datetime],
                    to: str | None = None) -> tuple[int, list[str]]:
    """Queue and send the test alert; returns (alert id, addresses it was sent to)."""
    now = clock()
    with sessions.begin() as session:
        setting = sync_config(session, config)
        people = [r for r in session.scalars(select(Recipient).where(Recipient.setting_id == setting.id)) if r.active]
        if to and to.lower() not in {r.email for r in people}:
            raise ConfigError(f"--to {to}: not a recipient in the configuration (the link is signed for a recipient); "
                              f"recipients are: {', '.join(r.email for r in people)}")
        account = session.scalar(select(Account).where(Account.setting_id == setting.id, Account.platform == "demo",
                                                       Account.external_id == TEST_ACCOUNT))
        if account is None:
            account = Account(setting_id=setting.id, platform="demo", external_id=TEST_ACCOUNT, name="Test alert")
            session.add(account)
            session.flush()
        item = Item(setting_id=setting.id, account_id=account.id, platform="demo", external_id=f"test-{now.timestamp():.0f}",
                    kind="comment", author_name="nurserywatch (test)", text=TEXT, created_at=now, fetched_at=now,
                    classified_at=now, can_hide=False)
        session.add(item)
        session.flush()
        start = TEXT.index("TEST alert")
        ev = Evidence(start, start + len("TEST alert"), "TEST alert", "this is a test, not a real concern", "test-alert")
        finding = FoundFinding("safeguarding", "high", 1.0, (ev,), "test-alert")
        session.add(Finding(setting_id=setting.id, item_id=item.id, category="safeguarding", severity="high", score=1.0,
                            detector="test-alert", evidence=[ev.to_json()], alerting=True))
        session.flush()
        session.refresh(item, ["findings"])
        env = AlertEnv.from_config(config, setting.id, config.secret(config.web.secret_key_env, "web.secret_key_env"))
        alert = create_alert(session, env, item, Classification(labels=("safeguarding",), findings=(finding,)), now)
        alert.next_escalation_at = None  # a test is never escalated
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id)).all()
        sent_to = []
        for row in rows:
            if to and row.address.lower() != to.lower():
                session.delete(row)
                continue
            _mark_test(row)
            row.dedup_key = "test-" + row.dedup_key
            sent_to.append(row.address)
        if to and not sent_to:  # the route would not reach them for safeguarding: address them directly
            from alerts.service import queue_alert_email

            person = next(r for r in people if r.email == to.lower())
            queue_alert_email(session, env, alert, person, now)
            row = session.scalar(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id))
            _mark_test(row)
            sent_to.append(row.address)
        alert_id = alert.id
    deliver_due(sessions, transport, clock, from_addr=config.email.from_, retry_for=config.email.retry_for)
    return alert_id, sent_to


def cmd_test_alert(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from monitor.runtime import make_transport

    out = out or sys.stdout
    config = load_setting(args.config, args.setting)
    db = open_database(config.database.url)
    try:
        alert_id, sent_to = send_test_alert(config, db, make_transport(config), lambda: datetime.now(timezone.utc),
                                            args.to)
        with db() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert_id)).all()
            states = {r.address: (r.state, r.last_error) for r in rows}
    finally:
        db.dispose()
    failed = 0
    for addr in sent_to:
        state, error = states.get(addr, ("missing", None))
        if state == "sent":
            print(f"sent to {addr}", file=out)
        else:
            failed += 1
            print(f"NOT sent to {addr}: {state}" + (f" ({error})" if error else ""), file=out)
    print(f"test alert {alert_id}: open the link in the email and press \"I've got this\"; it is never escalated",
          file=out)
    return 1 if failed or not sent_to else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("test-alert", help="send a clearly marked test alert through the real route")
    add_config_option(p)
    p.add_argument("--to", metavar="EMAIL", help="only to this recipient (default: whoever a safeguarding alert reaches)")
    p.set_defaults(func=cmd_test_alert)
