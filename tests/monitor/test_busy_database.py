"""A locked database delays an acknowledgement; it never loses it (SQLite and PostgreSQL)."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

import monitor.core.db as db
from alerts.testing import make_world
from monitor.core.db import normalise_url, with_busy_retries
from monitor.web import WebDeps, create_app
from tests.monitor.test_web import UA, AppClient, link


class Busy(Exception):
    sqlite_errorcode = 5  # SQLITE_BUSY


def busy() -> OperationalError:
    return OperationalError("UPDATE alert ...", {}, Busy("database is locked"))


def test_a_busy_database_is_tried_again_until_it_answers():
    answers = [busy(), busy(), "done"]

    def work():
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    assert with_busy_retries(work, sleep=lambda s: None) == "done"


def test_other_database_errors_are_not_retried():
    calls = []

    def work():
        calls.append(1)
        raise OperationalError("SELECT", {}, Exception("no such table: alert"))

    with pytest.raises(OperationalError):
        with_busy_retries(work, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_lock_longer_than_the_budget_is_reported_not_waited_forever():
    def work():
        raise busy()

    with pytest.raises(OperationalError):
        with_busy_retries(work, budget=0.3)


@pytest.fixture
def world(tmp_path, db_url, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)  # one statement gives up fast; the request retries
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


def hold_lock(world, alert_id: int, seconds: float) -> threading.Thread:
    """Another process holds the write lock (SQLite) or the alert's row (PostgreSQL) for a while."""
    ready = threading.Event()
    url = str(world.sessions.engine.url)

    def hold():
        if url.startswith("sqlite"):
            conn = sqlite3.connect(world.sessions.engine.url.database)
            conn.execute("BEGIN IMMEDIATE")
            ready.set()
            time.sleep(seconds)
            conn.commit()
            conn.close()
            return
        engine = create_engine(normalise_url(world.config.database.url))
        with engine.begin() as conn:
            conn.execute(text("SELECT id FROM alert WHERE id = :id FOR UPDATE"), {"id": alert_id})
            ready.set()
            time.sleep(seconds)
        engine.dispose()

    t = threading.Thread(target=hold)
    t.start()
    ready.wait(10)
    return t


def test_an_acknowledgement_during_a_lock_waits_and_is_kept(world, caplog):
    alert_id = world.raise_alert("I saw her hit the boy")
    client = AppClient(create_app(WebDeps(world.sessions, world.env, world.clock)))
    holder = hold_lock(world, alert_id, 1.5)

    r = client.post(link(world, alert_id, "pat"), data={"note": "Called the parent"}, headers=UA)
    holder.join()

    assert r.status_code == 200 and "You have taken this alert" in r.text
    a = world.alert(alert_id)
    assert (a.state, a.action_note) == ("acknowledged", "Called the parent")
    if world.sessions.engine.dialect.name == "sqlite":
        assert "database busy" in caplog.text  # it was refused at first, and tried again
