"""The daemon's jobs that run once per setting, gathered for a group.

A single setting is a group of one, so these are also the daemon's jobs for it.
"""
from __future__ import annotations

from datetime import datetime

from alerts.digest import digest_due, run_digest
from monitor.runtime import Runtime


def run_digests(rt: Runtime, now: datetime, not_before: datetime | None) -> bool:
    """Queue each setting's digest that is due (worker thread). True if any was queued."""
    queued = False
    for each in rt.every_setting:
        if digest_due(each.sessions, each.alert_env, each.config.digest, now, not_before=not_before):
            run_digest(each.sessions, each.alert_env, each.config.digest, now)
            queued = True
    return queued
