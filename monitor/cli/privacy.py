"""`nurserywatch privacy export|erase|retention`: subject access, erasure and
the retention run, each recorded in the audit log (ids and counts, never the name)."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime, timezone

from sqlalchemy import select

from monitor.core.db import open_database
from monitor.core.models import Setting
from monitor.core.group import load_setting
from monitor.core.settings import ConfigError, add_config_option
from monitor.privacy import apply_retention, erase_author, export_author


def _open(args):
    config = load_setting(args.config, args.setting)
    db = open_database(config.database.url)
    with db() as s:
        setting_id = s.scalar(select(Setting.id).where(Setting.key == config.setting.key))
    if setting_id is None:
        db.dispose()
        raise ConfigError(f"{args.config}: the database holds nothing for {config.setting.name!r} yet")
    return config, db, setting_id


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def cmd_export(args: argparse.Namespace) -> int:
    _config, db, setting_id = _open(args)
    try:
        data = export_author(db, setting_id, args.author, _now(), actor=_actor())
    finally:
        db.dispose()
    body = json.dumps(data, indent=2, ensure_ascii=False)
    if args.out:
        with open(args.out, "x", encoding="utf-8") as f:  # never overwrite: it is personal data
            f.write(body + "\n")
        print(f"{len(data['items'])} item(s) written to {args.out}", file=sys.stderr)
    else:
        print(body)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    config, db, setting_id = _open(args)
    try:
        report = erase_author(db, setting_id, args.author, config.retention, _now(), actor=_actor())
    finally:
        db.dispose()
    print(f"erased {len(report.erased_items)} item(s)")
    for item_id, why in report.kept.items():
        print(f"kept item {item_id}: {why}")
    if not report.erased_items and not report.kept:
        print("nothing is held under that author name or id")
    print("backups taken before now still hold the erased text: erase again after any restore")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    config, db, setting_id = _open(args)
    try:
        r = apply_retention(db, setting_id, config.retention, _now(), actor=_actor())
    finally:
        db.dispose()
    print(f"retention: {r.unflagged_items} unflagged item(s), {r.email_bodies} email body(ies), "
          f"{r.closed_alerts} closed alert(s) and {r.labelled_examples} labelled example(s) erased; "
          f"{r.sign_ins} ended sign-in(s) and {r.login_attempts} old sign-in attempt(s) removed"
          + ("; database vacuumed" if r.vacuumed else ""))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("privacy", help="export or erase what is held about a person; apply retention now")
    sub = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    e = sub.add_parser("export", help="everything held about an author, as JSON (a subject access request)")
    add_config_option(e)
    e.add_argument("--author", required=True, metavar="NAME|ID", help="the author's name as shown, or platform id")
    e.add_argument("--out", metavar="FILE", help="write to this new file instead of standard output")
    e.set_defaults(func=cmd_export)
    x = sub.add_parser("erase", help="erase an author's comments (safeguarding records are kept, and say why)")
    add_config_option(x)
    x.add_argument("--author", required=True, metavar="NAME|ID", help="the author's name as shown, or platform id")
    x.set_defaults(func=cmd_erase)
    r = sub.add_parser("retention", help="apply the [retention] periods now (the daemon does it hourly)")
    add_config_option(r)
    r.set_defaults(func=cmd_retention)
