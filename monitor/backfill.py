"""A safe first run: history is summarised once, not alerted item by item.

When an account is polled for the first time, or after an outage longer than
`[polling] backfill_horizon`, its poll is a backfill: every item created more
than the horizon before that poll began is stored with `backfill = true`. Such
items are classified like any other, and their findings are kept, but they
raise no alert, no email and no escalation. Once the whole backfill is stored
and classified, the manager and the DSL get ONE email per account, "what we
found in the last N days", listing each flagged comment with its link.
Anything newer than the horizon goes through the normal route.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select

from alerts.backfill import queue_backfill_summary
from monitor.core.models import Account, Finding, Item
from monitor.core.types import CycleReport

log = logging.getLogger(__name__)


def start_backfill(acc: Account, now: datetime, horizon: int) -> None:
    """Mark this poll a backfill if it is the account's first (or first after a long outage)."""
    if acc.backfill_before is not None:
        return  # one is under way (a first poll that did not finish): keep its horizon
    if acc.last_success_at is None or now - acc.last_success_at > timedelta(seconds=horizon):
        acc.backfill_since, acc.backfill_before = now, now - timedelta(seconds=horizon)
        log.info("account %s: first poll%s; items before %s are summarised, not alerted", acc.id,
                 "" if acc.last_success_at is None else " after a long outage", acc.backfill_before.isoformat())


def summarise_backfills(rt, report: CycleReport) -> None:
    """Queue the summary of every backfill that is complete: fetched and classified."""
    with rt.sessions.begin() as session:
        accounts = session.scalars(
            select(Account).where(Account.setting_id == rt.setting_id, Account.backfill_before.is_not(None),
                                  Account.last_success_at >= Account.backfill_since)
        ).all()
        for acc in accounts:
            started, until = acc.backfill_since, acc.backfill_before
            mine = (Item.account_id == acc.id, Item.backfill.is_(True), Item.fetched_at >= started)
            if session.scalar(select(func.count(Item.id)).where(*mine, Item.classified_at.is_(None))):
                continue  # still classifying
            checked, oldest = session.execute(select(func.count(Item.id), func.min(Item.created_at)).where(*mine)).one()
            acc.backfill_since = acc.backfill_before = None
            if not checked:
                continue  # no history at all: nothing to summarise, no email
            rows = session.execute(
                select(Item.id, Item.platform, Item.kind, Item.created_at, Item.permalink, Finding.category)
                .join(Finding, Finding.item_id == Item.id)
                .where(*mine, Finding.alerting.is_(True))
                .order_by(Item.created_at, Item.id)
            ).all()
            flagged: dict[int, dict] = {}
            categories: dict[int, set[str]] = defaultdict(set)
            for item_id, platform, kind, created_at, permalink, category in rows:
                flagged.setdefault(item_id, {"platform": platform, "kind": kind, "created_at": created_at,
                                             "permalink": permalink})
                categories[item_id].add(category)
            found = [v | {"categories": sorted(categories[k])} for k, v in flagged.items()]
            queued = queue_backfill_summary(
                session, rt.alert_env, account_name=acc.name, platform=acc.platform, found=found, checked=checked,
                since=oldest, until=until, now=rt.clock(), dedup_key=f"backfill:{acc.id}:{started.isoformat()}",
            )
            log.info("account %s: backfill of %s item(s) summarised, %s flagged, %s email(s) queued",
                     acc.id, checked, len(found), queued)
            report.summaries += 1
