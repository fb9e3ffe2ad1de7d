"""Channel-neutral delivery: a second channel needs only a module and a config
section; rendering happens at delivery, so a template fault fails one message
(and tells the admin) instead of blocking classification; rows queued before
the outbox became channel-neutral still go out."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined
from sqlalchemy import select, text

from alerts import channels
from alerts.channels import DeliveryError, Message, build_notifiers
from alerts.channels.email import render as email_render
from alerts.channels.email.transport import SmtpTransport
from alerts.delivery import deliver_due
from alerts.testing import PEOPLE, FakeClock, make_config
from monitor.core.db import make_engine, open_database, upgrade
from monitor.core.models import Alert, OutboxMessage
from monitor.core.settings import ConfigError


class Pager:
    """A whole channel in a few lines: records what it is asked to deliver."""

    def __init__(self, options: dict):
        self.options = options
        self.delivered: list[Message] = []
        self.closed = 0

    def notify(self, message: Message) -> None:
        if message.address == "+440000":
            raise DeliveryError("number not in service", permanent=True)
        self.delivered.append(message)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def pager():
    made: list[Pager] = []

    def build(config, options):
        made.append(Pager(options))
        return made[-1]

    channels.register("pager", build)
    yield made
    channels.unregister("pager")


def rows(world, **where) -> list[OutboxMessage]:
    with world.sessions() as s:
        return s.scalars(select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)).all()


def smtp_config(smtp) -> dict:
    return {"from": "alerts@acorns.example", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False}


def test_a_second_channel_needs_only_a_module_and_a_config_section(new_world, smtp, pager):
    people = [dict(p) for p in PEOPLE]
    people[0]["addresses"] = {"pager": "+447700900123"}  # Dana, the DSL
    world = new_world(recipients=people, channels={"pager": {"volume": "loud"}}, email=smtp_config(smtp))
    world.raise_alert("x", evidence="x")

    notifiers = build_notifiers(world.config)
    report = deliver_due(world.sessions, notifiers, world.clock, retry_for=3600)

    assert report.sent == 3  # Dana and Pat by email, Dana on the pager
    (page,) = pager[0].delivered
    assert (page.channel, page.address, page.template, page.kind) == ("pager", "+447700900123", "alert", "alert")
    assert page.context["categories"] == ["safeguarding"] and page.context["ack_url"].startswith("https://")
    assert pager[0].options == {"volume": "loud"} and pager[0].closed == 1
    assert sorted(m["To"] for _f, _r, m in smtp.messages) == ["dana@acorns.example", "pat@acorns.example"]
    assert {(r.channel, r.address) for r in rows(world)} >= {("pager", "+447700900123")}


def test_a_permanent_failure_on_another_channel_tells_the_admin_by_email(new_world, smtp, pager):
    people = [dict(p) for p in PEOPLE]
    people[1]["addresses"] = {"pager": "+440000"}  # Pat's number is dead
    world = new_world(recipients=people, channels={"pager": {}}, email=smtp_config(smtp))
    world.raise_alert("x")
    report = deliver_due(world.sessions, build_notifiers(world.config), world.clock, retry_for=3600)
    assert report.failed == 1
    (notice,) = smtp.to("jo@acorns.example")
    body = notice.get_body(("plain",)).get_content()
    assert "+440000" in body and "number not in service" in body and "pager" in body


def test_a_channel_without_a_module_is_a_configuration_error(new_world):
    world = new_world(channels={"carrier_pigeon": {}})
    with pytest.raises(ConfigError, match=r"channels\.carrier_pigeon: there is no such channel"):
        build_notifiers(world.config)


def test_an_address_on_a_channel_that_is_not_configured_is_refused(tmp_path):
    people = [dict(p) for p in PEOPLE]
    people[0]["addresses"] = {"sms": "+447700900123"}
    with pytest.raises(ConfigError, match=r"recipients\[0\]\.addresses\.sms: there is no \[channels\.sms\] section"):
        make_config(tmp_path, "sqlite:///unused.db", recipients=people)


@pytest.fixture
def broken_alert_template(monkeypatch):
    """The alert template refers to a value no context has (a template fault)."""
    broken = Environment(loader=DictLoader({"alert.subject.txt": "{{ no_such_value.title }}", "alert.txt": "x",
                                            "alert.html": "x"}), undefined=StrictUndefined)
    real = email_render._env

    class Mixed:
        def get_template(self, name):
            return (broken if name.startswith("alert.") else real).get_template(name)

    monkeypatch.setattr(email_render, "_env", Mixed())


def test_a_template_fault_fails_that_message_and_tells_the_admin_but_never_blocks_the_alert(
        world, smtp, broken_alert_template):
    alert_id = world.raise_alert("x")  # classification commits the alert: nothing is rendered yet
    assert world.alert(alert_id).state == "open"

    report = deliver_due(world.sessions, SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5),
                         world.clock, from_addr="alerts@acorns.example", retry_for=3600)

    assert (report.failed, report.sent) == (2, 2)  # both alert emails failed; both notices went to Jo
    failed = rows(world, state="failed")
    assert {r.kind for r in failed} == {"alert"}
    assert all("template fault in 'alert': UndefinedError" in r.last_error for r in failed)
    assert [m["To"] for _f, _r, m in smtp.messages] == ["jo@acorns.example", "jo@acorns.example"]
    with world.sessions() as s:
        assert s.scalar(select(Alert.state).where(Alert.id == alert_id)) == "open"  # still open, still escalates


def test_a_message_queued_before_the_channel_migration_is_still_delivered(db_url, smtp):
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    legacy = ("From: alerts@acorns.example\r\nTo: dana@acorns.example\r\nSubject: [nurserywatch] old\r\n"
              "Message-ID: <old.1@acorns.example>\r\n\r\nqueued by the previous version\r\n")
    when = "2026-11-23 09:00:00+00" if engine.dialect.name == "postgresql" else "2026-11-23 09:00:00.000000"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO setting (id, key, name, timezone) VALUES (1, 'k', 'n', 'Europe/London')"))
        conn.execute(text(
            "INSERT INTO outbox (setting_id, dedup_key, kind, to_addr, subject, raw, state, attempts, "
            "next_attempt_at, created_at) VALUES (1, 'old', 'alert', 'dana@acorns.example', 's', :raw, 'pending', 0, "
            f"'{when}', '{when}')"), {"raw": legacy})
    upgrade(engine)
    engine.dispose()

    sessions = open_database(db_url)
    try:
        clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc))
        report = deliver_due(sessions, SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5), clock,
                             from_addr="alerts@acorns.example", retry_for=3600)
        assert report.sent == 1
        (msg,) = smtp.to("dana@acorns.example")
        assert msg["Message-ID"] == "<old.1@acorns.example>"
        assert "queued by the previous version" in msg.get_content()
        with sessions() as s:
            row = s.scalars(select(OutboxMessage)).one()
            assert (row.channel, row.address, row.state) == ("email", "dana@acorns.example", "sent")
    finally:
        sessions.dispose()
