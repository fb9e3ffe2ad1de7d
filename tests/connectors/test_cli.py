"""`nurserywatch accounts` shows state, last good poll, items seen and the last error."""
from __future__ import annotations

import argparse
import io
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from connectors.cli import register
from monitor.core.models import Account

CONFIG = """
[setting]
name = "Willowbrook Day Nursery"
timezone = "Europe/London"

[database]
url = "sqlite:///{db}"

[[recipients]]
name = "Jo Manager"
email = "manager@example.org"
roles = ["manager", "admin"]

[[accounts]]
platform = "facebook"
id = "1000"
name = "Willowbrook on Facebook"
token_env = "FB_TOKEN"

[[accounts]]
platform = "x"
id = "900"
token_env = "X_TOKEN"

[[accounts]]
platform = "google"
id = "accounts/1/locations/2"
token_env = "G_TOKEN"
"""


def run(argv, out):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args, out)


def test_it_lists_each_account_with_its_state(tmp_path):
    path = tmp_path / "nw.toml"
    path.write_text(CONFIG.format(db=tmp_path / "nw.db"))
    out = io.StringIO()
    assert run(["accounts", "--config", str(path), "--json"], out) == 0
    rows = json.loads(out.getvalue())
    assert [r["platform"] for r in rows] == ["facebook", "x", "google"]
    assert rows[0]["status"] == "ok (not polled yet)" and rows[0]["last_success_at"] is None

    from monitor.core.db import open_database

    sessions = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    when = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    with sessions.begin() as s:
        fb, x, g = (s.scalar(select(Account).where(Account.platform == p)) for p in ("facebook", "x", "google"))
        fb.last_poll_at = fb.last_success_at = when
        fb.items_seen, fb.items_unreadable = 42, 3
        x.state, x.backoff_until, x.failures = "backing_off", when + timedelta(minutes=15), 1
        x.last_error = "RateLimited: X rate limit reached (429)"
        g.state, g.failures, g.last_error = "needs_reconnect", 1, "AuthFailed: Google rejected the credentials"
    sessions.dispose()

    out = io.StringIO()
    assert run(["accounts", "--config", str(path)], out) == 1  # someone must reconnect Google
    text = out.getvalue()
    assert "Willowbrook on Facebook (facebook 1000)" in text
    assert "last good poll:   2026-11-23 09:00 GMT" in text and "items seen:       42" in text
    assert "could not read:   3 item(s) (skipped; ids in the log)" in text
    assert text.count("could not read") == 1  # only where there were some
    assert "backing off until 2026-11-23 09:15 GMT" in text
    assert "needs reconnecting" in text and "Google rejected the credentials" in text
