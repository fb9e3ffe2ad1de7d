"""Staying connected in real time: a Google account whose access tokens live 20 s.

    .venv/bin/python benchmarks/bench_staying_connected.py [--minutes 10] [--every 10]

The unit test (tests/accounts/test_staying_connected.py) runs the same story
on a fake clock in seconds; this runs it on the wall clock, through the real
pipeline (SQLite in a temp dir), with a cycle every `--every` seconds and a
review every 30 s (every other one flagged), then revokes the grant. Prints
renewals, refused API calls, alerts against flagged reviews, reconnect emails,
and the time a cycle takes (median and worst).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from monitor.accounts.fakeoauth import FakeOAuthServer  # noqa: E402
from monitor.core.models import Alert, OutboxMessage  # noqa: E402
from monitor.core.settings import config_from_dict  # noqa: E402
from monitor.pipeline import run_cycle  # noqa: E402
from monitor.runtime import build_runtime  # noqa: E402
from tests.accounts.test_staying_connected import LOCATION, FlagsTheWordConcern, Reviews  # noqa: E402


def now() -> datetime:
    return datetime.now(timezone.utc)


async def main(minutes: float, every: float, after: float) -> None:
    folder = tempfile.mkdtemp()
    oauth = FakeOAuthServer(now, lifetime=20)
    os.environ.update({"NURSERYWATCH_SECRET_KEY": "b" * 40, "NURSERYWATCH_CREDENTIALS_KEY": Fernet.generate_key().decode(),
                       "G_ID": oauth.client_id, "G_SECRET": oauth.client_secret,
                       "G_REFRESH": oauth.grant()["refresh_token"]})
    config = config_from_dict({
        "setting": {"name": "Bench Nursery"}, "database": {"url": f"sqlite:///{folder}/b.db"},
        "email": {"from": "nw@bench.example", "outbox_dir": f"{folder}/outbox"},
        "recipients": [{"name": "Admin", "email": "admin@bench.example", "roles": ["manager", "admin", "dsl"]}],
        "accounts": [{"platform": "google", "id": LOCATION, "poll_every": f"{max(1, int(every))}s",
                      "client_id_env": "G_ID", "client_secret_env": "G_SECRET", "refresh_token_env": "G_REFRESH",
                      "token_url": "https://oauth.test/token", "api_base": "https://gbp.test/v4"}],
    })
    api = Reviews(oauth, now)
    transport = httpx.MockTransport(api)
    rt = build_runtime(config, http=httpx.AsyncClient(transport=transport), classifier=FlagsTheWordConcern(),
                       oauth_transport=transport)
    creds = next(iter(rt.credentials.values()))
    durations, flagged, start, last_review = [], 0, time.monotonic(), -30.0
    while time.monotonic() - start < minutes * 60:
        if time.monotonic() - last_review >= 30:
            concern = len(api.reviews) % 2 == 0
            api.add(f"Review {len(api.reviews)}: " + ("a concern about a child" if concern else "lovely staff"))
            flagged += concern
            last_review = time.monotonic()
        t = time.perf_counter()
        await run_cycle(rt, only_due=True)
        durations.append(time.perf_counter() - t)
        await asyncio.sleep(every)
    with rt.sessions() as s:
        alerts = s.scalar(select(func.count(Alert.id)))
    refused_while_watching = api.refused
    oauth.revoke_all()
    revoked_at = time.monotonic()
    while time.monotonic() - revoked_at < after:
        await run_cycle(rt, only_due=True)
        await asyncio.sleep(every)
    with rt.sessions() as s:
        reconnect = s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "reconnect"))
    print(f"ran {minutes:g} min, a cycle every {every:g} s, 20 s access tokens")
    print(f"  renewals: {creds.renewals}  token requests: {oauth.token_requests}  "
          f"API calls refused while watching: {refused_while_watching}")
    print(f"  flagged reviews: {flagged}  alerts: {alerts}")
    print(f"  cycle time: median {statistics.median(durations) * 1000:.1f} ms, worst {max(durations) * 1000:.1f} ms "
          f"({len(durations)} cycles)")
    print(f"  after revoking: reconnect emails {reconnect}, refresh attempts refused {oauth.refused_refreshes}")
    await rt.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--every", type=float, default=10.0, help="seconds between cycles")
    p.add_argument("--after", type=float, default=30.0, help="seconds to keep cycling after the revocation")
    a = p.parse_args()
    asyncio.run(main(a.minutes, a.every, a.after))
