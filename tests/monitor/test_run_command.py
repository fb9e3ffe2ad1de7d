"""`nurserywatch run`: exit codes cron can act on, and one daemon per database."""
from __future__ import annotations

import os

import pytest

import connectors
from alerts.testing import free_port
from connectors.base import TemporaryFailure
from monitor import cli
from monitor.cli.main import EXIT_ACCOUNT_FAILED, EXIT_BOTH, EXIT_LOCKED, EXIT_OK, EXIT_UNDELIVERED
from monitor.core.db import open_database
from monitor.lease import DatabaseLease
from monitor.runtime import utcnow


def write_config(tmp_path, db_url: str, smtp_port: int | None = None) -> str:
    smtp = f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_starttls = false\n' if smtp_port else ""
    path = tmp_path / "nursery.toml"
    path.write_text(f"""
[setting]
name = "Willowbrook Day Nursery"
[database]
url = "{db_url}"
[email]
from = "nurserywatch@example.org"
outbox_dir = "{tmp_path}/outbox"
{smtp}
[[recipients]]
name = "Jo Manager"
email = "manager@example.org"
roles = ["manager"]
[[recipients]]
name = "Sam Lead"
email = "dsl@example.org"
roles = ["dsl"]
[[accounts]]
platform = "demo"
id = "page"
options = {{ per_cycle = 100 }}
""")
    return str(path)


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
