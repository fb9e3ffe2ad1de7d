"""Delivery drains the queue (issue 13 item 5, issue 9 item 6): one SMTP
connection per run, a TLS context built once and only when TLS is on, and a
time budget instead of a count of 100."""
from __future__ import annotations

import socket
import ssl

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from alerts import outbox
from alerts.channels.email import transport as transport_module
from alerts.channels.email.transport import SmtpTransport
from alerts.delivery import deliver_due
from alerts.testing import ScriptedHandler, email_of, free_port
from monitor.core.models import OutboxMessage

FROM = "alerts@acorns.example"


def deliver(world, transport, **kw):
    return deliver_due(world.sessions, transport, world.clock, from_addr=FROM, retry_for=86400, **kw)


def queue_notices(world, n: int) -> None:
    with world.sessions.begin() as s:
        for i in range(n):
            outbox.enqueue(s, setting_id=world.setting_id, dedup_key=f"n{i}", kind="ack_notice",
                           template="ack_notice", address=f"person{i}@acorns.example", now=world.clock(),
                           context={"by_name": "Pat", "when": "10:07", "categories": ["criticism"],
                                    "platform": "facebook", "setting_name": "Acorns"})


def pending(world) -> int:
    with world.sessions() as s:
        return len(s.scalars(select(OutboxMessage.id).where(OutboxMessage.state == "pending")).all())


def test_a_run_sends_every_message_over_one_smtp_connection(world, smtp):
    for text in ("one", "two", "three"):
        world.raise_alert(text)
    transport = SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5)
    assert deliver(world, transport).sent == 6
    assert len(smtp.connections) == 1 and transport.connections == 1


def test_a_connection_the_server_dropped_is_reopened_once_and_the_message_still_goes(world, smtp):
    world.raise_alert("x")
    transport = SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5)
    with world.sessions() as s:
        first, second = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    transport.send(email_of(first), FROM, first.address)
    transport._conn.sock.shutdown(socket.SHUT_RDWR)  # as when the server drops an idle connection
    transport.send(email_of(second), FROM, second.address)
    transport.close()
    assert len(smtp.messages) == 2 and transport.connections == 2


def test_a_run_drains_far_more_than_a_hundred_messages(world, smtp):
    queue_notices(world, 260)  # the old limit was 100 a run, so a backlog took many runs
    report = deliver(world, SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5))
    assert report.sent == 260 and not report.out_of_time and pending(world) == 0


class Ticks:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1
        return self.t


def test_a_spent_time_budget_stops_the_run_and_the_next_run_sends_the_rest(world, smtp):
    queue_notices(world, 60)
    transport = SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5)
    report = deliver(world, transport, budget_seconds=20, monotonic=Ticks())
    assert report.out_of_time and 0 < report.sent < 60 and pending(world) == 60 - report.sent
    with world.sessions() as s:
        assert not s.scalars(select(OutboxMessage).where(OutboxMessage.state == "sending")).all()
    assert deliver(world, transport).sent == 60 - report.sent


def test_no_tls_context_is_built_when_tls_is_off(world, smtp, monkeypatch):
    built = []
    monkeypatch.setattr(transport_module.ssl, "create_default_context", lambda *a, **k: built.append(1))
    world.raise_alert("x")
    assert deliver(world, SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=5)).sent == 2
    assert built == []


@pytest.fixture
def starttls_server(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=server_ctx,
                            require_starttls=True)
    controller.start()
    handler.port = controller.port
    yield handler, cert
    controller.stop()


def test_with_starttls_the_tls_context_is_built_once_for_all_messages_and_runs(world, starttls_server, monkeypatch):
    handler, cert = starttls_server
    real = ssl.create_default_context
    built = []

    def trusting(*a, **k):
        built.append(1)
        return real(cafile=str(cert))

    monkeypatch.setattr(transport_module.ssl, "create_default_context", trusting)
    transport = SmtpTransport("127.0.0.1", handler.port, starttls=True, timeout=5)
    world.raise_alert("x")
    assert deliver(world, transport).sent == 2
    world.raise_alert("y", [("confidentiality", "high")])
    assert deliver(world, transport).sent == 1  # a second run: a new connection, the same context
    assert len(handler.messages) == 3 and built == [1] and transport.connections == 2
