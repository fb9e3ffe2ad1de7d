"""The roster (page, CSV import, config seed, used by the next cycle) and the admin page."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from alerts.testing import make_world
from monitor.core.models import Account, AuditEvent, OutboxMessage
from monitor.core.webmodels import RosterPerson
from monitor.roster import RosterError, parse_csv
from tests.monitor.webapp_helpers import client_for, csrf_of, post_form, sign_in

CSV = "First name,Surname,Room\r\nAva,Smith,Acorns\r\nNoah,Jones,Oaks\r\n,Nobody,Oaks\r\n"


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


@pytest.fixture
def sam(world):
    with client_for(world) as c:
        yield sign_in(c, world, "sam")


def names(world, kind="child") -> list[str]:
    with world.sessions() as s:
        return sorted(f"{p.first_name} {p.surname}".strip() for p in s.scalars(select(RosterPerson).where(RosterPerson.kind == kind)))


def upload(client, text: str, kind: str = "child"):
    token = csrf_of(client.get("/roster").text)
    return client.post("/roster/import", data={"csrf": token, "kind": kind},
                       files={"file": ("children.csv", text.encode("utf-8"), "text/csv")})


def test_a_csv_import_adds_joiners_and_removes_leavers(world, sam):
    post_form(sam, "/roster", "/roster", {"kind": "child", "first_name": "Leaving", "surname": "Child"})
    post_form(sam, "/roster", "/roster", {"kind": "staff", "first_name": "Sarah", "surname": "Jones"})
    r = upload(sam, CSV)
    assert r.status_code == 200 and "2 added, 0 kept, 1 removed" in r.text and "line 4: no first name" in r.text
    assert names(world) == ["Ava Smith", "Noah Jones"]
    assert names(world, "staff") == ["Sarah Jones"]  # importing children leaves staff alone
    r = upload(sam, "First name,Surname,Room\nAva,Smith,Oaks\n")
    assert "0 added, 1 kept, 1 removed" in r.text and names(world) == ["Ava Smith"]
    with world.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "roster_imported")).all()[-1]
        assert event.detail == {"kind": "child", "added": 0, "removed": 1, "kept": 1}  # counts, never names


def test_a_csv_without_a_first_name_column_imports_nothing(world, sam):
    post_form(sam, "/roster", "/roster", {"kind": "child", "first_name": "Ava"})
    r = upload(sam, "Surname,Room\nSmith,Oaks\n")
    assert r.status_code == 400 and "Nothing was imported" in r.text and names(world) == ["Ava"]


def test_parse_csv_reads_exports_without_a_header_and_with_a_bom():
    assert parse_csv("\ufeffForename,Last name,Key group\nAva,Smith,Acorns\n")[0] == [("Ava", "Smith", "Acorns")]
    assert parse_csv("Ava,Smith,Acorns\n")[0] == [("Ava", "Smith", "Acorns")]
    with pytest.raises(RosterError):
        parse_csv("\n\n")


def test_a_person_is_removed_from_the_roster_page(world, sam):
    post_form(sam, "/roster", "/roster", {"kind": "child", "first_name": "Ava", "surname": "Smith", "room": "Oaks"})
    page = sam.get("/roster").text
    assert "Ava Smith" in page and "Oaks" in page
    with world.sessions() as s:
        person_id = s.scalar(select(RosterPerson.id))
    assert post_form(sam, "/roster", f"/roster/{person_id}/delete").status_code == 200
    assert names(world) == []


def test_the_config_roster_seeds_the_database_once_and_the_next_cycle_uses_edits(make_config, sessions, clock):
    from monitor.roster import as_config, refresh_classifier
    from monitor.runtime import build_runtime

    rt = build_runtime(make_config(), clock=clock, sessions=sessions)
    try:
        with sessions() as s:
            assert as_config(s, rt.setting_id, rt.config.roster).children == ["Amelia Hart", "Oliver Brown"]
        assert not refresh_classifier(rt)  # nothing changed: nothing rebuilt
        before = rt.classifier
        assert "confidentiality" not in before.classify("Zebedee Quinn in the baby room has nits").labels
        with sessions.begin() as s:
            s.add(RosterPerson(setting_id=rt.setting_id, kind="child", first_name="Zebedee", surname="Quinn",
                               room="", created_at=clock()))
        assert refresh_classifier(rt) and rt.classifier is not before
        assert "confidentiality" in rt.classifier.classify("Zebedee Quinn in the baby room has nits").labels
        rt2 = build_runtime(make_config(), clock=clock, sessions=sessions)  # a restart does not re-seed
        with sessions() as s:
            assert len(as_config(s, rt2.setting_id, rt2.config.roster).children) == 3
        asyncio.run(rt2.aclose())
    finally:
        asyncio.run(rt.aclose())


def test_the_admin_page_shows_account_state_and_the_outbox_and_retries_an_account(world):
    with world.sessions.begin() as s:
        acc = s.scalar(select(Account))
        acc.state, acc.last_error = "needs_reconnect", "AuthFailed: token expired"
    with client_for(world) as jo:
        sign_in(jo, world, "jo")
        page = jo.get("/admin").text
        assert "needs reconnecting" in page and "token expired" in page and "pending: <strong>1</strong>" in page
        assert post_form(jo, "/admin", f"/admin/accounts/{acc.id}/retry").status_code == 200
        with world.sessions() as s:
            assert s.get(Account, acc.id).state == "ok"


def test_send_a_test_alert_sends_a_marked_alert_to_the_admin_by_the_real_route(world, tmp_path, monkeypatch):
    from alerts.channels.email.transport import FileTransport
    from monitor.accounts.testalert import send_test_alert

    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", "test-secret-key-0123456789abcdef")
    transport = FileTransport(str(tmp_path / "sent"))
    deps_kw = {"send_test_alert": lambda _setting, to: send_test_alert(world.config, world.sessions, transport,
                                                                      world.clock, to)}
    with client_for(world, **deps_kw) as jo:
        sign_in(jo, world, "jo")
        r = post_form(jo, "/admin", "/admin/test-alert")
        assert r.status_code == 200 and "[TEST] alert was sent to jo@acorns.example" in r.text
    with world.sessions() as s:
        msgs = [m for m in s.scalars(select(OutboxMessage)) if (m.payload or {}).get("context", {}).get("test")]
        assert [(m.address, m.state) for m in msgs] == [("jo@acorns.example", "sent")]


def test_without_the_running_service_there_is_no_test_alert_button(world):
    with client_for(world) as jo:
        sign_in(jo, world, "jo")
        assert "Send a test alert" not in jo.get("/admin").text
        assert post_form(jo, "/admin", "/admin/test-alert").status_code == 409


def test_the_admin_page_says_when_delivery_stopped_and_how_to_fix_it(world):
    from monitor.core.models import DeliveryProblem

    problem = ("SMTP login refused (535 5.7.8 Authentication credentials invalid): check the variables named by "
               "email.smtp_username_env (NW_USER) and email.smtp_password_env (NW_PASS)")
    with client_for(world) as jo:
        sign_in(jo, world, "jo")
        assert "Delivery stopped" not in jo.get("/admin").text
        with world.sessions.begin() as s:
            s.add(DeliveryProblem(channel="email", detail=problem, since=world.clock(), next_probe_at=world.clock()))
        page = jo.get("/admin").text
        assert "Delivery stopped (email)" in page and "535 5.7.8" in page and "NW_PASS" in page
