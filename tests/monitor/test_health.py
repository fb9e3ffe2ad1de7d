"""/healthz, /readyz and /metrics: readiness turns with the right reason in
each failure (database down, SMTP refusing, an account failing, no cycle,
an email past its retry budget) and back when it clears."""
from __future__ import annotations

import asyncio
import json
import logging
import shutil

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from connectors.base import TemporaryFailure
from monitor import metrics
from monitor.core.db import Database, open_database
from monitor.health import Health
from monitor.logs import use_format
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from monitor.web import WebDeps, create_app
from tests.monitor.test_web import AppClient


@pytest.fixture
def runtime(make_config, smtp_server, sessions, clock):
    rt = build_runtime(make_config(smtp_port=smtp_server.port), clock=clock, sessions=sessions)
    yield rt
    asyncio.run(rt.aclose())


@pytest.fixture
def client(runtime):
    app = create_app(WebDeps(sessions=runtime.sessions, env=runtime.alert_env, clock=runtime.clock,
                             health=runtime.health))
    return AppClient(app)


def readiness(client) -> tuple[int, set[str], dict]:
    resp = client.get("/readyz")
    body = resp.json()
    return resp.status_code, {r["code"] for r in body["reasons"]}, body


def cycle(rt):
    return asyncio.run(run_cycle(rt))


def test_healthz_only_says_the_process_answers(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_after_a_cycle_and_says_no_cycle_when_the_scheduler_stalls(runtime, client, clock):
    cycle(runtime)
    status, codes, body = readiness(client)
    assert (status, codes, body["status"]) == (200, set(), "ready")

    clock.advance(seconds=2 * runtime.health.cycle_every + 1)
    status, codes, body = readiness(client)
    assert status == 503 and codes == {"no_recent_cycle"}
    assert "last cycle finished" in body["reasons"][0]["message"]

    cycle(runtime)
    assert readiness(client)[:2] == (200, set())


def test_readyz_names_a_refusing_smtp_server_and_clears_once_mail_goes_out(runtime, client, smtp_server):
    smtp_server.handler.data_code = "451 4.3.0 try again later"
    cycle(runtime)
    status, codes, body = readiness(client)
    assert status == 503 and codes == {"smtp_failing"}
    assert "SMTP 451" in body["reasons"][0]["message"]

    smtp_server.handler.data_code = None
    runtime.clock.advance(hours=2)  # past every backoff
    cycle(runtime)
    assert readiness(client)[:2] == (200, set())


def test_readyz_says_when_an_email_has_waited_past_its_retry_budget(runtime, client, smtp_server, clock):
    smtp_server.handler.data_code = "451 4.3.0 try again later"
    cycle(runtime)
    clock.advance(seconds=runtime.config.email.retry_for + 60)
    health = runtime.health
    health.last_cycle_at = clock()  # the scheduler is fine; only the mail is stuck
    assert {"outbox_stale", "smtp_failing"} <= readiness(client)[1]


def test_readyz_names_an_account_failing_longer_than_its_budget_and_clears_on_recovery(runtime, client, clock):
    cycle(runtime)
    account_id, real = next(iter(runtime.connectors.items()))

    class Broken:
        platform = "demo"

        async def fetch(self, cursors):
            raise TemporaryFailure("HTTP 503 from the platform")
            yield  # pragma: no cover - makes this an async generator

    runtime.connectors[account_id] = Broken()
    cycle(runtime)
    status, codes, body = readiness(client)  # one failure is inside the budget: degraded, still ready
    assert (status, codes, body["status"]) == (200, {"account_poll_failed"}, "degraded")
    assert "within its budget" in body["reasons"][0]["message"]

    budget = runtime.health.account_failing_for + 300
    for _ in range(3):
        clock.advance(seconds=budget // 2)
        cycle(runtime)
    status, codes, body = readiness(client)
    assert status == 503 and codes == {"account_failing"}
    assert f"account {account_id} (demo)" in body["reasons"][0]["message"]

    runtime.connectors[account_id] = real
    cycle(runtime)
    assert readiness(client)[:2] == (200, set())


def test_readyz_says_database_down_while_the_file_is_gone_and_ready_when_it_is_back(tmp_path, clock):
    path = tmp_path / "db" / "nw.db"
    open_database(f"sqlite:///{path}").dispose()
    db = Database(create_engine(f"sqlite:///{path}", poolclass=NullPool))  # a fresh connection per check
    health = Health(db, clock)
    assert health.reasons() == []

    shutil.move(tmp_path / "db", tmp_path / "away")
    (tmp_path / "db" / "nw.db").mkdir(parents=True)  # opening a folder as the database fails
    assert [r.code for r in health.reasons()] == ["database_down"]

    shutil.rmtree(tmp_path / "db")
    shutil.move(tmp_path / "away", tmp_path / "db")
    assert health.reasons() == []
    db.dispose()


def test_metrics_export_cycle_counters_and_database_gauges(runtime, client):
    before = metrics.ITEMS_STORED._value.get()
    cycle(runtime)
    assert metrics.ITEMS_STORED._value.get() - before == 12
    body = client.get("/metrics").text
    for name in ("nurserywatch_cycle_duration_seconds_count", "nurserywatch_classifications_total",
                 "nurserywatch_database_up 1.0", 'nurserywatch_outbox_messages{state="sent"}',
                 "nurserywatch_outbox_oldest_age_seconds", 'nurserywatch_accounts{platform="demo",state="ok"} 1.0',
                 'nurserywatch_alerts{category="safeguarding",state="open"}', "nurserywatch_webhook_events_total"):
        assert name in body, name


def test_platform_api_calls_are_counted_by_platform_and_other_calls_are_not():
    async def run():
        client = metrics.instrument(httpx.AsyncClient(transport=httpx.MockTransport(
            lambda req: httpx.Response(500 if req.url.path == "/bad" else 200))))
        token = metrics.API_PLATFORM.set("facebook")
        await client.get("http://127.0.0.1/ok")
        await client.get("http://127.0.0.1/bad")
        metrics.API_PLATFORM.reset(token)
        await client.get("http://127.0.0.1/ping")  # no platform: not counted
        await client.aclose()

    requests = metrics.API_REQUESTS.labels("facebook")._value.get()
    errors = metrics.API_ERRORS.labels("facebook", "500")._value.get()
    asyncio.run(run())
    assert metrics.API_REQUESTS.labels("facebook")._value.get() - requests == 2
    assert metrics.API_ERRORS.labels("facebook", "500")._value.get() - errors == 1


def test_the_dead_mans_switch_is_pinged_after_healthy_cycles_only(runtime, smtp_server):
    pings = []
    runtime.health.ping_url = "http://127.0.0.1:9/ping/abc"
    runtime.health.http = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda req: pings.append(str(req.url)) or httpx.Response(200, text="OK")))

    cycle(runtime)
    assert pings == ["http://127.0.0.1:9/ping/abc"]

    smtp_server.handler.data_code = "451 4.3.0 try again later"
    runtime.clock.advance(hours=1)
    for account_id in runtime.connectors:
        runtime.connectors[account_id].samples.append({"text": "Miss Sarah grabbed my son and left a bruise"})
    cycle(runtime)
    assert len(pings) == 1  # email is failing: silence lets the other side raise the alarm
    asyncio.run(runtime.health.http.aclose())


def test_a_failing_ping_is_logged_once_and_never_breaks_the_cycle(runtime, caplog):
    runtime.health.ping_url = "http://127.0.0.1:9/ping/abc"
    runtime.health.http = httpx.AsyncClient(transport=httpx.MockTransport(lambda req: httpx.Response(503)))
    with caplog.at_level(logging.WARNING, logger="monitor.health"):
        cycle(runtime)
        runtime.clock.advance(minutes=5)
        cycle(runtime)
    assert [r.message for r in caplog.records].count(
        "dead-man's switch ping failed (HTTPStatusError); the monitor there will raise the alarm") == 1
    asyncio.run(runtime.health.http.aclose())


def test_json_log_format_writes_one_object_per_line(capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        use_format("json")
        logging.getLogger("monitor.test").warning("account %s: rate limited", 7)
    finally:
        root.removeHandler(handler)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "account 7: rate limited"
    assert record["level"] == "WARNING" and record["logger"] == "monitor.test"


def test_webhook_deliveries_are_counted_by_outcome(runtime):
    from monitor.web.webhooks import MetaWebhook, sign

    app = create_app(WebDeps(sessions=runtime.sessions, env=runtime.alert_env, clock=runtime.clock,
                             meta_webhook=MetaWebhook("app-secret", "verify")))
    client = AppClient(app)
    counter = metrics.WEBHOOK_EVENTS
    before = {o: counter.labels("meta", o)._value.get() for o in ("queued", "replay", "refused")}
    raw = json.dumps({"object": "page", "entry": []}).encode()
    for signature in (sign("app-secret", raw), sign("app-secret", raw), "sha256=" + "0" * 64):
        client.post("/webhooks/meta", content=raw,
                    headers={"content-type": "application/json", "x-hub-signature-256": signature})
    assert {o: counter.labels("meta", o)._value.get() - before[o] for o in before} == \
        {"queued": 1, "replay": 1, "refused": 1}


class Unreadable:
    """A platform whose page holds two items that do not parse (the connector skipped them)."""

    platform = "demo"

    async def fetch(self, cursors):
        from monitor.core.types import Batch

        yield Batch(items=[], unreadable=2)

    async def hide(self, external_id, hidden=True):
        return None


def test_readyz_warns_for_a_day_that_items_could_not_be_read_naming_the_account_and_count(
        make_config, smtp_server, sessions, clock, monkeypatch):
    import connectors

    monkeypatch.setitem(connectors.REGISTRY, "demo", lambda acc, token, client, clock: Unreadable())
    rt = build_runtime(make_config(smtp_port=smtp_server.port), clock=clock, sessions=sessions)
    try:
        client = AppClient(create_app(WebDeps(sessions=rt.sessions, env=rt.alert_env, clock=rt.clock, health=rt.health)))
        cycle(rt)
        cycle(rt)
        status, codes, body = readiness(client)
        assert (status, codes, body["status"]) == (200, {"items_unreadable"}, "degraded")
        (reason,) = body["reasons"]
        assert "4 item(s) could not be read" in reason["message"] and "account 1 (demo)" in reason["message"]
        clock.advance(days=1, seconds=1)
        rt.health.last_cycle_at = clock()
        assert "items_unreadable" not in readiness(client)[1]
    finally:
        asyncio.run(rt.aclose())
