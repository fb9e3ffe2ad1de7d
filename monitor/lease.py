"""One daemon per database: a lease row in the database itself.

A file lock would not stop a second daemon on another host sharing a
PostgreSQL database, so the lock lives in the database: a row in `lease`
naming the holder (pid, host), renewed every `renew_every` seconds and
valid for `TTL`. A second daemon refuses to start while the lease is valid
and says who holds it. A holder that died leaves a lease that expires after
TTL, or at once when the holder was on this host and its pid is gone.
`--force` takes the lease regardless; the daemon that loses it notices at
its next heartbeat and stops.

Taking and renewing are conditional UPDATEs (compare-and-set on the holder
and the heartbeat), so two starting daemons never both win, on SQLite or
PostgreSQL.
"""
from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.db import insert_ignoring_conflict
from monitor.core.models import LeaseRow

TTL = timedelta(seconds=90)


class LeaseHeld(Exception):
    """Another process holds the lease; the message names it and the way out."""

    def __init__(self, row: LeaseRow, now: datetime):
        self.holder = row.holder
        ago = int((now - row.heartbeat_at).total_seconds())
        super().__init__(
            f"another nurserywatch is already running against this database: {row.holder} "
            f"(started {row.acquired_at:%Y-%m-%d %H:%M} UTC, last heartbeat {ago} s ago). "
            f"Stop it first. If it is gone for good, its lease runs out at {row.expires_at:%H:%M:%S} UTC; "
            "or start with --force if you are sure no other daemon uses this database."
        )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class DatabaseLease:
    renew_every = 30  # seconds

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], *, name: str = "daemon",
                 pid: int | None = None, host: str | None = None):
        self.sessions, self.clock, self.name = sessions, clock, name
        self.pid = os.getpid() if pid is None else pid
        self.host = host or socket.gethostname()
        self.holder = f"pid {self.pid} on host {self.host} ({secrets.token_hex(3)})"
        self.taken_by: str | None = None

    def _values(self, now: datetime) -> dict:
        return dict(holder=self.holder, host=self.host, pid=self.pid, acquired_at=now, heartbeat_at=now,
                    expires_at=now + TTL)

    def acquire(self, *, force: bool = False) -> None:
        """Take the lease or raise LeaseHeld."""
        now = self.clock()
        with self.sessions.begin() as session:
            if insert_ignoring_conflict(session, LeaseRow, dict(name=self.name, **self._values(now)), ["name"]):
                return
            row = session.scalar(select(LeaseRow).where(LeaseRow.name == self.name))
            stale = row.expires_at <= now or (row.host == self.host and row.pid != self.pid and not pid_alive(row.pid))
            if not (force or stale or row.holder == self.holder):
                raise LeaseHeld(row, now)
            taken = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, LeaseRow.holder == row.holder,
                       LeaseRow.heartbeat_at == row.heartbeat_at)
                .values(**self._values(now))
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken != 1:  # another process took it between our read and our write
                raise LeaseHeld(session.scalar(select(LeaseRow).where(LeaseRow.name == self.name)
                                               .execution_options(populate_existing=True)), now)

    def renew(self) -> bool:
        """Extend the lease; False when another process has taken it."""
        now = self.clock()
        with self.sessions.begin() as session:
            ok = session.execute(
                update(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                .values(heartbeat_at=now, expires_at=now + TTL)
                .execution_options(synchronize_session=False)
            ).rowcount == 1
            if not ok:
                self.taken_by = session.scalar(select(LeaseRow.holder).where(LeaseRow.name == self.name))
            return ok

    def release(self) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == self.holder))
