"""The migrations build exactly the schema the models describe, on SQLite and
PostgreSQL, so a model change without its migration (or the reverse) fails here."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor.core.db import open_database
from monitor.core.models import Base


def test_the_migrated_schema_matches_the_models(db_url):
    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()
