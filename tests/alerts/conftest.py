"""Fixtures for the alerts tests: a real world in a fresh database, and a real
SMTP server (aiosmtpd) on 127.0.0.1 whose answers a test can script."""
from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from alerts.testing import make_world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedHandler:
    """Accepts mail unless told otherwise: `rcpt_codes[address]` or `data_code`."""

    def __init__(self):
        self.messages: list = []
        self.rcpt_codes: dict[str, str] = {}
        self.data_code: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.rcpt_codes.get(address)
        if code:
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_code:
            return self.data_code
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for _f, rcpts, m in self.messages if address in rcpts]


@pytest.fixture
def smtp():
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def new_world(tmp_path):
    """make_world with config overrides; every world is closed after the test."""
    made = []

    def make(**overrides):
        w = make_world(tmp_path / f"w{len(made)}", **overrides)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def world(new_world):
    return new_world()
