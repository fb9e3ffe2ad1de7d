"""`nurserywatch digest`: queue today's digest for everyone who has not had it
and send the outbox; `--dry-run` prints it instead and changes nothing."""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from alerts.digest import digest_due, next_digest_at, run_digest
from monitor.core.group import load_setting
from monitor.core.settings import add_config_option
from monitor.core.types import CycleReport
from monitor.pipeline import deliver
from monitor.runtime import build_runtime


def cmd_digest(args: argparse.Namespace, out: TextIO = sys.stdout, clock=None) -> int:
    config = load_setting(args.config, args.setting)
    rt = build_runtime(config, clock=clock) if clock else build_runtime(config)
    try:
        if args.dry_run:
            texts = run_digest(rt.sessions, rt.alert_env, config.digest, rt.clock(), dry_run=True)
            out.write(("\n" + "-" * 72 + "\n").join(texts) if texts else "nobody to send a digest to\n")
            return 0
        if not digest_due(rt.sessions, rt.alert_env, config.digest, rt.clock()):
            nxt = next_digest_at(config.digest.at, config.setting.tz, rt.clock()).astimezone(config.setting.tz)
            out.write(f"no digest due now (today's was sent, or it is not yet time); next at {nxt:%Y-%m-%d %H:%M %Z}\n")
            return 0
        texts = run_digest(rt.sessions, rt.alert_env, config.digest, rt.clock())
        report = CycleReport()
        deliver(rt, report)
        out.write(f"digest queued for {len(texts)} recipient(s); {report.sent} email(s) sent\n")
        return 0
    finally:
        asyncio.run(rt.aclose())
        rt.sessions.dispose()


def register(subparsers) -> None:
    p = subparsers.add_parser("digest", help="send today's daily digest now if it is due (--dry-run prints it)")
    add_config_option(p)
    p.add_argument("--dry-run", action="store_true", help="print each person's digest; send and record nothing")
    p.set_defaults(func=cmd_digest)
