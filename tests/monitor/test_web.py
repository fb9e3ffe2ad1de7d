"""The acknowledgement pages, through the real Starlette app (ASGI test client)."""
from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import func, select, update

from alerts.testing import make_world, raw_of
from connectors.base import HideRefused, TemporaryFailure
from monitor.core.models import Alert, AuditEvent, Item, OutboxMessage, Recipient
from monitor.web import WebDeps, connector_hider, create_app

UA = {"user-agent": "Mozilla/5.0 (iPhone) test"}
CLIENT_IP = "203.0.113.7"


class AppClient:
    """The real ASGI app over httpx's ASGI transport, called synchronously."""

    def __init__(self, app, base_url: str = "https://watch.acorns.example"):
        self.transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50123))
        self.base_url = base_url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        async def go():
            async with httpx.AsyncClient(transport=self.transport, base_url=self.base_url) as c:
                return await c.request(method, url, **kw)

        return asyncio.run(go())

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)


class Hider:
    def __init__(self, error: Exception | None = None):
        self.calls: list[tuple[int, str]] = []
        self.error = error

    async def __call__(self, account_id: int, external_id: str) -> None:
        self.calls.append((account_id, external_id))
        if self.error:
            raise self.error


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


@pytest.fixture
def hider():
    return Hider()


@pytest.fixture
def client(world, hider):
    with AppClient(create_app(WebDeps(world.sessions, world.env, world.clock, hide=hider)),
                    base_url="https://watch.acorns.example") as c:
        yield c


def link(world, alert_id: int, who: str, action: str = "ack") -> str:
    token = world.env.signer.token(action, alert_id, world.people[who])
    return f"/{action[0]}/{token}"


def snapshot(world) -> tuple:
    with world.sessions() as s:
        return (
            tuple(s.execute(select(Alert.state, Alert.acknowledged_by_id, Alert.action_note, Alert.escalation_step)).all()),
            s.scalar(select(func.count(AuditEvent.id))),
            s.scalar(select(func.count(OutboxMessage.id))),
            tuple(s.scalars(select(Item.is_hidden))),
        )


def audits(world) -> list[AuditEvent]:
    with world.sessions() as s:
        return s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def test_get_on_ack_link_shows_the_alert_and_changes_nothing(world, client):
    alert_id = world.raise_alert("I saw her hit the boy", evidence="hit the boy")
    before = snapshot(world)
    for method in ("GET", "HEAD", "GET"):
        r = client.request(method, link(world, alert_id, "dana"), headers=UA)
        assert r.status_code == 200
    assert "I&rsquo;ve got this" in r.text and "<mark" in r.text and "Dana Lewis" in r.text
    assert snapshot(world) == before


def test_pages_are_private_and_uncached(world, client):
    r = client.get(link(world, world.raise_alert("x"), "dana"))
    assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in r.headers["x-robots-tag"] and "default-src 'none'" in r.headers["content-security-policy"]


def test_the_page_escapes_the_comment(world, client):
    alert_id = world.raise_alert('<script>alert(1)</script><img src=x onerror=y>', author="<b>Eve</b>")
    r = client.get(link(world, alert_id, "dana"))
    assert "<script>alert(1)" not in r.text and "<img src=x" not in r.text and "<b>Eve</b>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_post_acknowledges_once_and_tells_the_others_in_the_thread(world, client):
    alert_id = world.raise_alert("x")
    world.clock.advance(minutes=7)
    r = client.post(link(world, alert_id, "pat"), data={"note": "Called the parent"}, headers=UA)
    assert r.status_code == 200 and "You have taken this alert" in r.text
    a = world.alert(alert_id)
    assert (a.state, a.acknowledged_by_id, a.action_note) == ("acknowledged", world.people["pat"], "Called the parent")
    assert a.acknowledged_at == world.clock() and a.next_escalation_at is None
    ev = audits(world)[-1]
    assert (ev.action, ev.actor, ev.ip, ev.user_agent) == ("acknowledge", "pat@acorns.example", CLIENT_IP, UA["user-agent"])
    assert ev.created_at == world.clock()
    with world.sessions() as s:
        notice = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ack_notice")).all()
    assert [n.address for n in notice] == ["dana@acorns.example"]
    assert "Taken by Pat Okafor at 10:07" in raw_of(notice[0])
    assert f"In-Reply-To: {a.message_id}" in raw_of(notice[0])


def test_a_second_acknowledgement_is_recorded_but_changes_nothing(world, client):
    alert_id = world.raise_alert("x")
    client.post(link(world, alert_id, "pat"))
    before = snapshot(world)
    world.clock.advance(minutes=3)
    for who in ("dana", "pat"):
        r = client.post(link(world, alert_id, who), data={"note": "me too"})
        assert r.status_code == 200 and "already taken by <strong>Pat Okafor</strong>" in r.text
    after = snapshot(world)
    assert after[0] == before[0] and after[2] == before[2]  # same alert state, no new emails
    assert [e.action for e in audits(world)] == ["acknowledge", "acknowledge_again", "acknowledge_again"]


def test_a_tampered_link_gets_a_clear_400_and_changes_nothing(world, client):
    alert_id = world.raise_alert("x")
    url = link(world, alert_id, "dana")
    before = snapshot(world)
    for bad in (url[:-2] + ("AA" if not url.endswith("AA") else "BB"), url + "x", "/a/not-a-token"):
        for method in ("get", "post"):
            r = getattr(client, method)(bad)
            assert r.status_code == 400 and "This link is not valid" in r.text and "Nothing has been changed" in r.text
    assert snapshot(world) == before


def test_an_expired_link_gets_a_410_and_changes_nothing(world, client, monkeypatch):
    import itsdangerous.timed

    alert_id = world.raise_alert("x")
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: real(self) - 15 * 86400)
    url = link(world, alert_id, "dana")
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", real)
    before = snapshot(world)
    assert client.get(url).status_code == 410
    r = client.post(url)
    assert r.status_code == 410 and "This link has expired" in r.text
    assert snapshot(world) == before


def test_a_link_for_another_action_or_person_or_alert_is_refused(world, client):
    alert_id = world.raise_alert("x")
    before = snapshot(world)
    hide_token = world.env.signer.token("hide", alert_id, world.people["dana"])
    assert client.post(f"/a/{hide_token}").status_code == 400  # a hide link cannot acknowledge
    assert client.post(link(world, alert_id, "sam")).status_code == 403  # never sent to the manager
    assert client.post(link(world, alert_id + 99, "dana")).status_code == 404
    assert snapshot(world) == before


def test_someone_removed_from_the_config_can_no_longer_use_their_link(world, client):
    alert_id = world.raise_alert("x")
    with world.sessions.begin() as s:
        s.execute(update(Recipient).where(Recipient.id == world.people["dana"]).values(active=False))
    assert client.post(link(world, alert_id, "dana")).status_code == 403
    assert world.alert(alert_id).state == "open"


def test_an_escalated_person_can_acknowledge(world, client):
    from alerts.escalation import run_escalations

    alert_id = world.raise_alert("x")
    for _ in range(2):
        world.clock.advance(minutes=30)
        run_escalations(world.sessions, world.env, world.clock())
    assert client.post(link(world, alert_id, "sam")).status_code == 200
    assert world.alert(alert_id).acknowledged_by_id == world.people["sam"]


def test_a_note_of_action_taken_can_be_added_after_acknowledging(world, client):
    alert_id = world.raise_alert("x")
    client.post(link(world, alert_id, "dana"))
    r = client.post(link(world, alert_id, "pat") + "/note", data={"note": "Referral made to MASH at 11:00"})
    assert r.status_code == 200 and "Referral made to MASH" in r.text
    assert client.post(link(world, alert_id, "pat") + "/note", data={"note": "  "}).status_code == 400
    assert [(e.action, e.actor, e.detail.get("note")) for e in audits(world)][-1] == (
        "note", "pat@acorns.example", "Referral made to MASH at 11:00")


def test_record_of_concern_is_prefilled_for_safeguarding(world, client):
    alert_id = world.raise_alert("He said his dad hurts him\nplease help", author="Kim P",
                                 posted=world.clock().replace(hour=9, minute=41))
    client.post(link(world, alert_id, "dana"), data={"note": "Spoke to the family worker"})
    r = client.get(link(world, alert_id, "pat") + "/record")
    assert r.status_code == 200
    for fragment in ("Record of concern", "Mon 23 Nov 2026, 09:41", "Facebook page", "Kim P",
                     "He said his dad hurts him\nplease help", "Pat Okafor", "Acknowledged by Dana Lewis",
                     "Spoke to the family worker", "DSL signature and date", "Little Acorns Nursery"):
        assert fragment in r.text
    other = world.raise_alert("fees", [("criticism", "high")])
    assert client.get(link(world, other, "sam") + "/record").status_code == 404


def test_hide_needs_a_confirmed_post_and_uses_the_accounts_connector(world, client, hider):
    alert_id = world.raise_alert("her address is 1 Oak Lane", [("confidentiality", "high")])
    page = client.get(link(world, alert_id, "sam"))
    (hide_url,) = re.findall(r'href="(/h/[^"]+)"', page.text)  # the page offers a signed hide link
    claims = world.env.signer.verify("hide", hide_url[3:])
    assert (claims.alert_id, claims.recipient_id) == (alert_id, world.people["sam"])
    before = snapshot(world)
    assert client.get(hide_url).status_code == 200 and "Hide this comment?" in client.get(hide_url).text
    assert client.post(hide_url).status_code == 400  # not confirmed
    assert hider.calls == [] and snapshot(world) == before

    r = client.post(hide_url, data={"confirm": "yes"}, headers=UA)
    assert r.status_code == 200 and "now hidden" in r.text
    item_id = world.alert(alert_id).item_id
    with world.sessions() as s:
        item = s.get(Item, item_id)
        assert item.is_hidden
    assert hider.calls == [(world.account_id, item.external_id)]
    assert (audits(world)[-1].action, audits(world)[-1].user_agent) == ("hide", UA["user-agent"])
    assert client.post(hide_url, data={"confirm": "yes"}).status_code == 409  # already hidden
    assert len(hider.calls) == 1


def test_hide_is_not_offered_where_the_platform_does_not_allow_it(world, client, hider):
    alert_id = world.raise_alert("x", can_hide=False)
    assert "/h/" not in client.get(link(world, alert_id, "dana")).text
    assert client.post(link(world, alert_id, "dana", "hide"), data={"confirm": "yes"}).status_code == 409
    assert hider.calls == []


@pytest.mark.parametrize("error,status,action", [(HideRefused("no"), 409, "hide_refused"),
                                                 (TemporaryFailure("timeout"), 502, "hide_failed")])
def test_a_platform_refusal_to_hide_is_shown_and_audited(world, tmp_path, error, status, action):
    hider = Hider(error)
    with AppClient(create_app(WebDeps(world.sessions, world.env, world.clock, hide=hider))) as c:
        alert_id = world.raise_alert("x")
        r = c.post(link(world, alert_id, "dana", "hide"), data={"confirm": "yes"})
    assert r.status_code == status
    assert audits(world)[-1].action == action
    with world.sessions() as s:
        assert not s.scalar(select(Item.is_hidden))


def test_without_a_hide_function_the_page_offers_no_hiding(world):
    with AppClient(create_app(WebDeps(world.sessions, world.env, world.clock))) as c:
        alert_id = world.raise_alert("x")
        assert "/h/" not in c.get(link(world, alert_id, "dana")).text


def test_connector_hider_calls_the_accounts_connector():
    import asyncio

    class FakeConnector:
        platform = "facebook"

        def __init__(self):
            self.hidden = []

        async def hide(self, external_id, hidden=True):
            self.hidden.append(external_id)

    conn = FakeConnector()
    hide = connector_hider({7: conn})
    asyncio.run(hide(7, "c1"))
    assert conn.hidden == ["c1"]
    with pytest.raises(HideRefused):
        asyncio.run(hide(8, "c1"))


def test_health_and_home(world, client):
    assert client.get("/healthz").json() == {"status": "ok"}
    home = client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/login"  # no session: the sign-in page
    assert "Little Acorns Nursery" in client.get("/login").text


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/no/such/page", 404), ("DELETE", "/healthz", 405), ("PUT", "/a/anything", 405),
    ("GET", "/healthz", 200), ("GET", "/readyz", 200), ("GET", "/metrics", 200),
])
def test_every_answer_carries_the_security_headers_even_404_405_and_health(client, method, path, status):
    r = client.request(method, path)
    assert r.status_code == status
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
