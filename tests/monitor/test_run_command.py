"""`nurserywatch run`: exit codes cron can act on, and one daemon per database."""
from __future__ import annotations

import asyncio
import os

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import func, select, update

import connectors
from alerts.testing import ScriptedHandler, free_port
from connectors.base import TemporaryFailure
from monitor import cli
from monitor.cli.main import EXIT_ACCOUNT_FAILED, EXIT_BOTH, EXIT_LOCKED, EXIT_OK, EXIT_UNDELIVERED
from monitor.core.db import open_database
from monitor.core.models import DeliveryProblem, OutboxMessage
from monitor.core.settings import load_config
from monitor.lease import DatabaseLease
from monitor.runtime import build_runtime, utcnow
from monitor.web import WebDeps, create_app
from tests.monitor.helpers import write_config
from tests.monitor.test_web import AppClient


class Failing:
    platform = "demo"

    async def fetch(self, cursors):
        raise TemporaryFailure("HTTP 503 from the platform")
        yield  # pragma: no cover

    async def hide(self, external_id, hidden=True):
        return None


@pytest.fixture
def failing_platform(monkeypatch):
    monkeypatch.setitem(connectors.REGISTRY, "demo", lambda acc, token, client, clock: Failing())


def test_run_once_exits_zero_when_all_went_well(tmp_path, db_url):
    assert cli.main(["run", "--once", "--config", write_config(tmp_path, db_url)]) == EXIT_OK


def test_run_once_exits_non_zero_when_an_account_failed(tmp_path, db_url, failing_platform, capsys):
    assert cli.main(["run", "--once", "--config", write_config(tmp_path, db_url)]) == EXIT_ACCOUNT_FAILED
    assert "accounts failing" in capsys.readouterr().err


def test_run_once_exits_non_zero_when_nothing_could_be_delivered(tmp_path, db_url, capsys):
    closed = free_port()  # nothing listens here: every email is refused at connect
    assert cli.main(["run", "--once", "--config", write_config(tmp_path, db_url, closed)]) == EXIT_UNDELIVERED
    assert "delivery problem" in capsys.readouterr().err


def test_run_once_says_both_when_both_went_wrong(tmp_path, db_url, monkeypatch):
    from connectors.demo import DemoConnector

    class HalfFailing(DemoConnector):  # delivers its comments, then the connection drops
        async def fetch(self, cursors):
            async for batch in super().fetch(cursors):
                yield batch
            raise TemporaryFailure("connection reset")

    monkeypatch.setitem(connectors.REGISTRY, "demo", lambda acc, token, client, clock: HalfFailing(acc, clock=clock))
    config = write_config(tmp_path, db_url, free_port())
    assert cli.main(["run", "--once", "--config", config]) == EXIT_BOTH


def test_a_second_daemon_on_the_same_database_refuses_to_start_and_names_the_first(tmp_path, db_url, capsys):
    if not db_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL replicas share the database (tests/monitor/test_replicas.py)")
    config = write_config(tmp_path, db_url)
    db = open_database(db_url)
    first = DatabaseLease(db, utcnow, pid=os.getppid())  # a live process on this host
    first.acquire()
    try:
        assert cli.main(["run", "--config", config]) == EXIT_LOCKED
        assert cli.main(["run", "--once", "--config", config]) == EXIT_LOCKED
        err = capsys.readouterr().err
        assert f"pid {os.getppid()} on host" in err and "--force" in err
        assert cli.main(["run", "--once", "--force", "--config", config]) == EXIT_OK
        assert not first.renew()  # the first daemon notices at its next heartbeat and stops
    finally:
        db.dispose()


def password_is_right(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.password == b"the-right-one", handled=False)  # else aiosmtpd answers 535


def readiness(config: str, db) -> tuple[int, dict[str, str]]:
    """/readyz of the pages the daemon would serve on this database."""
    rt = build_runtime(load_config(config), sessions=db)
    try:
        resp = AppClient(create_app(WebDeps(sessions=db, env=rt.alert_env, clock=utcnow))).get("/readyz")
    finally:
        asyncio.run(rt.aclose())
    return resp.status_code, {r["code"]: r["message"] for r in resp.json()["reasons"]}


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_a_refused_smtp_login_fails_run_once_says_how_to_fix_it_and_everything_goes_once_fixed(
        tmp_path, db_url, monkeypatch, capsys):
    """Issue 12's "done when": the whole story through `run --once`, /readyz and a real SMTP login."""
    handler = ScriptedHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=password_is_right,
                      auth_require_tls=False)
    smtp.start()
    monkeypatch.setenv("NW_SMTP_USER", "mailer")
    monkeypatch.setenv("NW_SMTP_PASS", "an-old-one")
    config = write_config(tmp_path, db_url, smtp.port, login=True)
    db = open_database(db_url)
    try:
        assert cli.main(["run", "--once", "--config", config]) == EXIT_UNDELIVERED
        err = capsys.readouterr().err
        assert "535" in err and "NW_SMTP_PASS" in err and "NW_SMTP_USER" in err  # the reply and what to check
        with db() as s:
            queued = s.scalar(select(func.count(OutboxMessage.id)))
        assert queued > 0 and handler.messages == []
        status, reasons = readiness(config, db)
        assert status == 503 and "535" in reasons["smtp_failing"]

        monkeypatch.setenv("NW_SMTP_PASS", "the-right-one")  # the password is put right
        with db.begin() as s:  # ...and the next probe of the server is due (every 3 minutes)
            s.execute(update(DeliveryProblem).values(next_probe_at=utcnow()))
        assert cli.main(["run", "--once", "--config", config]) == EXIT_OK
        assert len(handler.messages) == queued  # everything queued, once
        assert cli.main(["run", "--once", "--config", config]) == EXIT_OK
        assert len(handler.messages) == queued
        assert "smtp_failing" not in readiness(config, db)[1]
    finally:
        db.dispose()
        smtp.stop()
