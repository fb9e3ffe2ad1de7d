"""Replicas on PostgreSQL: each account's poll is held by one replica, with no leader.

Any number of `nurserywatch run` processes may share one PostgreSQL database.
At every tick a replica claims accounts that are due and that nobody holds:

    SELECT id FROM account
     WHERE id IN (:configured) AND next_poll_at <= :now + :tolerance
       AND (lease_until IS NULL OR lease_until < :now)
     ORDER BY next_poll_at NULLS FIRST LIMIT :room
       FOR NO KEY UPDATE SKIP LOCKED

and writes its name and an expiry (`lease_holder`, `lease_until`) on them in
the same transaction. An account whose lease ran out while still held (its
replica died, or stalled past the expiry, mid-poll) counts as due at once:
that poll began and never finished, so waiting for the next plan would leave
the account unpolled for up to two intervals. SKIP LOCKED makes two replicas claiming at the same
instant take different accounts instead of queueing behind each other; the
expiry is what makes the claim outlast that transaction. (The row locks are
FOR NO KEY UPDATE: a plain FOR UPDATE would also wait for, or skip, every
transaction inserting items that point at the account.) `:room` is how many
more polls this replica may fetch now (`[concurrency]`: in all, and per
platform and app among its polls still fetching; `monitor.daemon.Jobs.claim`),
so a busy replica leaves due accounts to the others.

A lease is renewed at every tick while the poll runs and released when it ends,
in the transaction that records the poll's outcome. A replica killed with
SIGKILL renews nothing: its leases run out after `ttl` (three ticks: three
fifths of the shortest poll interval, 3 s to 30 s) and whichever replica ticks
next takes each account when it is due. Nothing is lost: cursors only ever move with
the items they cover (`monitor.core.store`), so the next poll fetches what the
dead one had not stored.

Fencing: every batch a poll stores, and its outcome, re-reads the account row
FOR UPDATE and checks the holder (`check`). A replica that lost its lease
(paused longer than `ttl`, its database connection cut) raises `LeaseLost`
and writes nothing, so two replicas never both move an account's cursors.

SQLite has no replicas: one daemon holds the database lease (`monitor.lease`)
and `Runtime.leases` is None.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.models import Account

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(seconds=30)  # `run --once`; the daemon sets three ticks (`lease_ttl`)


class LeaseLost(Exception):
    """Another replica holds the account now: stop this poll without writing."""


def replica_name() -> str:
    """This process as written in `lease_holder`: host, pid and a nonce (a restarted pid is another life)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class PollLeases:
    """This replica's poll leases. Thread-safe: polls run their database work in worker threads."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], ttl: timedelta,
                 holder: str | None = None):
        self.sessions, self.clock, self.ttl = sessions, clock, ttl
        self.holder = holder or replica_name()
        self.held: set[int] = set()
        self._lock = threading.Lock()

    def _free(self, now: datetime):
        return or_(Account.lease_until.is_(None), Account.lease_until < now, Account.lease_holder == self.holder)

    def _abandoned(self, now: datetime):
        """Another replica's poll that began and never ended: held, but its lease ran out."""
        return and_(Account.lease_holder.is_not(None), Account.lease_holder != self.holder, Account.lease_until < now)

    def claim_due(self, account_ids: Iterable[int], tolerance: float, room: int) -> list[int]:
        """Lease up to `room` of `account_ids` that are due and free; their ids, most overdue first."""
        ids = list(account_ids)
        if not ids or room < 1:
            return []
        now = self.clock()
        with self.sessions.begin() as session:
            claimed = list(session.scalars(
                select(Account.id)
                .where(Account.id.in_(ids),
                       or_(Account.next_poll_at.is_(None), Account.next_poll_at <= now + timedelta(seconds=tolerance),
                           self._abandoned(now)),
                       self._free(now))  # ours too: the caller passes only accounts it is not polling
                .order_by(Account.next_poll_at.asc().nulls_first(), Account.id)
                .limit(room)
                .with_for_update(skip_locked=True, key_share=True)
            ))
            if claimed:
                taken_over = list(session.scalars(
                    update(Account).where(Account.id.in_(claimed), self._abandoned(now))
                    .values(next_poll_at=now).returning(Account.id)  # poll it now: its planned poll never ended
                    .execution_options(synchronize_session=False)))
                if taken_over:
                    log.warning("took over %s account(s) whose poll another replica began and never ended: %s",
                                len(taken_over), sorted(taken_over))
                session.execute(
                    update(Account).where(Account.id.in_(claimed))
                    .values(lease_holder=self.holder, lease_until=now + self.ttl)
                    .execution_options(synchronize_session=False))
        with self._lock:
            self.held.update(claimed)
        return claimed

    def take(self, session: Session, account_id: int) -> Account | None:
        """In the caller's transaction: the account, leased to this replica, or None
        when another replica holds it. Waits for a replica claiming it right now
        (and then sees its lease): these transactions are short."""
        now = self.clock()
        acc = session.scalar(
            select(Account).where(Account.id == account_id, self._free(now))
            .with_for_update(key_share=True).execution_options(populate_existing=True))
        if acc is None:
            with self._lock:
                self.held.discard(account_id)
            return None
        acc.lease_holder, acc.lease_until = self.holder, now + self.ttl
        with self._lock:
            self.held.add(account_id)
        return acc

    def check(self, session: Session, account_id: int) -> Account:
        """In the caller's transaction: the account, locked, if this replica still
        holds it; otherwise LeaseLost (write nothing)."""
        acc = session.scalar(select(Account).where(Account.id == account_id)
                             .with_for_update(key_share=True).execution_options(populate_existing=True))
        if acc is None or acc.lease_holder != self.holder:
            with self._lock:
                self.held.discard(account_id)
            raise LeaseLost(f"account {account_id} is now polled by {acc.lease_holder if acc else 'nobody'}")
        acc.lease_until = max(acc.lease_until or self.clock(), self.clock() + self.ttl)
        return acc

    def release(self, acc: Account) -> None:
        """In the caller's transaction: give the account back (its next plan is already written)."""
        if acc.lease_holder == self.holder:
            acc.lease_holder = acc.lease_until = None
        with self._lock:
            self.held.discard(acc.id)

    def renew(self) -> set[int]:
        """Extend every lease this replica holds; returns those it has lost (expired and taken)."""
        with self._lock:
            held = set(self.held)
        if not held:
            return set()
        now = self.clock()
        with self.sessions.begin() as session:
            kept = set(session.scalars(
                update(Account).where(Account.id.in_(held), Account.lease_holder == self.holder)
                .values(lease_until=now + self.ttl).returning(Account.id)
                .execution_options(synchronize_session=False)))
        with self._lock:  # a poll that ended meanwhile released its own: not lost
            lost = (held - kept) & self.held
            self.held -= lost
        if lost:
            log.warning("poll leases of %s account(s) were taken by another replica: %s", len(lost), sorted(lost))
        return lost

    def release_all(self) -> None:
        """On a clean stop: hand every lease back at once, so no account waits for an expiry."""
        with self._lock:
            held, self.held = set(self.held), set()
        if held:
            with self.sessions.begin() as session:
                session.execute(update(Account).where(Account.id.in_(held), Account.lease_holder == self.holder)
                                .values(lease_holder=None, lease_until=None).execution_options(synchronize_session=False))


def lease_ttl(tick: float) -> timedelta:
    """Three ticks (a tick is a fifth of the shortest poll interval, 1 s to 10 s):
    two missed renewals are survived, and a dead replica's accounts come free
    well within one poll interval."""
    return timedelta(seconds=max(3.0, 3 * tick))


def uses_leases(sessions: sessionmaker[Session]) -> bool:
    """Replicas (and so poll leases) only on PostgreSQL; SQLite keeps one daemon."""
    return sessions.kw["bind"].dialect.name == "postgresql"  # a sessionmaker keeps its engine as "bind"


__all__ = ["DEFAULT_TTL", "LeaseLost", "PollLeases", "lease_ttl", "replica_name", "uses_leases"]
