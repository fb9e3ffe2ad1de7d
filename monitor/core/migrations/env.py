"""Alembic environment: the engine comes from monitor.core.db, never from a file.

All revisions run in one transaction, so a process killed part-way through
leaves the schema as it was and the next start completes it; replicas that
start together take turns. PostgreSQL's DDL is transactional, and an advisory
lock held for the transaction makes the other replicas wait. Python's sqlite3
driver commits before each DDL statement unless told to leave transactions to
us, so on SQLite the migration connection does (`BEGIN IMMEDIATE` ... `COMMIT`,
which also makes a second process wait) and hands the driver's own mode back
before the connection returns to the pool.
"""
from alembic import context

from monitor.core.db import make_engine
from monitor.core.models import Base
import monitor.core.webmodels  # noqa: F401  (the web app's tables join Base.metadata)

MIGRATION_LOCK = 0x6E770001  # "nw", 1: this database's schema migration

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        with connection.begin():
            # replicas starting together: one migrates, the others wait, then find nothing to do
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            run(connection)
    else:
        driver = connection.connection.driver_connection
        mode = driver.isolation_level
        driver.isolation_level = None  # the driver stops committing on its own before DDL
        try:
            with connection.begin():
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                run(connection)
        finally:
            driver.isolation_level = mode
