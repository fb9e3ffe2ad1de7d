"""`nurserywatch backup` and `nurserywatch restore`."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from monitor.backup import BackupError, backup, restore, sqlite_path
from monitor.core.group import load_group
from monitor.core.settings import add_config_option


def default_backup_path(config) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    suffix = ".db" if sqlite_path(config.database.url) else ".dump"
    return Path(config.data_dir) / "backups" / f"nurserywatch-{stamp}{suffix}"


def cmd_backup(args: argparse.Namespace) -> int:
    config = load_group(args.config).shared  # the whole database: every setting
    dest = Path(args.to) if args.to else default_backup_path(config)
    try:
        result = backup(config.database.url, dest)
    except BackupError as err:
        print(f"backup failed: {err}", file=sys.stderr)
        return 1
    print(f"backup written: {result.path} ({result.bytes:,} bytes; holds personal data: keep it as safe as the database)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    config = load_group(args.config).shared  # the whole database: every setting
    try:
        restore(config.database.url, args.source, force=args.force)
    except BackupError as err:
        print(f"restore failed: {err}", file=sys.stderr)
        return 1
    print(f"restored {args.source}; start nurserywatch again and it carries on from the backup's cursors")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("backup", help="copy the database to a backup file (safe while the service runs)")
    add_config_option(p, one_setting=False)
    p.add_argument("--to", metavar="FILE", help="where to write it (default DATA_DIR/backups/nurserywatch-TIME.db)")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser("restore", help="replace the database with a backup (stop the service first)")
    add_config_option(p, one_setting=False)
    p.add_argument("source", metavar="FILE", help="a file written by `nurserywatch backup`")
    p.add_argument("--force", action="store_true", help="replace a database that already holds items")
    p.set_defaults(func=cmd_restore)
