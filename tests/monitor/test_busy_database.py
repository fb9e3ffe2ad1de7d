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


def hold_lock(world, alert_id: int, seconds: float | threading.Event) -> threading.Thread:
    """Another process holds the write lock (SQLite) or the alert's row (PostgreSQL)
    for a while (`seconds`, or until the event is set)."""
    ready = threading.Event()
    url = str(world.sessions.engine.url)
    wait = seconds.wait if isinstance(seconds, threading.Event) else lambda: time.sleep(seconds)

    def hold():
        if url.startswith("sqlite"):
            conn = sqlite3.connect(world.sessions.engine.url.database)
            conn.execute("BEGIN IMMEDIATE")
            ready.set()
            wait()
            conn.commit()
            conn.close()
            return
        engine = create_engine(normalise_url(world.config.database.url))
        with engine.begin() as conn:
            conn.execute(text("SELECT id FROM alert WHERE id = :id FOR UPDATE"), {"id": alert_id})
            ready.set()
            wait()
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


def test_an_inbox_action_waiting_on_a_lock_holds_up_no_other_request(world, monkeypatch):
    """The web app's pages do their database work in worker threads: while one
    person's acknowledgement waits for a lock, /healthz and other pages answer."""
    import asyncio

    import httpx

    import monitor.web.inbox as inbox
    from tests.monitor.webapp_helpers import BASE, client_for, csrf_of, sign_in

    alert_id = world.raise_alert("I saw her hit the boy")
    browser = sign_in(client_for(world), world, "pat")
    page = browser.get(f"/alerts/{alert_id}")
    app = browser.app
    reached = threading.Event()
    real_lock = inbox.lock_alert

    def lock_alert(session, alert_id):
        reached.set()  # the acknowledgement is at the database
        return real_lock(session, alert_id)

    monkeypatch.setattr(inbox, "lock_alert", lock_alert)
    release = threading.Event()
    holder = hold_lock(world, alert_id, release)

    async def scenario():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE, cookies=dict(browser.cookies)) as c:
            ack = asyncio.create_task(c.post(f"/alerts/{alert_id}/ack", data={"csrf": csrf_of(page.text)}))
            for _ in range(1000):  # until it is at the lock (on the event loop, the loop itself would be stuck)
                if reached.is_set() or ack.done():
                    break
                await asyncio.sleep(0.01)
            healthz = await c.get("/healthz")
            inbox_page = await c.get("/alerts")  # another page's reads are not behind the writer either
            waiting = not ack.done()
            release.set()
            return healthz, inbox_page, waiting, await ack

    try:
        healthz, inbox_page, waiting, ack = asyncio.run(scenario())
    finally:
        release.set()
        holder.join()
    assert reached.is_set() and waiting  # the acknowledgement was still waiting on the lock...
    assert healthz.json() == {"status": "ok"} and inbox_page.status_code == 200  # ...while these answered
    assert ack.status_code == 200 and world.alert(alert_id).state == "acknowledged"  # and it was kept
