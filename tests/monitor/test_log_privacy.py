"""Logs carry ids, never personal data: every record of a representative set of flows,
through the production handler's filter, searched for the test people's details."""
from __future__ import annotations

import asyncio
import io
import logging

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

import monitor.web.pages as pages

from alerts.testing import PEOPLE, make_world
from connectors.base import TemporaryFailure
from monitor.core.models import Recipient
from monitor.logs import REDACTOR, personal_names, redacting_handler
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from monitor.web import WebDeps, create_app
from tests.monitor.test_web import CLIENT_IP, UA, AppClient, Hider, link

NOTE = "Spoke to Amelia's mum about the bruise, ref NOTE-7f3a"


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = redacting_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the test's own SMTP server, not nurserywatch
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("mail.log").setLevel(logging.NOTSET)
        REDACTOR.set_names([])


def secrets_of(config) -> list[str]:
    people = [p["email"] for p in PEOPLE] + [p["name"] for p in PEOPLE]
    people += [n for p in PEOPLE for n in p.get("known_as", [])]
    return people + ["NOTE-7f3a", "Amelia", CLIENT_IP, "manager@example.org", "dsl@example.org", "Jo Manager",
                     "Sam Lead"]


def test_no_log_line_carries_an_address_a_name_a_note_or_an_ip(tmp_path, db_url, make_config, smtp_server,
                                                              sessions, clock, captured, monkeypatch):
    # the pipeline: a cycle that alerts, with one address refused by the mail server
    config = make_config(smtp_port=smtp_server.port)
    REDACTOR.set_names(personal_names(config) + [n for p in PEOPLE for n in (p["name"], *p.get("known_as", []))])
    smtp_server.handler.rcpt_codes["dsl@example.org"] = "550 5.1.1 <dsl@example.org>: Recipient address rejected"
    rt = build_runtime(config, clock=clock, sessions=sessions)
    asyncio.run(run_cycle(rt))
    asyncio.run(rt.aclose())

    # the pages: acknowledge with a note, add another, a hide the platform refuses
    world = make_world(tmp_path / "w", db_url=None)
    alert_id = world.raise_alert("Miss Dana grabbed my son", [("safeguarding", "high")])
    hider = Hider(TemporaryFailure("platform down for Dana Lewis"))
    client = AppClient(create_app(WebDeps(world.sessions, world.env, world.clock, hide=hider)))
    assert client.post(link(world, alert_id, "pat"), data={"note": NOTE}, headers=UA).status_code == 200
    client.post(link(world, alert_id, "pat") + "/note", data={"note": NOTE}, headers=UA)
    client.post(link(world, alert_id, "pat", "hide"), data={"confirm": "yes"}, headers=UA)

    # a traceback that quotes personal data: a database error carries the statement's parameters
    try:
        with world.sessions.begin() as s:
            s.add(Recipient(setting_id=world.setting_id, name="Dana Lewis", email="dana@acorns.example",
                            roles=["dsl"], known_as=[]))
    except IntegrityError:
        logging.getLogger("nurserywatch.test").exception("could not add a recipient")

    # a request that fails with the note in its exception, logged as uvicorn logs it (same task)
    def broken_note(session, env, alert, actor, note, now):
        raise RuntimeError(f"cannot save note {note!r} by {actor.recipient.email} from {actor.ip}")

    monkeypatch.setattr(pages, "add_note", broken_note)
    for name in ("uvicorn", "uvicorn.error"):  # as the daemon runs uvicorn (log_config=None): to the root handler
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    app = create_app(WebDeps(world.sessions, world.env, world.clock))

    async def like_uvicorn(scope, receive, send):
        try:
            await app(scope, receive, send)
        except Exception:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")

    failing = AppClient(like_uvicorn)
    failing.transport = httpx.ASGITransport(app=like_uvicorn, client=(CLIENT_IP, 50123), raise_app_exceptions=False)
    failing.post(link(world, alert_id, "pat") + "/note", data={"note": NOTE}, headers=UA)
    world.close()

    written = captured.getvalue()
    assert "alert raised" in written and "acknowledge by recipient" in written and "IntegrityError" in written
    assert 'RuntimeError: cannot save note "[withheld]" by [email] from [withheld]' in written
    leaks = [s for s in secrets_of(config) if s.lower() in written.lower()]
    assert leaks == [], [line for line in written.splitlines() if any(s.lower() in line.lower() for s in leaks)]


def test_a_traceback_in_json_logs_is_redacted_too():
    from monitor.logs import json_formatter

    stream = io.StringIO()
    handler = redacting_handler(stream)
    handler.setFormatter(json_formatter())
    log = logging.getLogger("monitor.test.json")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("refused <dana@acorns.example> from 203.0.113.7")
        except ValueError:
            log.exception("sending failed")
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    assert "ValueError" in line and "[email]" in line and "[ip]" in line
    assert "dana@acorns.example" not in line and "203.0.113.7" not in line
