"""Fixtures for the alerts tests: a real world in a fresh database (each backend
of the suite's `db_url`), and a real SMTP server (aiosmtpd) on 127.0.0.1 whose
answers a test can script."""
from __future__ import annotations

import subprocess

import pytest
from aiosmtpd.controller import Controller

from alerts.testing import ScriptedHandler, free_port, make_world


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
def new_world(tmp_path, db_url):
    """make_world with config overrides (one per test: they share the database)."""
    made = []

    def make(**overrides):
        w = make_world(tmp_path / f"w{len(made)}", db_url=db_url, **overrides)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def world(new_world):
    return new_world()


@pytest.fixture
def tls_files(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key
