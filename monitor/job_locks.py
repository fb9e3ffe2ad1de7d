"""Whole-setting jobs run by one replica at a time (PostgreSQL advisory locks).

Escalation, the digest, the recheck of recent comments and retention each
look at a whole setting. Their effects are already exactly once whoever runs
them (an escalation rung is claimed with a conditional UPDATE on its step, a
digest is one outbox row per person per local date under a unique dedup key,
an erased item is never erased again), so two replicas running one at the
same moment would be safe but wasteful, and would re-read the platforms twice.
`one_replica` takes a session-level `pg_try_advisory_lock` on a connection of
its own for the job's length: a replica that finds it taken skips this run
(another replica is doing it). The lock is the connection's, so a replica
killed with SIGKILL frees it the moment PostgreSQL notices the connection is
gone; no expiry to wait for.

On SQLite there is one daemon (monitor.lease) and the job always runs.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from sqlalchemy import Engine, text

from monitor.core.db import lock_key


@contextlib.asynccontextmanager
async def one_replica(engine: Engine, name: str) -> AsyncIterator[bool]:
    """Yields True when this replica runs the job now, False when another one is."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    conn = await asyncio.to_thread(lambda: engine.connect().execution_options(isolation_level="AUTOCOMMIT"))
    key = lock_key(name)
    try:
        got = await asyncio.to_thread(lambda: conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield bool(got)
        finally:
            if got:
                with contextlib.suppress(Exception):  # a broken connection has dropped the lock already
                    await asyncio.to_thread(lambda: conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key}))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(conn.close)


__all__ = ["one_replica"]
