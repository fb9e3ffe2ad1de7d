"""The group digest: one email a day for a person of several settings, a section per setting.

In a group, a person who is one of the people of more than one setting (the
group's own people, or someone listed in several setting files) gets this
instead of each setting's digest (`alerts.digest` skips them). It opens with
what needs them across the group (open alerts per setting, accounts needing
attention, the settings where all is quiet) and then has one section per
setting, built by the setting digest's own `digest_context`, so each section
shows exactly what that setting's digest would have shown them there.

Sent at `[digest] at` in `[group] timezone`; queued under
`digest:group:<their first recipient id>:<local date>`, so never twice a day.
Like the setting digest it carries counts and links, never comment text.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts import outbox
from alerts.digest import digest_context, digest_day, due_window, scheduled_at
from alerts.service import ROLE_NAMES, AlertEnv, audience
from alerts.visibility import Viewer
from monitor.core.models import Alert, AlertState, OutboxMessage, Recipient
from monitor.core.settings import DigestConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupEnv:
    """The group's settings (their AlertEnvs, in the group's order), name and time zone."""

    name: str
    timezone: ZoneInfo
    settings: tuple[AlertEnv, ...]


def group_people(session: Session, group: GroupEnv) -> dict[str, list[tuple[AlertEnv, Recipient]]]:
    """Address -> (setting, their recipient row there), for each active person of more than one setting."""
    order = {env.setting_id: i for i, env in enumerate(group.settings)}
    rows: dict[str, list[tuple[AlertEnv, Recipient]]] = defaultdict(list)
    for r in session.scalars(select(Recipient).where(Recipient.setting_id.in_(list(order)), Recipient.active.is_(True))
                             .order_by(Recipient.id)):
        rows[r.email].append((group.settings[order[r.setting_id]], r))
    return {email: sorted(pairs, key=lambda p: order[p[0].setting_id]) for email, pairs in rows.items() if len(pairs) > 1}


def group_key(first: Recipient, day) -> str:
    return f"digest:group:{first.id}:{day.isoformat()}"


def group_digest_due(sessions: sessionmaker[Session], group: GroupEnv, cfg: DigestConfig, now: datetime,
                     *, not_before: datetime | None = None) -> bool:
    """As `digest_due`, for the group digest: its time has passed in the group's zone and someone lacks today's."""
    day = digest_day(cfg.at, group.timezone, now) if cfg.enabled else None
    if day is None:
        return False
    with sessions() as session:
        if not_before is not None and scheduled_at(day, cfg.at, group.timezone) < not_before and session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.setting_id.in_([e.setting_id for e in group.settings]),
                                           OutboxMessage.kind == "digest").limit(1)
        ) is None:
            return False  # a new installation: the first digest waits for its time
        keys = {group_key(pairs[0][1], day) for pairs in group_people(session, group).values()}
        sent = set(session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(keys))))
    return bool(keys - sent)


def group_context(group: GroupEnv, sections: list[dict], since: datetime, now: datetime) -> dict:
    """The group summary above the settings' sections."""
    tz = group.timezone
    return {
        "group_name": group.name,
        "name": sections[0]["name"],
        "since_local": since.astimezone(tz).strftime("%H:%M on %a %d %b"),
        "now_local": now.astimezone(tz).strftime("%H:%M on %a %d %b %Y"),
        "settings": sections,
        "open_by_setting": [(s["setting_name"], len(s["open_alerts"])) for s in sections if s["open_alerts"]],
        "open_total": sum(len(s["open_alerts"]) for s in sections),
        "attention": [{"setting_name": s["setting_name"], **acc} for s in sections for acc in s["reconnect"]],
        "overdue": [{"setting_name": s["setting_name"], **acc} for s in sections for acc in s.get("overdue", ())],
        "quiet": [s["setting_name"] for s in sections if s["all_quiet"]],
        "all_quiet": all(s["all_quiet"] for s in sections),
    }


def _audiences(session: Session, todo: dict[str, list[tuple[AlertEnv, Recipient]]],
               since: datetime) -> dict[int, dict[int, set[int]]]:
    """Setting -> alert -> who it is for: those it was routed or sent to (as in the
    setting digest), and each group digest reader who may see it (alerts.visibility)."""
    readers: dict[int, list[Recipient]] = defaultdict(list)
    envs: dict[int, AlertEnv] = {}
    for pairs in todo.values():
        for env, r in pairs:
            readers[env.setting_id].append(r)
            envs[env.setting_id] = env
    out: dict[int, dict[int, set[int]]] = {}
    for setting_id, env in envs.items():
        alerts = session.scalars(select(Alert).where(
            Alert.setting_id == setting_id, (Alert.state == AlertState.open.value) | (Alert.created_at >= since))).all()
        out[setting_id] = {a.id: {r.id for r in audience(session, env, a)} for a in alerts}
        for r in readers[setting_id]:
            viewer = Viewer(session, env, r)
            for a in alerts:
                if viewer.may_see(a):
                    out[setting_id][a.id].add(r.id)
    return out


def run_group_digest(sessions: sessionmaker[Session], group: GroupEnv, cfg: DigestConfig, now: datetime,
                     *, dry_run: bool = False) -> list[dict]:
    """Queue today's group digest for each person of several settings who has not had it;
    return the contexts queued (all of them with dry_run, which queues nothing)."""
    due = due_window(cfg, group.timezone, now, dry_run)
    if due is None:
        return []
    day, since = due
    out: list[dict] = []
    with sessions.begin() as session:
        people = group_people(session, group)
        sent = set(session.scalars(select(OutboxMessage.dedup_key).where(
            OutboxMessage.dedup_key.in_([group_key(p[0][1], day) for p in people.values()]))))
        todo = {email: pairs for email, pairs in people.items() if dry_run or group_key(pairs[0][1], day) not in sent}
        audiences = _audiences(session, todo, since)
        for pairs in todo.values():
            sections = [digest_context(session, env, r, since, now, audiences[env.setting_id]) for env, r in pairs]
            ctx = group_context(group, sections, since, now)
            ctx["roles"] = " and ".join(dict.fromkeys(ROLE_NAMES.get(role, role) for _e, r in pairs for role in r.roles))
            first_env, first = pairs[0]
            if dry_run or outbox.enqueue_for(session, first, setting_id=first_env.setting_id,
                                             dedup_key=group_key(first, day), kind="digest", template="group_digest",
                                             context=ctx, now=now):
                out.append(ctx)
    if not dry_run:
        log.info("group digest for %s queued for %s recipient(s)", day.isoformat(), len(out))
    return out
