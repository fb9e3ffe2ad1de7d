"""Shared fixtures: a database (SQLite always, PostgreSQL when configured),
a real SMTP server on 127.0.0.1, a controllable clock, and configs."""
from __future__ import annotations

import os
from pathlib import Path
from datetime import datetime, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from alerts.testing import FakeClock, ScriptedHandler, free_port
from monitor.core.db import normalise_url, open_database
from monitor.core.settings import config_from_dict

PG_ENV = "NURSERYWATCH_TEST_DATABASE_URL"
SECRET = "test-secret-key-0123456789abcdef"


def _backends():
    yield pytest.param("sqlite", id="sqlite")
    yield pytest.param(
        "postgresql", id="postgresql",
        marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
    )


@pytest.fixture(params=list(_backends()))
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/nurserywatch.db"
    url = os.environ[PG_ENV]
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:  # a clean schema for every test
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def sessions(db_url):
    maker = open_database(db_url)
    yield maker
    maker.dispose()


@pytest.fixture(autouse=True)
def secret_key(monkeypatch):
    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def smtp_server():
    handler = ScriptedHandler()  # accepts everything unless a test scripts a refusal
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def base_settings(db_url: str, tmp_path, smtp_port: int | None = None) -> dict:
    email = {"from": "nurserywatch@example.org", "outbox_dir": str(tmp_path / "outbox")}
    if smtp_port:
        email |= {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False}
    return {
        "setting": {"name": "Willowbrook Day Nursery", "aliases": ["Willowbrook"], "town": "Hadleigh"},
        "roster": {"children": ["Amelia Hart", "Oliver Brown"], "staff": ["Sarah Jones"]},
        "database": {"url": db_url},
        "email": email,
        "recipients": [
            {"name": "Jo Manager", "email": "manager@example.org", "roles": ["manager", "admin"]},
            {"name": "Sam Lead", "email": "dsl@example.org", "roles": ["dsl"]},
        ],
        "accounts": [{"platform": "demo", "id": "page-1", "options": {"per_cycle": 100}}],
    }


@pytest.fixture
def make_config(db_url, tmp_path):
    def make(smtp_port: int | None = None, **overrides):
        data = base_settings(db_url, tmp_path, smtp_port)
        data.update(overrides)
        return config_from_dict(data, "test config")

    return make


# --- every log line the suite writes, through the production filter, searched at the end ----------------
_SUITE_LOG: list = []


def _suite_secrets() -> list[str]:
    from alerts.testing import PEOPLE

    people = [v for p in PEOPLE for v in (p["name"], p["email"], *p.get("known_as", []))]
    recipients = [v for r in base_settings("sqlite://", Path("."))["recipients"] for v in (r["name"], r["email"])]
    return people + recipients


@pytest.fixture(scope="session", autouse=True)
def suite_log(tmp_path_factory):
    """A handler on the root logger for the whole run, as `run` installs it (monitor.logs)."""
    import logging

    from monitor.logs import REDACTOR, TEXT_FORMAT

    path = tmp_path_factory.mktemp("suite-log") / "suite.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    _SUITE_LOG.append(path)
    yield path
    root.removeHandler(handler)
    handler.close()


def pytest_sessionfinish(session, exitstatus):
    if not _SUITE_LOG or not _SUITE_LOG[0].exists():
        return
    text = _SUITE_LOG[0].read_text(encoding="utf-8", errors="replace")
    hits = sorted({s for s in _suite_secrets() if s.lower() in text.lower()})
    if hits:
        lines = [line for line in text.splitlines() if any(h.lower() in line.lower() for h in hits)][:20]
        print(f"\nthe suite's logs carry personal data: {hits}\n" + "\n".join(lines))
        session.exitstatus = 1
