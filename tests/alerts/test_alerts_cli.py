"""`nurserywatch alerts` (alerts.cli) and `nurserywatch digest` (monitor.cli.digest)."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest

from alerts import cli
from monitor.cli import build_parser
from monitor.cli import digest as digest_cli
from alerts.ack import Actor, acknowledge
from alerts.testing import PEOPLE, SECRET
from monitor.core.models import Alert, Recipient


def write_toml(world, path) -> str:
    people = "\n".join(
        f'[[recipients]]\nname = "{p["name"]}"\nemail = "{p["email"]}"\nroles = {json.dumps(p["roles"])}\n'
        f'known_as = {json.dumps(p.get("known_as", []))}\n' for p in PEOPLE
    )
    path.write_text(f"""
[setting]
name = "Little Acorns Nursery"
timezone = "Europe/London"

[database]
url = "{world.config.database.url}"

[web]
base_url = "https://watch.acorns.example"

[email]
from = "alerts@acorns.example"
outbox_dir = "{path.parent / 'outbox'}"

{people}
[[accounts]]
platform = "facebook"
id = "1001"
name = "Little Acorns Facebook"
token_env = "NW_TEST_FB"
""")
    return str(path)


def parse(*argv) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def run(*argv) -> str:
    args = parse(*argv)
    out = io.StringIO()
    assert args.func(args, out=out) == 0
    return out.getvalue()


@pytest.fixture
def cfg(world, tmp_path):
    a1 = world.raise_alert("x", [("safeguarding", "high")])
    world.raise_alert("fees", [("criticism", "low")])
    with world.sessions.begin() as s:
        acknowledge(s, world.env, s.get(Alert, a1), Actor(s.get(Recipient, world.people["pat"]), None, None), "ok",
                    world.clock())
    return write_toml(world, tmp_path / "nw.toml")


def test_alerts_lists_categories_recipients_delivery_and_acknowledgement(cfg):
    text = run("alerts", "--config", cfg)
    assert "#1" in text and "safeguarding (high) on facebook" in text and "acknowledged by Pat Okafor" in text
    assert "Dana Lewis (pending)" in text
    assert "#2" in text and "in the digest" in text


def test_alerts_filters_by_state_and_prints_json(cfg):
    rows = json.loads(run("alerts", "--config", cfg, "--state", "open", "--json"))
    assert [r["id"] for r in rows] == [2]
    assert rows[0]["categories"] == ["criticism"] and rows[0]["delivery"] == "digest" and rows[0]["state"] == "open"
    rows = json.loads(run("alerts", "-c", cfg, "--json"))
    assert rows[0]["acknowledged_by"] == "Pat Okafor"
    assert {r["email"] for r in rows[0]["recipients"]} == {"dana@acorns.example", "pat@acorns.example"}
    assert rows[0]["recipients"][0]["emails"][0] == {"kind": "alert", "state": "pending", "attempts": 0,
                                                     "last_error": None, "channel": "email",
                                                     "address": rows[0]["recipients"][0]["email"]}


def test_alerts_state_must_be_a_known_one(cfg):
    with pytest.raises(SystemExit):
        parse("alerts", "--config", cfg, "--state", "lost")


def test_digest_dry_run_prints_each_persons_digest_and_queues_nothing(cfg, world, monkeypatch):
    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", SECRET)
    monkeypatch.setenv("NW_TEST_FB", "token")
    text = run("digest", "--config", cfg, "--dry-run")
    assert text.count("Subject: [nurserywatch] Daily summary") == 5
    assert "To: Sam Patel <sam@acorns.example>" in text and "1 open alert" in text
    from alerts.digest import digest_due

    world.clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc))
    assert digest_due(world.sessions, world.env, world.config.digest, world.clock())  # nothing was recorded


def test_digest_sends_once_a_day(cfg, world, monkeypatch, tmp_path):
    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", SECRET)
    monkeypatch.setenv("NW_TEST_FB", "token")
    args = parse("digest", "--config", cfg)
    for when, expected in [((2026, 11, 24, 7, 0), "no digest due now"),
                           ((2026, 11, 24, 7, 31), "digest queued for 5 recipient(s)"),
                           ((2026, 11, 24, 12, 0), "next at 2026-11-25 07:30 GMT")]:
        out = io.StringIO()
        assert digest_cli.cmd_digest(args, out=out, clock=lambda: datetime(*when, tzinfo=timezone.utc)) == 0
        assert expected in out.getvalue()
    assert len(list((tmp_path / "outbox").glob("*.eml"))) >= 5  # sent through the file transport
