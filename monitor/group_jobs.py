"""The daemon's jobs that run once per setting, gathered for a group.

A single setting is a group of one, so these are also the daemon's jobs for it.
"""
from __future__ import annotations

from datetime import datetime

from alerts.digest import digest_due, run_digest
from alerts.group_digest import GroupEnv, group_digest_due, group_people, run_group_digest
from monitor.runtime import Runtime


def group_env(rt: Runtime) -> GroupEnv | None:
    """The group's settings for the group digest; None for a single setting."""
    if rt.group is None:
        return None
    return GroupEnv(rt.group.name, rt.group.tz, tuple(each.alert_env for each in rt.every_setting))


def run_digests(rt: Runtime, now: datetime, not_before: datetime | None) -> bool:
    """Queue each setting's digest that is due, and the group digest for the
    people of several settings (worker thread). True if anything was queued."""
    group = group_env(rt)
    members = frozenset()
    if group is not None:
        with rt.sessions() as session:
            members = frozenset(group_people(session, group))
    queued = False
    for each in rt.every_setting:
        if digest_due(each.sessions, each.alert_env, each.config.digest, now, not_before=not_before, skip=members):
            run_digest(each.sessions, each.alert_env, each.config.digest, now, skip=members)
            queued = True
    digest = rt.config.digest  # shared by the group
    if members and group_digest_due(rt.sessions, group, digest, now, not_before=not_before):
        queued = bool(run_group_digest(rt.sessions, group, digest, now)) or queued
    return queued
