"""Engine, sessions and migrations.

SQLite by default (a file in the data directory), PostgreSQL by URL. The
schema is owned by alembic (`nurserywatch db upgrade`); `open_database`
upgrades it on start so a fresh install needs no extra step.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Callable, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long one SQLite statement waits for another writer
BUSY_SQLSTATES = {"55P03", "40001", "40P01"}  # PostgreSQL: lock not available, serialization failure, deadlock

log = logging.getLogger(__name__)
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
            cur.execute("PRAGMA secure_delete=ON")  # erased text is overwritten, not left in free pages
            cur.close()

    return engine


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


class Database(sessionmaker):
    """A session factory that owns its engine: `db()` or `db.begin()` for a
    session, `db.dispose()` to close every connection when done."""

    def __init__(self, engine: Engine):
        super().__init__(engine, expire_on_commit=False)
        self.engine = engine

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, migrate: bool = True) -> Database:
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return Database(engine)


def insert_ignoring_conflict(session: Session, model, values: dict | list[dict], conflict: list[str]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; how many rows went in.

    `values` may be one row or many (one multi-row statement).
    """
    if not values:
        return 0
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(model).values(values).on_conflict_do_nothing(index_elements=conflict).returning(*model.__table__.primary_key)
    )
    # rowcount is not reliable here (psycopg reports -1); the returned ids are.
    return len(session.execute(stmt).all())


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks, from a name."""
    return int.from_bytes(hashlib.sha256(f"nurserywatch:{name}".encode()).digest()[:8], "big", signed=True)


def serialise(session: Session, name: str) -> None:
    """PostgreSQL: wait for, and hold until the transaction ends, the lock called
    `name`, so replicas starting at once take turns (migrating, syncing the
    config) instead of racing to insert the same rows. SQLite: one writer anyway."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})


def is_busy(err: BaseException) -> bool:
    """True when the database refused because someone else holds a lock: worth retrying.
    Decided by the driver's error code (SQLITE_BUSY/LOCKED, PostgreSQL SQLSTATE), not its words."""
    orig = getattr(err, "orig", None) if isinstance(err, DBAPIError) else None
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # extended codes keep the primary code in the low byte
    return getattr(orig, "sqlstate", None) in BUSY_SQLSTATES


def with_busy_retries(fn: Callable[..., T], *args, budget: float = 45.0, sleep=time.sleep) -> T:
    """Run `fn` (one whole unit of work: it opens and commits its own transaction),
    again with backoff while the database is busy, for up to `budget` seconds.
    A lock shorter than the budget delays the work; it never loses it."""
    start, delay = time.monotonic(), 0.05
    while True:
        try:
            return fn(*args)
        except DBAPIError as err:
            waited = time.monotonic() - start
            if not is_busy(err) or waited + delay > budget:
                raise
            log.warning("database busy after %.1f s; trying again in %.2f s", waited, delay)
            sleep(delay)
            delay = min(delay * 2, 2.0)
