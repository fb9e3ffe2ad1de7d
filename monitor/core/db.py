"""Engine, sessions and migrations.

SQLite by default (a file in the data directory), PostgreSQL by URL. The
schema is owned by alembic (`nurserywatch db upgrade`); `open_database`
upgrades it on start so a fresh install needs no extra step.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


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
            cur.execute("PRAGMA busy_timeout=10000")
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
        dialect.insert(model).values(values).on_conflict_do_nothing(index_elements=conflict).returning(model.id)
    )
    # rowcount is not reliable here (psycopg reports -1); the returned ids are.
    return len(session.execute(stmt).all())
