"""The issue's "done when": a Google account with configured refresh credentials,
against a token endpoint that issues 20-second access tokens, polled for ten
(simulated) minutes while new reviews arrive: every flagged review is alerted
once and no reconnect email is sent; a revoked refresh token then produces
exactly one reconnect email naming the fix. And no token, refresh token or
authorisation code appears in clear in logs, the outbox, errors or the database.

A fake clock drives everything (tokens, polls, the imitation's expiry check),
so ten minutes take seconds; benchmarks/bench_staying_connected.py runs it in
real time.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import MetaData, select

from alerts.testing import email_of, raw_of
from monitor.accounts.fakeoauth import FakeOAuthServer
from monitor.core.models import Account, Alert, OutboxMessage
from monitor.core.types import Classification, Evidence, Finding
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime

LOCATION = "accounts/1/locations/2"


class FlagsTheWordConcern:
    """A classifier that flags what says 'concern': these tests are about staying connected."""

    def classify(self, text, platform=None, rating=None):
        if "concern" not in text:
            return Classification()
        start = text.index("concern")
        ev = Evidence(start, start + 7, "concern", "flagged word", "test")
        return Classification(labels=("safeguarding",), findings=(Finding("safeguarding", "high", 0.9, (ev,), "test"),))

    def classify_batch(self, items):
        return [self.classify(t) for t, *_ in items]


class Reviews:
    """The Business Profile reviews endpoint: newest change first, bearer checked against the token server."""

    def __init__(self, oauth: FakeOAuthServer, clock):
        self.oauth, self.clock = oauth, clock
        self.reviews: list[dict] = []
        self.refused = 0

    def add(self, text: str) -> None:
        n = len(self.reviews) + 1
        when = self.clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.reviews.append({"name": f"{LOCATION}/reviews/r{n}", "reviewId": f"r{n}", "starRating": "TWO",
                             "comment": text, "createTime": when, "updateTime": when,
                             "reviewer": {"displayName": "A Parent"}})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "oauth.test":
            return self.oauth.handler(request)
        if not self.oauth.valid(request.headers.get("authorization")):
            self.refused += 1
            return httpx.Response(401, json={"error": {"code": 401, "status": "UNAUTHENTICATED", "message":
                                  "Request had invalid authentication credentials. Expected OAuth 2 access token"}})
        newest = sorted(self.reviews, key=lambda r: r["updateTime"], reverse=True)
        return httpx.Response(200, json={"reviews": newest[:50], "totalReviewCount": len(newest)})


@pytest.fixture
def world(make_config, sessions, clock, monkeypatch):
    oauth = FakeOAuthServer(clock, lifetime=20, client_id="g-client-id", client_secret="g-client-secret-XYZ")
    first = oauth.grant()
    monkeypatch.setenv("GOOGLE_CLIENT_ID", oauth.client_id)
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", oauth.client_secret)
    monkeypatch.setenv("GOOGLE_REFRESH_TOKEN", first["refresh_token"])
    config = make_config(accounts=[{
        "platform": "google", "id": LOCATION, "name": "Google reviews", "poll_every": "10s",
        "client_id_env": "GOOGLE_CLIENT_ID", "client_secret_env": "GOOGLE_CLIENT_SECRET",
        "refresh_token_env": "GOOGLE_REFRESH_TOKEN", "token_url": "https://oauth.test/token",
        "api_base": "https://gbp.test/v4",
    }])
    api = Reviews(oauth, clock)
    transport = httpx.MockTransport(api)
    rt = build_runtime(config, clock=clock, sessions=sessions, http=httpx.AsyncClient(transport=transport),
                       classifier=FlagsTheWordConcern(), oauth_transport=transport)
    return rt, api, oauth


def run_minutes(rt, api, clock, minutes: int, *, every_review: int = 30) -> int:
    """Cycle every 10 s of fake time; a review every `every_review` s, every other one flagged."""
    flagged = 0
    for tick in range(minutes * 6):
        clock.advance(seconds=10)
        if (tick * 10) % every_review == 0:
            concern = len(api.reviews) % 2 == 0
            api.add(f"Review {len(api.reviews)}: " + ("I have a concern about a child" if concern else "Lovely staff"))
            flagged += concern
        asyncio.run(run_cycle(rt, only_due=True))
    return flagged


def outbox(sessions, kind):
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def test_twenty_second_tokens_keep_a_google_account_watched_and_a_revocation_sends_one_email(world, clock, sessions, caplog):
    rt, api, oauth = world
    caplog.set_level(logging.DEBUG)
    flagged = run_minutes(rt, api, clock, 10)
    with sessions() as s:
        alerts = s.scalars(select(Alert)).all()
        assert sorted(a.item.external_id for a in alerts) == sorted(
            r["reviewId"] for r in api.reviews if "concern" in r["comment"])
        assert len(alerts) == flagged == 10
        assert s.scalar(select(Account).where(Account.platform == "google")).state == "ok"
    assert outbox(sessions, "reconnect") == []
    assert rt.credentials[next(iter(rt.credentials))].renewals >= 600 // 20  # renewed, never restarted

    oauth.revoke_all()
    run_minutes(rt, api, clock, 3)
    mails = outbox(sessions, "reconnect")
    assert len(mails) == len({m.address for m in mails}) >= 1  # one per admin, once
    body = email_of(mails[0]).get_body(("plain",)).get_content()
    assert "refresh token was refused" in body and "In production" in body
    assert "GOOGLE_REFRESH_TOKEN" in body and "nurserywatch connect google --config" in body
    assert oauth.refused_refreshes == 1  # not asked again while nothing changed

    # no credential in clear anywhere: logs, outbox, errors, every table
    secrets = oauth.issued + [oauth.client_secret]
    with sessions() as s:
        tables = MetaData()
        tables.reflect(bind=s.get_bind())
        dump = " ".join(str(v) for t in tables.sorted_tables for row in s.execute(t.select()) for v in row)
    haystacks = {"logs": caplog.text, "database (incl. outbox and last_error)": dump}
    for where, text in haystacks.items():
        leaked = [x[:6] + "..." for x in secrets if x in text]
        assert not leaked, f"{where} holds credentials in clear: {leaked}"


def test_an_account_connected_while_the_daemon_runs_is_polled_at_the_next_cycle(make_config, sessions, clock):
    from monitor.accounts.vault import Credential, Vault

    oauth = FakeOAuthServer(clock, lifetime=3600)
    config = make_config(accounts=[{"platform": "google", "id": LOCATION, "poll_every": "10s",
                                    "token_url": "https://oauth.test/token", "api_base": "https://gbp.test/v4"}])
    api = Reviews(oauth, clock)
    api.add("There is a concern here")
    transport = httpx.MockTransport(api)
    rt = build_runtime(config, clock=clock, sessions=sessions, http=httpx.AsyncClient(transport=transport),
                       classifier=FlagsTheWordConcern(), oauth_transport=transport)
    asyncio.run(run_cycle(rt, only_due=True))
    mails = outbox(sessions, "reconnect")
    assert mails and "never connected" in raw_of(mails[0])
    # `nurserywatch connect google` stores a grant in another process
    grant = oauth.grant()
    Vault(sessions, rt.setting_id).save(Credential("google", LOCATION, "oauth2", {
        "refresh_token": grant["refresh_token"], "access_token": grant["access_token"], "grant_id": "new",
        "client_id": oauth.client_id, "client_secret": oauth.client_secret}, expires_at=clock() + timedelta(hours=1)),
        clock())
    clock.advance(seconds=10)
    asyncio.run(run_cycle(rt, only_due=True))
    with sessions() as s:
        assert s.scalar(select(Account).where(Account.platform == "google")).state == "ok"
        assert len(s.scalars(select(Alert)).all()) == 1
