"""Delivery through a real SMTP server (aiosmtpd on 127.0.0.1): retries, permanent
failures told to the admin, a day-long outage, dedup, STARTTLS and login."""
from __future__ import annotations

import ssl
import subprocess
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select, update

from alerts import outbox
from alerts.delivery import CLAIM_TIMEOUT, deliver_due
from alerts.channels.email.transport import SmtpTransport
from monitor.core.models import OutboxMessage, OutboxState

from alerts.testing import ScriptedHandler, free_port

FROM = "alerts@acorns.example"


def rows(world, **where) -> list[OutboxMessage]:
    with world.sessions() as s:
        return s.scalars(select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)).all()


def deliver(world, transport, **kw):
    return deliver_due(world.sessions, transport, world.clock, from_addr=FROM, retry_for=2 * 86400, **kw)


def smtp_to(handler) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", handler.port, starttls=False, timeout=5)


@pytest.mark.parametrize("code", ["421 4.3.2 Service shutting down", "451 4.3.0 Try again later"])
def test_temporary_refusals_are_retried_with_backoff_until_accepted(world, smtp, code):
    world.raise_alert("x")
    smtp.data_code = code
    report = deliver(world, smtp_to(smtp))
    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    pending = rows(world, state="pending")
    assert len(pending) == 2 and all(r.attempts == 1 and r.next_attempt_at > world.clock() for r in pending)
    assert code.split()[0] in pending[0].last_error
    assert deliver(world, smtp_to(smtp)).sent == 0  # not due yet: backing off

    smtp.data_code = None
    world.clock.advance(minutes=2)
    assert deliver(world, smtp_to(smtp)).sent == 2
    assert {m["To"] for _f, _r, m in smtp.messages} == {"dana@acorns.example", "pat@acorns.example"}


def test_backoff_grows_and_is_capped_at_an_hour():
    import random

    rng = random.Random(1)
    waits = [outbox.backoff(n, rng) for n in range(1, 12)]
    assert waits[0] <= timedelta(seconds=30) and waits[3] >= timedelta(seconds=120)
    assert max(waits) <= timedelta(hours=1) and waits[-1] >= timedelta(minutes=30)


def test_a_550_is_permanent_and_the_admin_is_told_in_the_same_run(world, smtp):
    world.raise_alert("x")
    smtp.rcpt_codes["pat@acorns.example"] = "550 5.1.1 No such user"
    report = deliver(world, smtp_to(smtp))
    assert (report.sent, report.failed) == (2, 1)  # Dana's alert, then the notice to the admin
    failed = rows(world, state="failed")
    assert [r.address for r in failed] == ["pat@acorns.example"] and "550" in failed[0].last_error
    notice = rows(world, kind="delivery_failed")
    assert [(r.address, r.state) for r in notice] == [("jo@acorns.example", "sent")]
    body = smtp.to("jo@acorns.example")[0].get_body(("plain",)).get_content()
    assert "pat@acorns.example" in body and "550" in body
    assert deliver(world, smtp_to(smtp)).sent == 0  # and the failed row is not retried


def test_a_failed_notice_about_a_failure_does_not_loop(world, smtp):
    world.raise_alert("x")
    smtp.rcpt_codes["pat@acorns.example"] = "550 no"
    smtp.rcpt_codes["jo@acorns.example"] = "550 no"
    deliver(world, smtp_to(smtp))
    deliver(world, smtp_to(smtp))
    assert len(rows(world, kind="delivery_failed")) == 1
    assert len(rows(world, state="failed")) == 2


def test_smtp_down_for_a_day_loses_nothing(world, smtp):
    world.raise_alert("comment one")
    world.raise_alert("comment two", [("confidentiality", "high")])
    down = SmtpTransport("127.0.0.1", free_port(), starttls=False, timeout=2)
    start = world.clock()
    while world.clock() < start + timedelta(hours=24):
        report = deliver(world, down)
        assert report.sent == 0 and report.failed == 0
        world.clock.advance(minutes=30)
    assert len(rows(world, state="pending")) == 3
    assert all(r.attempts >= 20 for r in rows(world))
    world.clock.advance(hours=1)
    assert deliver(world, smtp_to(smtp)).sent == 3
    assert len(smtp.messages) == 3 and not rows(world, state="failed")


def test_temporary_failures_for_longer_than_retry_for_give_up_and_tell_the_admin(world):
    world.raise_alert("x")
    down = SmtpTransport("127.0.0.1", free_port(), starttls=False, timeout=2)
    for _ in range(6):
        deliver_due(world.sessions, down, world.clock, from_addr=FROM, retry_for=3600)
        world.clock.advance(minutes=30)
    failed = rows(world, state="failed")
    assert {r.address for r in failed} == {"dana@acorns.example", "pat@acorns.example"}
    assert len(rows(world, kind="delivery_failed")) == 2  # one per failed email, to the admin


def test_the_same_dedup_key_is_queued_once(world):
    msg = dict(setting_id=world.setting_id, dedup_key="k", kind="ack_notice", template="ack_notice",
               address="a@b.example", now=world.clock(),
               context={"by_name": "x", "when": "now", "categories": ["criticism"], "platform": "x", "setting_name": "s"})
    with world.sessions.begin() as s:
        assert outbox.enqueue(s, **msg)
        assert not outbox.enqueue(s, **msg)
    assert len(rows(world)) == 1


def test_a_row_claimed_by_a_worker_is_not_sent_by_another_until_the_claim_is_stale(world, smtp):
    world.raise_alert("x")
    with world.sessions.begin() as s:
        s.execute(update(OutboxMessage).values(state=OutboxState.sending.value, claimed_at=world.clock()))
    assert deliver(world, smtp_to(smtp)).sent == 0
    world.clock.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)  # the first worker crashed
    assert deliver(world, smtp_to(smtp)).sent == 2


def test_one_message_is_one_recipient_so_a_refusal_loses_no_one_else(world, smtp):
    world.raise_alert("x")
    smtp.rcpt_codes["dana@acorns.example"] = "452 4.2.2 Mailbox full"
    deliver(world, smtp_to(smtp))
    assert [m["To"] for _f, _r, m in smtp.messages] == ["pat@acorns.example"]
    smtp.rcpt_codes.clear()
    world.clock.advance(minutes=5)
    deliver(world, smtp_to(smtp))
    assert [m["To"] for _f, _r, m in smtp.messages] == ["pat@acorns.example", "dana@acorns.example"]


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok)


# aiosmtpd itself warns (in its server thread) that it sets a deprecated attribute on login.
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_starttls_and_login_from_the_environment(world, tls_files, monkeypatch):
    from monitor.runtime import make_transport
    from monitor.core.settings import config_from_dict

    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=server_ctx,
                            require_starttls=True, authenticator=_authenticator, auth_require_tls=True)
    controller.start()
    try:
        monkeypatch.setenv("NW_SMTP_USER", "mailer")
        monkeypatch.setenv("NW_SMTP_PASS", "s3cret")
        cfg = config_from_dict({"setting": {"name": "x"}, "email": {
            "smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_starttls": True,
            "smtp_username_env": "NW_SMTP_USER", "smtp_password_env": "NW_SMTP_PASS"}})
        transport = make_transport(cfg)
        assert (transport.username, transport.password, transport.starttls) == ("mailer", "s3cret", True)
        transport.ssl_context = ssl.create_default_context(cafile=str(cert))  # trust the test certificate
        world.raise_alert("x")
        assert deliver(world, transport).sent == 2
        assert len(handler.messages) == 2
    finally:
        controller.stop()


def test_an_untrusted_certificate_is_refused_not_ignored(world, tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=server_ctx,
                            require_starttls=True)
    controller.start()
    try:
        world.raise_alert("x")
        report = deliver(world, SmtpTransport("127.0.0.1", controller.port, starttls=True, timeout=5))
        assert report.sent == 0 and not handler.messages
        assert "TLS with SMTP server" in report.paused["email"] and "self-signed certificate" in report.paused["email"]
        assert len(rows(world, state="pending")) == 2  # kept for when the certificate is fixed
    finally:
        controller.stop()
