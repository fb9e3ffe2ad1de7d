"""Helpers for the web app tests: the real app under Starlette's TestClient
(cookies kept, like a browser), signing in through the emailed link."""
from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from alerts.channels.email.render import render
from monitor.core.models import OutboxMessage
from monitor.web import WebDeps, create_app

BASE = "https://watch.acorns.example"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def client_for(world, base_url: str = BASE, hide=None, **deps) -> TestClient:
    app = create_app(WebDeps(world.sessions, world.env, world.clock, hide=hide, **deps))
    return TestClient(app, base_url=base_url, follow_redirects=False, client=("203.0.113.9", 50000))


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def request_link(client: TestClient, email: str):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "csrf": csrf_of(page.text)})


def last_link(world, email: str) -> str:
    """The sign-in link in the newest sign-in email to `email` (path only)."""
    with world.sessions() as s:
        payload = s.scalar(select(OutboxMessage.payload).where(OutboxMessage.kind == "signin",
                                                               OutboxMessage.address == email)
                           .order_by(OutboxMessage.id.desc()).limit(1))
    assert payload, f"no sign-in email to {email}"
    _subject, text, _html = render(payload["template"], payload["context"])  # as delivery renders it
    url = re.search(r"https?://\S+/login/\S+", text).group(0)
    return url.split(BASE, 1)[-1] if url.startswith(BASE) else "/login/" + url.rsplit("/login/", 1)[1]


def sign_in(client: TestClient, world, who: str) -> TestClient:
    """Sign `who` (first name) in the way a person does: ask, open the link, press the button."""
    email = world.recipient(who).email
    assert request_link(client, email).status_code == 200
    link = last_link(world, email)
    page = client.get(link)
    assert page.status_code == 200, page.text
    r = client.post(link, data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/alerts", r.text
    return client


def post_form(client: TestClient, page_url: str, action: str, data: dict | None = None, **kw):
    """POST `data` to `action` with the CSRF token from `page_url`, as the page's form does."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={"csrf": token, **(data or {})}, **kw)
