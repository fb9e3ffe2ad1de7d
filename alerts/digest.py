"""The daily digest: what each person needs to know, once per local day.

Sent at `[digest] at` local time in the setting's time zone. The digest for a
local day covers the time since the previous day's digest time, so across a
clock change it covers 23 or 25 hours and no comment is counted twice or
missed. Each person's digest is queued under the dedup key
`digest:<setting>:<recipient>:<local date>`, so it is never sent twice for the
same day, even after a restart or with two workers.

It carries counts and links, never comment text. When nothing happened it
says so ("all quiet, N comments checked"): the digest is also the daily proof
that the service is alive.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts import outbox
from alerts.channels.email.render import render
from monitor.core.platforms import PLATFORM_NAMES
from alerts.policy import CATEGORY_TITLES
from alerts.service import ROLE_NAMES, AlertEnv, audience
from monitor.core.graph_api import GRAPH_VERSION, currency_warning
from monitor.core.settings import DigestConfig
from monitor.core.models import Account, AccountState, Alert, AlertState, Item, OutboxMessage, Recipient

log = logging.getLogger(__name__)


def scheduled_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local time `at` on `day`.

    A time skipped by the spring clock change (01:30 in London) happens an hour
    later by the clock; a time repeated in autumn happens the first time.
    """
    local = datetime.combine(day, at, tzinfo=tz)
    return local.astimezone(timezone.utc)


def next_digest_at(at: time, tz: ZoneInfo, now: datetime) -> datetime:
    """The next digest time strictly after `now` (UTC)."""
    day = now.astimezone(tz).date()
    for offset in range(3):
        t = scheduled_at(day + timedelta(days=offset), at, tz)
        if t > now:
            return t
    raise AssertionError("unreachable")  # pragma: no cover


def digest_day(at: time, tz: ZoneInfo, now: datetime) -> date | None:
    """The local date whose digest is due at `now`, or None before today's time."""
    day = now.astimezone(tz).date()
    return day if now >= scheduled_at(day, at, tz) else None


def due_window(cfg: DigestConfig, tz: ZoneInfo, now: datetime, dry_run: bool) -> tuple[date, datetime] | None:
    """The day whose digest is due and when its window began (yesterday's time), or None
    when none is due; a dry run always has today's, even before its time."""
    day = digest_day(cfg.at, tz, now)
    if day is None or not cfg.enabled:
        if not dry_run:
            return None
        day = now.astimezone(tz).date()
    return day, scheduled_at(day - timedelta(days=1), cfg.at, tz)


def dedup_key(setting_id: int, recipient_id: int, day: date) -> str:
    return f"digest:{setting_id}:{recipient_id}:{day.isoformat()}"


def _recipients(session: Session, env: AlertEnv, skip: frozenset[str] = frozenset()) -> list[Recipient]:
    """The setting's people, but those in `skip` (addresses that get the group digest instead)."""
    return [r for r in session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id).order_by(Recipient.id))
            if r.active and r.email not in skip]


def digest_due(sessions: sessionmaker[Session], env: AlertEnv, cfg: DigestConfig, now: datetime,
               *, not_before: datetime | None = None, skip: frozenset[str] = frozenset()) -> bool:
    """True when today's digest time has passed and someone has not had today's digest.

    `not_before` (when the daemon started): a digest time that passed before it
    is caught up only if a digest has gone out before, so a new installation
    sends its first digest at the configured time, never at start-up."""
    if not cfg.enabled:
        return False
    day = digest_day(cfg.at, env.timezone, now)
    if day is None:
        return False
    with sessions() as session:
        if not_before is not None and scheduled_at(day, cfg.at, env.timezone) < not_before and session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.setting_id == env.setting_id,
                                           OutboxMessage.kind == "digest").limit(1)
        ) is None:
            return False
        keys = {dedup_key(env.setting_id, r.id, day) for r in _recipients(session, env, skip)}
        if not keys:
            return False
        sent = set(session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(keys))))
    return bool(keys - sent)


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


def digest_context(session: Session, env: AlertEnv, recipient: Recipient, since: datetime, now: datetime,
                   audiences: dict[int, set[int]]) -> dict:
    tz = env.timezone
    recent = session.scalars(
        select(Alert).where(Alert.setting_id == env.setting_id, Alert.created_at >= since, Alert.created_at < now)
    ).all()
    mine = [a for a in recent if recipient.id in audiences[a.id]]
    by_category = Counter(c for a in mine for c in a.categories)
    by_platform = Counter(a.item.platform for a in mine)
    open_alerts = session.scalars(
        select(Alert).where(Alert.setting_id == env.setting_id, Alert.state == AlertState.open.value,
                            Alert.created_at < now).order_by(Alert.created_at)
    ).all()
    open_rows = [
        {
            "categories": [CATEGORY_TITLES[c] for c in a.categories],
            "platform": PLATFORM_NAMES.get(a.item.platform, a.item.platform),
            "raised": a.created_at.astimezone(tz).strftime("%a %d %b, %H:%M"),
            "age": _age(a.created_at, now),
            "step": a.escalation_step,
            "url": env.signer.url("ack", a.id, recipient.id),
        }
        for a in open_alerts
        if recipient.id in audiences[a.id]
    ]
    checked = session.scalar(
        select(func.count(Item.id)).where(Item.setting_id == env.setting_id, Item.classified_at >= since,
                                         Item.classified_at < now)
    ) or 0
    review = session.scalar(
        select(func.count(Item.id)).where(Item.setting_id == env.setting_id, Item.classified_at >= since,
                                         Item.classified_at < now, Item.needs_review.is_(True))
    ) or 0
    pictures_only = session.scalar(
        select(func.count(Item.id)).where(Item.setting_id == env.setting_id, Item.classified_at >= since,
                                         Item.classified_at < now, Item.attachment_type.is_not(None), Item.text == "")
    ) or 0
    reconnect = [
        {"name": acc.name, "platform": PLATFORM_NAMES.get(acc.platform, acc.platform), "since": acc.last_error or ""}
        for acc in session.scalars(
            select(Account).where(Account.setting_id == env.setting_id,
                                  Account.state == AccountState.needs_reconnect.value).order_by(Account.id)
        )
    ]
    overdue, unreadable = account_lines(session, env, since, now)
    return {
        "admin_warnings": admin_warnings(session, env, recipient, now),
        "setting_name": env.setting_name,
        "name": recipient.name,
        "roles": " and ".join(ROLE_NAMES.get(r, r) for r in recipient.roles),
        "since_local": since.astimezone(tz).strftime("%H:%M on %a %d %b"),
        "now_local": now.astimezone(tz).strftime("%H:%M on %a %d %b %Y"),
        "by_category": [(CATEGORY_TITLES[c], n) for c, n in sorted(by_category.items())],
        "by_platform": [(PLATFORM_NAMES.get(p, p), n) for p, n in sorted(by_platform.items())],
        "new_alerts": len(mine),
        "open_alerts": open_rows,
        "reconnect": reconnect,
        "overdue": overdue,
        "unreadable": unreadable,
        "checked": checked,
        "needs_review": review,
        "pictures_only": pictures_only,
        "all_quiet": not mine and not open_rows and not reconnect and not overdue and not unreadable,
    }


def account_lines(session: Session, env: AlertEnv, since: datetime, now: datetime) -> tuple[list[dict], list[dict]]:
    """Accounts of the configuration with no good poll in twice their interval (or none
    ever), other than those waiting to be reconnected (listed apart); and accounts where
    an item could not be read since the last digest, with how many in all."""
    overdue, unreadable = [], []
    tz = env.timezone
    for acc in session.scalars(select(Account).where(Account.setting_id == env.setting_id).order_by(Account.id)):
        every = env.poll_every.get((acc.platform, acc.external_id))
        if every is None:
            continue  # no longer in the configuration
        if acc.webhook_since is not None and env.reconcile_every:
            every = max(every, env.reconcile_every)
        where = {"name": acc.name, "platform": PLATFORM_NAMES.get(acc.platform, acc.platform)}
        late = acc.last_success_at is None or now - acc.last_success_at > timedelta(seconds=2 * every)
        if late and acc.state != AccountState.needs_reconnect.value:
            last = acc.last_success_at
            overdue.append(where | {"last_good": last.astimezone(tz).strftime("%H:%M on %a %d %b") if last else "never",
                                    "every": f"{every} s" if every < 120 else _age(now - timedelta(seconds=every), now)})
        if acc.unreadable_at is not None and since <= acc.unreadable_at < now and acc.items_unreadable:
            unreadable.append(where | {"count": acc.items_unreadable})
    return overdue, unreadable


def admin_warnings(session: Session, env: AlertEnv, recipient: Recipient, now: datetime) -> list[str]:
    """What the admins (or, without one, the managers) must act on before it breaks:
    today, the pinned Graph API version nearing its end of life."""
    roles = set(recipient.roles)
    has_admin = any("admin" in r.roles for r in _recipients(session, env))
    if not ("admin" in roles or (not has_admin and "manager" in roles)):
        return []
    meta = session.scalar(select(func.count(Account.id)).where(
        Account.setting_id == env.setting_id, Account.platform.in_(("facebook", "instagram"))))
    warning = currency_warning(GRAPH_VERSION, now.astimezone(env.timezone).date()) if meta else None
    return [warning] if warning else []


def _preview(r: Recipient, ctx: dict) -> str:
    """To, Subject and the text part, as the email channel will render them."""
    try:
        subject, text, _html = render("digest", ctx)
    except Exception as err:  # the queued digest fails at delivery and the admin is told
        return f"To: {r.name} <{r.email}>\n(cannot render the digest: {type(err).__name__})"
    return f"To: {r.name} <{r.email}>\nSubject: {subject}\n\n{text}"


def run_digest(
    sessions: sessionmaker[Session], env: AlertEnv, cfg: DigestConfig, now: datetime, *, dry_run: bool = False,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Queue today's digest for everyone who has not had it; return what was queued
    (To, Subject and the text part, one string per person). With dry_run nothing
    is queued and the digest is built even before today's time."""
    due = due_window(cfg, env.timezone, now, dry_run)
    if due is None:
        return []
    day, since = due
    out: list[str] = []
    with sessions() as session:
        people = _recipients(session, env, skip)
        sent = set(session.scalars(select(OutboxMessage.dedup_key).where(
            OutboxMessage.dedup_key.in_([dedup_key(env.setting_id, r.id, day) for r in people]))))
    todo = [r.id for r in people if dry_run or dedup_key(env.setting_id, r.id, day) not in sent]
    if not todo:
        return out
    with sessions.begin() as session:
        alerts = session.scalars(
            select(Alert).where(Alert.setting_id == env.setting_id,
                                (Alert.state == AlertState.open.value) | (Alert.created_at >= since))
        ).all()
        audiences = {a.id: {r.id for r in audience(session, env, a)} for a in alerts}
        for rid in todo:
            r = session.get(Recipient, rid)
            ctx = digest_context(session, env, r, since, now, audiences)
            if dry_run:
                out.append(_preview(r, ctx))
                continue
            if outbox.enqueue_for(session, r, setting_id=env.setting_id, dedup_key=dedup_key(env.setting_id, r.id, day),
                                  kind="digest", template="digest", context=ctx, now=now):
                out.append(_preview(r, ctx))
    if not dry_run:
        log.info("digest for %s queued for %s recipient(s)", day.isoformat(), len(out))
    return out
