"""`nurserywatch accounts`: how each watched account is doing.

Per account: its state (ok / backing off until T / needs reconnecting /
misconfigured), the last successful poll, the items seen and the last error.
Errors are stored without tokens or comment text, so they are safe to show.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select

from monitor.core.db import open_database
from monitor.core.models import Account, AccountState
from monitor.core.group import load_setting
from monitor.core.settings import Config, add_config_option
from monitor.core.store import sync_config


def describe_state(acc: Account, tz: ZoneInfo) -> str:
    if acc.state == AccountState.backing_off.value and acc.backoff_until:
        return f"backing off until {_local(acc.backoff_until, tz)}"
    if acc.state == AccountState.needs_reconnect.value:
        return "needs reconnecting"
    if acc.state == AccountState.misconfigured.value:
        return "misconfigured"
    if acc.failures:
        return f"ok, last {acc.failures} poll(s) failed"
    return "ok" if acc.last_poll_at else "ok (not polled yet)"


def _local(dt: datetime | None, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if dt else "never"


def account_rows(config: Config) -> list[dict]:
    sessions = open_database(config.database.url)
    try:
        with sessions.begin() as session:
            setting = sync_config(session, config)
            accounts = {
                (a.platform, a.external_id): a
                for a in session.scalars(select(Account).where(Account.setting_id == setting.id))
            }
            tz = config.setting.tz
            rows = []
            for ac in config.accounts:
                acc = accounts[(ac.platform, ac.id)]
                rows.append(
                    {
                        "name": acc.name,
                        "platform": acc.platform,
                        "id": acc.external_id,
                        "state": acc.state,
                        "status": describe_state(acc, tz),
                        "backoff_until": acc.backoff_until.isoformat() if acc.backoff_until else None,
                        "last_success_at": acc.last_success_at.isoformat() if acc.last_success_at else None,
                        "last_success": _local(acc.last_success_at, tz),
                        "last_poll_at": acc.last_poll_at.isoformat() if acc.last_poll_at else None,
                        "items_seen": acc.items_seen,
                        "items_unreadable": acc.items_unreadable,
                        "failures": acc.failures,
                        "last_error": acc.last_error,
                    }
                )
        return rows
    finally:
        sessions.dispose()


def print_table(rows: list[dict], out: TextIO) -> None:
    if not rows:
        print("no [[accounts]] in the configuration", file=out)
        return
    for r in rows:
        print(f"{r['name']} ({r['platform']} {r['id']})", file=out)
        print(f"  state:            {r['status']}", file=out)
        print(f"  last good poll:   {r['last_success']}", file=out)
        print(f"  items seen:       {r['items_seen']}", file=out)
        if r["items_unreadable"]:
            print(f"  could not read:   {r['items_unreadable']} item(s) (skipped; ids in the log)", file=out)
        if r["last_error"]:
            print(f"  last error:       {r['last_error']}", file=out)


def cmd_accounts(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rows = account_rows(load_setting(args.config, args.setting))
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
    else:
        print_table(rows, out)
    needs_person = {AccountState.needs_reconnect.value, AccountState.misconfigured.value}
    return 1 if any(r["state"] in needs_person for r in rows) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "accounts", help="show each watched account: state, last successful poll, items seen, last error"
    )
    add_config_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_accounts)
