"""Sign-in by emailed link, sessions and CSRF, through the real app."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from alerts.testing import make_world
from monitor.core.models import OutboxMessage
from monitor.core.webmodels import LoginToken, WebSession
from monitor.web.auth import PER_ADDRESS, SESSION_COOKIE
from tests.monitor.webapp_helpers import client_for, csrf_of, last_link, post_form, request_link, sign_in


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


@pytest.fixture
def client(world):
    with client_for(world) as c:
        yield c


def sessions_count(world) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count(WebSession.id)))


def signin_emails(world) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "signin"))


PAGES = ["/alerts", "/alerts/1", "/alerts/1/record", "/comments", "/phrases", "/roster", "/admin", "/audit",
         "/audit.csv"]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_opens_without_a_session(client, path):
    r = client.get(path)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_the_login_page_and_the_signed_alert_link_open_without_a_session(world, client):
    assert client.get("/login").status_code == 200
    alert_id = world.raise_alert("I saw her hit the boy")
    token = world.env.signer.token("ack", alert_id, world.people["dana"])
    assert client.get(f"/a/{token}").status_code == 200


def test_a_sign_in_answers_the_same_for_known_and_unknown_addresses(world, client):
    known = request_link(client, "dana@acorns.example")
    unknown = request_link(client, "stranger@elsewhere.example")
    strip = lambda html: html.replace("dana@acorns.example", "X").replace("stranger@elsewhere.example", "X")  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    assert strip(known.text).replace(csrf_of(known.text), "") == strip(unknown.text).replace(csrf_of(unknown.text), "")
    assert signin_emails(world) == 1  # only the known address got a link


def test_the_link_email_carries_no_personal_data_in_its_subject(world, client):
    request_link(client, "dana@acorns.example")
    from alerts.channels.email.render import subject

    with world.sessions() as s:
        payload = s.scalar(select(OutboxMessage.payload).where(OutboxMessage.kind == "signin"))
    assert subject(payload["template"], payload["context"]) == "[nurserywatch] Your sign-in link"


def test_get_on_the_link_only_shows_a_button_and_post_signs_in(world, client):
    request_link(client, "dana@acorns.example")
    link = last_link(world, "dana@acorns.example")
    for _ in range(2):  # a mail scanner opening the link consumes nothing
        page = client.get(link)
        assert page.status_code == 200 and "Sign in</button>" in page.text
    assert sessions_count(world) == 0
    r = client.post(link, data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    assert sessions_count(world) == 1
    assert client.get("/alerts").status_code == 200


def test_the_session_cookie_is_httponly_lax_and_secure_on_https(world, client):
    request_link(client, "dana@acorns.example")
    link = last_link(world, "dana@acorns.example")
    r = client.post(link, data={"csrf": csrf_of(client.get(link).text)})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    flags = {p.strip().lower() for p in cookie.split(";")}
    assert {"httponly", "samesite=lax", "secure", "path=/"} <= flags


def test_the_cookie_is_not_secure_when_the_base_url_is_plain_http(tmp_path, db_url):
    world = make_world(tmp_path, db_url=db_url, web={"base_url": "http://127.0.0.1:8080"})
    try:
        with client_for(world, base_url="http://127.0.0.1:8080") as client:
            request_link(client, "dana@acorns.example")
            link = last_link(world, "dana@acorns.example")
            r = client.post(link, data={"csrf": csrf_of(client.get(link).text)})
            cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
            assert "secure" not in cookie.lower() and "httponly" in cookie.lower()
    finally:
        world.close()


def test_a_used_link_gets_410_and_no_second_session(world, client):
    request_link(client, "dana@acorns.example")
    link = last_link(world, "dana@acorns.example")
    token = csrf_of(client.get(link).text)
    assert client.post(link, data={"csrf": token}).status_code == 303
    client.cookies.delete(SESSION_COOKIE)  # another browser, same link
    again = client.post(link, data={"csrf": token})
    assert again.status_code == 410 and SESSION_COOKIE not in again.cookies
    assert client.get(link).status_code == 410
    assert sessions_count(world) == 1


def test_an_expired_link_gets_410_and_no_session(world, client):
    request_link(client, "dana@acorns.example")
    link = last_link(world, "dana@acorns.example")
    token = csrf_of(client.get(link).text)
    world.clock.advance(minutes=16)
    r = client.post(link, data={"csrf": token})
    assert r.status_code == 410 and "expired" in r.text
    assert sessions_count(world) == 0


def test_a_forged_link_gets_400_and_no_session(world, client):
    request_link(client, "dana@acorns.example")
    link = last_link(world, "dana@acorns.example")
    token = csrf_of(client.get(link).text)
    forged = world.env.signer.token("ack", 1, world.people["olive"])  # a real signature, for another purpose
    for bad in (link[:-3] + "xyz", "/login/" + forged, "/login/nonsense"):
        r = client.post(bad, data={"csrf": token})
        assert r.status_code == 400, bad
    assert sessions_count(world) == 0


def test_a_link_for_another_row_or_person_is_refused(world, client):
    request_link(client, "dana@acorns.example")
    with world.sessions() as s:
        row_id = s.scalar(select(LoginToken.id))
    swapped = "/login/" + world.env.signer.token("login", row_id, world.people["olive"])
    page = client.get("/login")
    assert client.post(swapped, data={"csrf": csrf_of(page.text)}).status_code == 400
    assert sessions_count(world) == 0


def test_a_post_without_the_csrf_token_gets_403(world, client):
    assert client.post("/login", data={"email": "dana@acorns.example"}).status_code == 403
    assert signin_emails(world) == 0
    sign_in(client, world, "dana")
    alert_id = world.raise_alert("I saw her hit the boy")
    for action, data in ((f"/alerts/{alert_id}/ack", {}), (f"/alerts/{alert_id}/close", {"outcome": "handled"}),
                         ("/phrases", {"phrase": "oak park", "label": "safeguarding", "action": "never"}),
                         ("/roster", {"kind": "child", "first_name": "Ava"}), ("/logout", {})):
        assert client.post(action, data=data).status_code == 403, action
        assert client.post(action, data={**data, "csrf": "wrong"}).status_code == 403, action
    assert world.alert(alert_id).state == "open"


def test_sessions_end_after_twelve_idle_hours_but_not_while_used(world, client):
    sign_in(client, world, "dana")
    world.clock.advance(hours=11)
    assert client.get("/alerts").status_code == 200
    world.clock.advance(hours=11)  # 22 h since sign-in, 11 h idle
    assert client.get("/alerts").status_code == 200
    world.clock.advance(hours=12)
    assert client.get("/alerts").status_code == 303


def test_signing_out_ends_the_session_on_the_server(world, client):
    sign_in(client, world, "dana")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert post_form(client, "/alerts", "/logout").status_code == 303
    client.cookies.set(SESSION_COOKIE, stolen, domain="watch.acorns.example")
    assert client.get("/alerts").status_code == 303
    with world.sessions() as s:
        assert s.scalar(select(WebSession.ended_at)) is not None


def test_sign_in_requests_are_rate_limited_per_address(world, client):
    for _ in range(PER_ADDRESS):
        assert request_link(client, "dana@acorns.example").status_code == 200
    r = request_link(client, "dana@acorns.example")
    assert r.status_code == 429 and "Too many" in r.text
    assert signin_emails(world) == PER_ADDRESS
    world.clock.advance(minutes=16)
    assert request_link(client, "dana@acorns.example").status_code == 200


def test_sign_in_requests_are_rate_limited_per_ip(world, client):
    from monitor.web.auth import PER_IP

    codes = [request_link(client, f"nobody{i}@elsewhere.example").status_code for i in range(PER_IP + 1)]
    assert codes[:PER_IP] == [200] * PER_IP and codes[-1] == 429


def test_the_alert_email_link_signs_in_for_that_alert_only(world, client):
    first = world.raise_alert("I saw her hit the boy")
    other = world.raise_alert("He came home with a bruise again")
    token = world.env.signer.token("ack", first, world.people["dana"])
    r = client.post(f"/a/{token}/open")
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{first}"
    assert client.get(f"/alerts/{first}").status_code == 200
    assert client.get(f"/alerts/{other}").status_code == 403
    assert client.get("/alerts").status_code == 403
    assert client.get("/phrases").status_code == 403
    assert post_form(client, f"/alerts/{first}", f"/alerts/{first}/ack").status_code == 200
    assert world.alert(first).state == "acknowledged"


def test_a_removed_recipient_loses_their_session(world, client):
    from sqlalchemy import update

    from monitor.core.models import Recipient

    sign_in(client, world, "dana")
    with world.sessions.begin() as s:
        s.execute(update(Recipient).where(Recipient.id == world.people["dana"]).values(active=False))
    assert client.get("/alerts").status_code == 303


def test_next_is_kept_only_for_local_paths(client):
    assert 'value="/alerts"' in client.get("/login?next=https://evil.example/").text
    assert 'value="/roster"' in client.get("/login?next=/roster").text
    assert timedelta  # imported for clock maths elsewhere
