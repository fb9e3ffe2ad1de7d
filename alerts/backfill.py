"""The one email a first run sends about history: "what we found in the last N days".

It goes to the manager and the DSL (every active recipient with either role),
lists flagged comments by category, platform, date and link to the comment
on the platform, and carries no comment text and no names: it is a to-do list
for a person who will read the comments where they are. A long history is
listed up to LISTED comments, safeguarding first and newest first within each
label (the rest counted by label), so the email stays readable on a phone and
small to render: a 100,000-comment first run listed 5,000 links in 2.2 MB. Queued
once per backfill (dedup key), like every other message, on each of the
person's channels, and rendered at delivery (template `backfill`).
"""
from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.emails import safe_url
from alerts.policy import CATEGORY_TITLES
from alerts.service import ROLE_NAMES, AlertEnv
from monitor.core.models import Recipient
from monitor.core.types import CATEGORIES
from monitor.core.platforms import PLATFORM_NAMES

AUDIENCE = ("manager", "dsl")
LISTED = 100  # comments listed one by one; the rest are counted


def most_urgent_first(found: list[dict]) -> list[dict]:
    """Safeguarding before confidentiality before criticism, newest first within each."""
    rank = {c: k for k, c in enumerate(CATEGORIES)}
    newest_first = sorted(found, key=lambda f: f["created_at"], reverse=True)
    return sorted(newest_first, key=lambda f: min(rank.get(c, len(rank)) for c in f["categories"]))


def backfill_context(env: AlertEnv, *, account_name: str, platform: str, found: list[dict], checked: int,
                     since: datetime, until: datetime) -> dict:
    tz = env.timezone
    days = max(1, math.ceil((until - since).total_seconds() / 86400))
    ordered = most_urgent_first(found)
    listed, unlisted = ordered[:LISTED], ordered[LISTED:]
    return {
        "setting_name": env.setting_name,
        "account_name": account_name,
        "platform": PLATFORM_NAMES.get(platform, platform),
        "days": days,
        "checked": checked,
        "since_local": since.astimezone(tz).strftime("%a %d %b %Y"),
        "until_local": until.astimezone(tz).strftime("%H:%M on %a %d %b %Y"),
        "found": [
            {
                "categories": [CATEGORY_TITLES.get(c, c) for c in f["categories"]],
                "kind": f["kind"],
                "posted": f["created_at"].astimezone(tz).strftime("%a %d %b %Y, %H:%M"),
                "url": safe_url(f["permalink"]),
            }
            for f in listed
        ],
        "flagged": len(found),
        "unlisted": len(unlisted),
        "unlisted_by_label": [(CATEGORY_TITLES.get(c, c), n) for c in CATEGORIES
                              if (n := sum(c in f["categories"] for f in unlisted))],
    }


def queue_backfill_summary(session: Session, env: AlertEnv, *, account_name: str, platform: str, found: list[dict],
                           checked: int, since: datetime, until: datetime, now: datetime, dedup_key: str) -> int:
    """Queue the summary for the manager and the DSL; how many emails were queued."""
    context = backfill_context(env, account_name=account_name, platform=platform, found=found, checked=checked,
                               since=since, until=until)
    people = [r for r in session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)
                                         .order_by(Recipient.id))
              if r.active and set(AUDIENCE) & set(r.roles)]
    queued = 0
    for r in people:
        ctx = context | {"roles": " and ".join(ROLE_NAMES.get(x, x) for x in r.roles)}
        queued += outbox.enqueue_for(session, r, setting_id=env.setting_id, dedup_key=f"{dedup_key}:{r.id}",
                                     kind="backfill", template="backfill", context=ctx, now=now)
    return queued
