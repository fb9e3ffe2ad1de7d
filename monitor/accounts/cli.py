"""`nurserywatch credentials ...`, `connect`, `check` and `test-alert`.

Nothing here prints a token: listings show the kind, the expiry, the granted
permissions and what is watched.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from monitor.accounts.connect import register as register_connect
from monitor.accounts.testalert import register as register_test_alert
from monitor.accounts.vault import KEY_ENV, Vault, new_key
from monitor.core.db import open_database
from monitor.core.group import load_setting
from monitor.core.settings import add_config_option
from monitor.core.store import sync_config


def open_vault(config_path: str, setting: str | None = None) -> tuple[Vault, object]:
    config = load_setting(config_path, setting)
    db = open_database(config.database.url)
    with db.begin() as session:
        setting_id = sync_config(session, config).id
    return Vault(db, setting_id), db


def cmd_new_key(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    print(new_key(), file=out)
    print(f"# put it in {KEY_ENV} (first, before any old key, when rotating)", file=sys.stderr)
    return 0


def cmd_rotate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    vault, db = open_vault(args.config, args.setting)
    try:
        n = vault.rotate()
    finally:
        db.dispose()
    print(f"re-encrypted {n} stored credential(s) with the first key in {KEY_ENV}; "
          "the other keys can now be removed from it", file=out)
    return 0


def cmd_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    vault, db = open_vault(args.config, args.setting)
    try:
        rows = vault.listing()
    finally:
        db.dispose()
    if not rows:
        print("no credentials stored (accounts use token_env or refresh_token_env, or were never connected)", file=out)
    for r in rows:
        expiry = r.expires_at.strftime("%Y-%m-%d %H:%M UTC") if r.expires_at else "does not expire"
        print(f"{r.platform} {r.external_id}: {r.kind}, {r.label or '-'}, access token {expiry}, "
              f"saved {r.updated_at:%Y-%m-%d %H:%M} UTC", file=out)
        print(f"  permissions: {', '.join(r.scopes) or 'unknown'}", file=out)
    return 0


def cmd_forget(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    vault, db = open_vault(args.config, args.setting)
    try:
        gone = vault.forget(args.platform, args.id)
    finally:
        db.dispose()
    print(f"{args.platform} {args.id}: " + ("stored credentials removed" if gone else "nothing was stored"), file=out)
    return 0 if gone else 1


def cmd_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import asyncio
    from datetime import datetime, timezone

    from monitor.accounts.check import run_check

    out = out or sys.stdout
    config = load_setting(args.config, args.setting)
    db = open_database(config.database.url)
    try:
        with db.begin() as session:
            setting_id = sync_config(session, config).id
        vault = Vault(db, setting_id) if os.environ.get(KEY_ENV) else None
        lines = asyncio.run(run_check(config, vault, online=args.online, clock=lambda: datetime.now(timezone.utc)))
    finally:
        db.dispose()
    for line in lines:
        print(line, file=out)
    failed = sum(1 for line in lines if line.level == "fail")
    warned = sum(1 for line in lines if line.level == "warn")
    scope = "" if args.online else " (offline only: add --online to test the accounts and SMTP)"
    print(f"{failed} failure(s), {warned} warning(s){scope}", file=out)
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    register_connect(subparsers)
    register_test_alert(subparsers)
    p = subparsers.add_parser("check", help="will alerts reach people? --online tests each account and the SMTP login")
    add_config_option(p)
    p.add_argument("--online", action="store_true", help="use each account's credentials and log in to SMTP")
    p.set_defaults(func=cmd_check)
    p = subparsers.add_parser("credentials", help="the encrypted credential store: new key, rotate, list, forget")
    sub = p.add_subparsers(dest="credentials_command", required=True, metavar="ACTION")
    k = sub.add_parser("new-key", help=f"print a new encryption key for {KEY_ENV}")
    k.set_defaults(func=cmd_new_key)
    r = sub.add_parser("rotate", help="re-encrypt every stored credential with the first key")
    add_config_option(r)
    r.set_defaults(func=cmd_rotate)
    ls = sub.add_parser("list", help="what is stored (never the secrets)")
    add_config_option(ls)
    ls.set_defaults(func=cmd_list)
    f = sub.add_parser("forget", help="remove an account's stored credentials")
    add_config_option(f)
    f.add_argument("platform")
    f.add_argument("id")
    f.set_defaults(func=cmd_forget)
