"""Backups and restores of the whole database.

SQLite: SQLite's online backup API copies a consistent snapshot while the
daemon keeps writing (WAL mode), so a backup taken mid-cycle holds exactly the
transactions committed before it, and the pipeline's rule (a cursor moves only
with the items it covers) makes that snapshot resumable: restored, the next
cycle fetches what came after it. PostgreSQL: `pg_dump --format=custom` and
`pg_restore --clean`, the recipe in docs/operations.md, run for you.

Backups hold children's data: they are written owner-only (0600), first to a
temporary name and renamed when complete, so a full disk never leaves a
half-written file that looks like a backup.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.core.db import make_engine, normalise_url, upgrade


class BackupError(Exception):
    """A backup or restore that could not be done, worded for the operator."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int


def sqlite_path(url: str) -> Path | None:
    u = make_url(normalise_url(url))
    return Path(u.database) if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") else None


def backup(url: str, dest: str | os.PathLike) -> BackupResult:
    dest = Path(dest)
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new name (backups are never overwritten)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if (path := sqlite_path(url)) is not None:
            _sqlite_backup(path, partial)
        else:
            _pg_dump(url, partial)
        os.chmod(partial, 0o600)
        partial.replace(dest)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write the backup to {dest}: {err.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(dest, dest.stat().st_size)


def _sqlite_backup(path: Path, dest: Path) -> None:
    if not path.exists():
        raise BackupError(f"{path}: no database here to back up")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    out = sqlite3.connect(dest)
    try:
        src.backup(out, pages=1024)  # in steps, so writers are not held off for the whole copy
        out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except sqlite3.Error as err:
        raise BackupError(f"SQLite backup failed: {err}") from None
    finally:
        out.close()
        src.close()


def _pg_env(url: str) -> tuple[list[str], dict]:
    u = make_url(normalise_url(url))
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password  # never on the command line, where `ps` would show it
    args = ["--host", u.host or "localhost", "--port", str(u.port or 5432), "--dbname", u.database or ""]
    if u.username:
        args += ["--username", u.username]
    return args, env


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools "
                          "(the same major version as the server), or run the recipe in docs/operations.md")
    return tool


def _pg_dump(url: str, dest: Path) -> None:
    args, env = _pg_env(url)
    done = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(dest), *args],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")


def restore(url: str, source: str | os.PathLike, *, force: bool = False) -> None:
    """Replace the database's contents with the backup's, then migrate it to
    this version's schema. Refuses to overwrite a database holding items
    unless `force` (stop the service first: docs/operations.md)."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no backup file here")
    if not force and _holds_items(url):
        raise BackupError("the database already holds items; stop nurserywatch and pass --force to replace them")
    if (path := sqlite_path(url)) is not None:
        _sqlite_restore(source, path)
    else:
        args, env = _pg_env(url)
        done = subprocess.run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                               *args, str(source)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    engine = make_engine(url)
    try:
        upgrade(engine)  # a backup from an older version gets this version's schema
        with engine.begin() as conn:  # a poll in progress when the backup was taken holds nothing now
            conn.execute(text("UPDATE account SET lease_holder = NULL, lease_until = NULL"))
    finally:
        engine.dispose()


def _sqlite_restore(source: Path, path: Path) -> None:
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        ok = src.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{source}: not a SQLite backup ({err})") from None
    if ok != "ok" or "alembic_version" not in tables:
        src.close()
        raise BackupError(f"{source}: not a nurserywatch backup, or damaged ({ok})")
    path.parent.mkdir(parents=True, exist_ok=True)
    dst = sqlite3.connect(path, timeout=30)
    try:
        src.backup(dst)  # page by page, through SQLite's locks: safe even if a reader is open
    finally:
        dst.close()
        src.close()


def _holds_items(url: str) -> bool:
    if (path := sqlite_path(url)) is not None and not path.exists():
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.exec_driver_sql("SELECT 1 FROM item LIMIT 1").first())
    except Exception:  # no item table: an empty or foreign database
        return False
    finally:
        engine.dispose()
