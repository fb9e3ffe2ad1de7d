"""Whether an account's webhooks can be trusted, and so how often to poll it.

An account is "on webhooks" from the first event received for it
(`Account.webhook_since`); polling it then slows to
`[webhooks.meta] reconcile_every`, a reconciliation pass. Meta sends no
heartbeat and a nursery's Page can be quiet for days, so silence alone is
not proof of a fault. The proof is a reconciliation poll that stores a
comment (created after webhooks were trusted, older than `missed_grace`)
that no webhook announced: then the account goes back to its normal
poll_every and the admins are told, once per episode. `silent_after`, when
set, also ends trust after that long without an event.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.notices import queue_admin_notice
from alerts.service import AlertEnv
from monitor.core.models import Account, Item
from monitor.core.settings import Config

log = logging.getLogger(__name__)

META_PLATFORMS = ("facebook", "instagram")


def on_webhooks(config: Config, acc: Account, now: datetime) -> bool:
    meta = config.webhooks.meta
    if meta is None or acc.platform not in META_PLATFORMS or acc.webhook_since is None:
        return False
    return not (meta.silent_after and acc.webhook_at and now - acc.webhook_at >= timedelta(seconds=meta.silent_after))


def poll_every(config: Config, acc: Account, every: int, now: datetime) -> int:
    """The account's poll interval now: the reconciliation pace while its webhooks are trusted."""
    if on_webhooks(config, acc, now):
        return max(every, config.webhooks.meta.reconcile_every)
    return every


def heard(acc: Account, now: datetime) -> None:
    """A webhook event for this account arrived (in the caller's transaction)."""
    acc.webhook_at = now
    if acc.webhook_since is None:
        acc.webhook_since = now
        log.info("account %s: webhooks arriving; polling slows to reconciliation", acc.id)


def after_poll(session: Session, config: Config, env: AlertEnv, acc: Account, started: datetime, now: datetime) -> None:
    """After a successful poll: did it find what webhooks should have announced? Or has it gone quiet too long?"""
    meta = config.webhooks.meta
    if meta is None or acc.platform not in META_PLATFORMS or acc.webhook_since is None:
        return
    if not on_webhooks(config, acc, now):
        _distrust(session, env, acc, now, f"no webhook event for {_span(meta.silent_after)}")
        return
    missed = session.scalar(
        select(Item.id).where(
            Item.account_id == acc.id,
            Item.kind.in_(("comment", "reply")),  # what webhooks announce (not IG media or tags)
            Item.fetched_at >= started,
            Item.created_at >= acc.webhook_since,
            Item.created_at < started - timedelta(seconds=meta.missed_grace),
        ).limit(1)
    )
    if missed is not None:
        _distrust(session, env, acc, now, "a regular check found a comment that no webhook announced")


def _distrust(session: Session, env: AlertEnv, acc: Account, now: datetime, problem: str) -> None:
    since = acc.webhook_since
    acc.webhook_since = None
    log.warning("account %s: webhooks not trusted any more (%s); polling at the normal pace", acc.id, problem)
    queue_admin_notice(
        session, env, "webhooks_silent",
        {"account_name": acc.name, "platform": acc.platform, "problem": problem,
         "last_seen": acc.webhook_at.astimezone(env.timezone).strftime("%H:%M on %a %d %b %Y") if acc.webhook_at else "never"},
        dedup_key=f"webhooks_silent:{acc.id}:{since.isoformat()}",
        now=now,
    )


def _span(seconds: int | None) -> str:
    if not seconds:
        return "a long time"
    return f"{seconds // 3600} hours" if seconds >= 7200 else f"{seconds // 60} minutes"
