"""Faults found by probing the running daemon (issue 9, 12, 13), each against a
real SMTP server (aiosmtpd on 127.0.0.1): internationalised addresses, any
exception in one message, a process killed mid-delivery, a resend keeps its
Message-ID, names that smuggle line breaks or bidi overrides, a refused login."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select, update

from alerts.channels.email.transport import SmtpTransport
from alerts.claims import CLAIM_TIMEOUT, owner
from alerts.delivery import PROBE_EVERY, deliver_due, delivery_problem
from alerts.testing import PEOPLE, ScriptedHandler, email_of, free_port
from monitor.core.models import OutboxMessage, OutboxState
from monitor.core.settings import ConfigError

FROM = "alerts@acorns.example"
ZOE = "zoë@acorns.example"


def rows(world, **where) -> list[OutboxMessage]:
    with world.sessions() as s:
        return s.scalars(select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)).all()


def deliver(world, transport, **kw):
    return deliver_due(world.sessions, transport, world.clock, from_addr=FROM, retry_for=2 * 86400, **kw)


def smtp_to(port: int, **kw) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", port, starttls=False, timeout=5, **kw)


@pytest.fixture
def server():
    """Start an aiosmtpd server with given options; stopped after the test."""
    started = []

    def start(handler=None, **options):
        handler = handler or ScriptedHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        handler.port = controller.port
        started.append(controller)
        return handler

    yield start
    for c in started:
        c.stop()


def with_zoe(new_world):
    people = [dict(p) for p in PEOPLE]
    people[1] = {**people[1], "email": ZOE}  # Pat, the deputy, now Zoë
    return new_world(recipients=people)


# -- addresses (issue 9 item 1) --------------------------------------------------

@pytest.mark.parametrize("bad", ["dana@acorns", "dana@@acorns.example", "dana acorns@x.example", "dana@-x.example"])
def test_the_config_refuses_what_is_not_an_email_address(tmp_path, bad):
    from alerts.testing import make_config

    people = [dict(p) for p in PEOPLE]
    people[2] = {**people[2], "email": bad}
    with pytest.raises(ConfigError, match=r"recipients\[2\]\.email: .* is not an email address"):
        make_config(tmp_path, "sqlite:///unused.db", recipients=people)


def test_an_internationalised_domain_is_kept_in_its_ascii_form(tmp_path):
    from alerts.testing import make_config

    people = [dict(p) for p in PEOPLE]
    people[2] = {**people[2], "email": "sam@bücher.example"}
    config = make_config(tmp_path, "sqlite:///unused.db", recipients=people)
    assert config.recipients[2].email == "sam@xn--bcher-kva.example"


def test_an_internationalised_address_goes_out_with_smtputf8_when_the_server_offers_it(new_world, server):
    smtp = server(enable_SMTPUTF8=True)
    world = with_zoe(new_world)
    world.raise_alert("x")
    report = deliver(world, smtp_to(smtp.port))
    assert (report.sent, report.failed) == (2, 0)
    (msg,) = smtp.to(ZOE)
    assert msg["To"] == ZOE


def test_an_internationalised_address_the_server_cannot_take_fails_clearly_and_the_rest_go(new_world, server):
    smtp = server(enable_SMTPUTF8=False)  # smtplib used to raise UnicodeEncodeError here and stop the run
    world = with_zoe(new_world)
    world.raise_alert("x")
    world.raise_alert("y", [("confidentiality", "high")])
    report = deliver(world, smtp_to(smtp.port))
    (failed,) = rows(world, state="failed")
    assert failed.address == ZOE and "does not offer SMTPUTF8" in failed.last_error
    assert report.failed == 1 and not rows(world, state="sending") and not rows(world, state="pending")
    assert smtp.to("dana@acorns.example") and smtp.to("sam@acorns.example")  # the rest went
    assert "SMTPUTF8" in smtp.to("jo@acorns.example")[0].get_body(("plain",)).get_content()  # the admin is told


class Exploding:
    """A notifier that fails one address with something nobody expected."""

    def __init__(self):
        self.sent = []

    def notify(self, message):
        if message.address == "pat@acorns.example":
            raise UnicodeEncodeError("ascii", "zoë", 2, 3, "ordinal not in range(128)")
        self.sent.append(message.address)

    def close(self):
        pass


def test_any_exception_while_sending_fails_that_message_only_and_the_admin_is_told(world):
    world.raise_alert("x")
    notifier = Exploding()
    report = deliver_due(world.sessions, {"email": notifier}, world.clock, retry_for=3600)
    (failed,) = rows(world, state="failed")
    assert failed.address == "pat@acorns.example" and "unexpected UnicodeEncodeError" in failed.last_error
    assert report.failed == 1 and notifier.sent == ["dana@acorns.example", "jo@acorns.example"]
    assert not rows(world, state="sending")


# -- claims and Message-IDs (issue 9 item 6) -----------------------------------------

KILLED_MID_SEND = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime, timezone
    from sqlalchemy import select
    from alerts.claims import claim_many
    from monitor.core.db import open_database
    from monitor.core.models import OutboxMessage
    sessions = open_database(sys.argv[1])
    now = datetime.fromisoformat(sys.argv[2])
    with sessions.begin() as s:
        for row_id in s.scalars(select(OutboxMessage.id)).all():
            claim_many(s, [row_id], now)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 between the claim and the send
""")


def test_claims_of_a_process_killed_mid_delivery_are_taken_back_at_once(world, smtp):
    world.raise_alert("x")
    url = world.config.database.url
    done = subprocess.run([sys.executable, "-c", KILLED_MID_SEND, url, world.clock().isoformat()],
                          cwd=os.getcwd(), env={**os.environ}, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()
    assert len(rows(world, state="sending")) == 2

    report = deliver(world, smtp_to(smtp.port))  # the same minute: no 10-minute wait any more
    assert report.sent == 2 and len(smtp.messages) == 2


def test_a_claim_of_a_live_process_is_left_alone_until_the_short_timeout(world, smtp):
    world.raise_alert("x")
    parent = owner().rsplit(":", 2)[0] + f":{os.getppid()}:livenonce"  # alive, on this host
    with world.sessions.begin() as s:
        s.execute(update(OutboxMessage).values(state=OutboxState.sending.value, claimed_at=world.clock(),
                                               claimed_by=parent))
    assert deliver(world, smtp_to(smtp.port)).sent == 0
    world.clock.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    assert CLAIM_TIMEOUT.total_seconds() <= 300
    assert deliver(world, smtp_to(smtp.port)).sent == 2


def test_a_message_sent_again_after_a_crash_keeps_its_message_id(world, smtp):
    world.raise_alert("x")
    world.clock.advance(minutes=1)
    world.raise_alert("y", [("confidentiality", "high")])  # Sam's email: a Message-ID of its own
    deliver(world, smtp_to(smtp.port))
    first = {m["To"]: m["Message-ID"] for _f, _r, m in smtp.messages}
    with world.sessions.begin() as s:  # as if the process died after the server's 250, before the commit
        s.execute(update(OutboxMessage).values(state=OutboxState.pending.value, sent_at=None))
    world.clock.advance(minutes=5)
    deliver(world, smtp_to(smtp.port))
    again = {m["To"]: m["Message-ID"] for _f, _r, m in smtp.messages[len(first):]}
    assert again == first and len(set(first.values())) == 2  # the alert's own id for Dana and Pat, another for Sam


# -- names at the rendering edge (issue 9 item 8) -------------------------------------

def test_line_breaks_and_bidi_overrides_in_names_never_reach_the_email(new_world):
    world = new_world(setting={"name": "Acorns\r\nBcc: spy@evil.example", "timezone": "Europe/London"})
    world.raise_alert("I saw her hit the boy", evidence="hit the boy",
                      author="Eve\r\nBcc: victim@evil.example\u202egnp.exe")
    for row in rows(world):
        msg = email_of(row)
        text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
        for part in (text, html):
            assert not any(line.lstrip().startswith("Bcc:") for line in part.splitlines())
            assert "\u202e" not in part and "\r\nBcc" not in part
        assert "Eve Bcc: victim@evil.example" in text and "Acorns Bcc: spy@evil.example" in text
        assert msg["Bcc"] is None


# -- a refused login is a configuration problem (issue 12 item 2) ---------------------

class Logins:
    def __init__(self):
        self.password = b"old-password"
        self.tries = 0

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.tries += 1
        return AuthResult(success=auth_data.password == self.password, handled=False)


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_a_refused_login_pauses_delivery_says_why_once_and_sends_everything_once_fixed(world, server, caplog):
    logins = Logins()
    smtp = server(authenticator=logins, auth_require_tls=False)
    transport = smtp_to(smtp.port, username="mailer", password="new-password",
                        credentials_hint="check the variables named by email.smtp_username_env (NW_USER) "
                                         "and email.smtp_password_env (NW_PASS)")  # one, as the daemon keeps it
    world.raise_alert("x")
    world.raise_alert("y", [("confidentiality", "high")])
    caplog.set_level(logging.INFO, logger="alerts.delivery")

    report = deliver(world, transport)
    assert report.sent == 0 and report.retried == 0 and report.failed == 0 and logins.tries == 2
    problem = delivery_problem(world.sessions)
    assert "535 5.7.8 Authentication credentials invalid" in problem and "smtp_password_env (NW_PASS)" in problem
    assert problem == "email: " + report.paused["email"]
    assert {(r.state, r.attempts) for r in rows(world)} == {("pending", 0)}  # nothing burnt, nothing given up

    world.clock.advance(minutes=1)
    deliver(world, transport)
    assert logins.tries == 2  # not hammered: smtplib tried PLAIN then LOGIN once, then nothing: the next probe is PROBE_EVERY later
    world.clock.advance(seconds=PROBE_EVERY.total_seconds())
    deliver(world, transport)
    assert logins.tries == 4 and delivery_problem(world.sessions) == problem
    stopped = [r for r in caplog.records if r.levelno == logging.ERROR and "delivery stopped" in r.getMessage()]
    assert len(stopped) == 1  # said once, with the server's reply and the variables to check

    logins.password = b"new-password"  # the mailbox's password is put right
    world.clock.advance(seconds=PROBE_EVERY.total_seconds())
    report = deliver(world, transport)
    assert report.sent == 3 and delivery_problem(world.sessions) is None
    assert sorted(m["To"] for _f, _r, m in smtp.messages) == ["dana@acorns.example", "pat@acorns.example",
                                                                 "sam@acorns.example"]
    assert deliver(world, transport).sent == 0  # once, not again
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_threads_sharing_one_smtp_transport_each_get_their_own_turn_on_the_connection(server):
    """A group's settings share one transport, and each setting delivers from its own worker
    thread: two conversations on one connection at once interleave their commands (the
    server then answers RCPT with 503 and the message is refused for good)."""
    import threading
    from email import policy
    from email.message import EmailMessage

    handler = server()
    transport = smtp_to(handler.port)
    failures: list[Exception] = []

    def send_many(who: str) -> None:
        for n in range(40):
            msg = EmailMessage(policy=policy.SMTP)
            msg["Subject"], msg["Message-ID"] = f"{who} {n}", f"<{who}.{n}@nurserywatch.test>"
            msg.set_content("a line of the message\n" * 100)
            try:
                transport.send(msg, FROM, f"{who}@acorns.example")
            except Exception as err:  # noqa: BLE001 - every failure is the finding
                failures.append(err)

    threads = [threading.Thread(target=send_many, args=(f"p{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transport.close()
    assert failures == []
    assert len(handler.messages) == 160
