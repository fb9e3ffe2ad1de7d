"""`nurserywatch digest`: queue today's digest for everyone who has not had it
and send the outbox; `--dry-run` prints it instead and changes nothing.

In a group it does every setting and the group digest (docs/groups.md), or
with `--setting KEY` that setting's own digest only."""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from alerts.channels.email.render import render
from alerts.digest import digest_due, next_digest_at, run_digest
from alerts.group_digest import run_group_digest
from monitor.core.group import load_group
from monitor.core.settings import add_config_option
from monitor.core.types import CycleReport
from monitor.group_jobs import group_env, group_members, run_digests
from monitor.pipeline import deliver
from monitor.runtime import build_group_runtime


def _group_preview(ctx: dict) -> str:
    subject, text, _html = render("group_digest", ctx)
    return f"To: {ctx['name']}\nSubject: {subject}\n\n{text}"


def cmd_digest(args: argparse.Namespace, out: TextIO = sys.stdout, clock=None) -> int:
    group = load_group(args.config)
    one = group.pick(args.setting) if args.setting or len(group.configs) == 1 else None
    rt = build_group_runtime(group, clock=clock) if clock else build_group_runtime(group)
    chosen = [r for r in rt.every_setting if one is None or r.config.setting.key == one.setting.key]
    members = group_members(rt)
    now = rt.clock()
    try:
        if args.dry_run:
            texts = [t for r in chosen for t in run_digest(r.sessions, r.alert_env, r.config.digest, now,
                                                           dry_run=True, skip=members)]
            if one is None and members:
                texts += [_group_preview(ctx) for ctx in run_group_digest(rt.sessions, group_env(rt), rt.config.digest,
                                                                          now, dry_run=True)]
            out.write(("\n" + "-" * 72 + "\n").join(texts) if texts else "nobody to send a digest to\n")
            return 0
        if one is None:
            queued = run_digests(rt, now, None)
        else:
            r = chosen[0]
            queued = len(run_digest(r.sessions, r.alert_env, r.config.digest, now, skip=members)) if digest_due(
                r.sessions, r.alert_env, r.config.digest, now, skip=members) else 0
        if not queued:
            tz = one.setting.tz if one is not None else group.tz
            nxt = next_digest_at(rt.config.digest.at, tz, now).astimezone(tz)
            out.write(f"no digest due now (today's was sent, or it is not yet time); next at {nxt:%Y-%m-%d %H:%M %Z}\n")
            return 0
        report = CycleReport()
        deliver(rt, report)
        out.write(f"digest queued for {queued} recipient(s); {report.sent} email(s) sent\n")
        return 0
    finally:
        asyncio.run(rt.aclose())
        rt.sessions.dispose()


def register(subparsers) -> None:
    p = subparsers.add_parser("digest", help="send today's daily digest now if it is due (--dry-run prints it)")
    add_config_option(p)
    p.add_argument("--dry-run", action="store_true", help="print each person's digest; send and record nothing")
    p.set_defaults(func=cmd_digest)
