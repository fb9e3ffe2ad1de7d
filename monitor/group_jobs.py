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


def group_members(rt: Runtime) -> frozenset[str]:
    """Addresses that get the group digest instead of their settings' (none for a single setting)."""
    group = group_env(rt)
    if group is None:
        return frozenset()
    with rt.sessions() as session:
        return frozenset(group_people(session, group))


def run_digests(rt: Runtime, now: datetime, not_before: datetime | None) -> int:
    """Queue each setting's digest that is due, and the group digest for the
    people of several settings (worker thread). How many people's were queued."""
    group = group_env(rt)
    members = group_members(rt)
    queued = 0
    for each in rt.every_setting:
        if digest_due(each.sessions, each.alert_env, each.config.digest, now, not_before=not_before, skip=members):
            queued += len(run_digest(each.sessions, each.alert_env, each.config.digest, now, skip=members))
    digest = rt.config.digest  # shared by the group
    if members and group_digest_due(rt.sessions, group, digest, now, not_before=not_before):
        queued += len(run_group_digest(rt.sessions, group, digest, now))
    return queued
