"""Alembic environment: the engine comes from monitor.core.db, never from a file.

All revisions run in one transaction, so a process killed part-way through
leaves the schema as it was and the next start completes it. PostgreSQL's DDL
is transactional as it is; Python's sqlite3 driver commits before each DDL
statement unless it is told to leave transactions to us, so on SQLite the
migration connection takes over (`BEGIN IMMEDIATE` ... `COMMIT`) and hands the
driver's own mode back before the connection returns to the pool.
"""
from alembic import context

from monitor.core.db import make_engine
from monitor.core.models import Base
import monitor.core.webmodels  # noqa: F401  (the web app's tables join Base.metadata)

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
