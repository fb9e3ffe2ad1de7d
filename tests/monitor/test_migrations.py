"""The migrations build exactly the schema the models describe, on SQLite and
PostgreSQL, so a model change without its migration (or the reverse) fails here."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor.core.db import open_database
from monitor.core.models import Base


def assert_schema_matches_the_models(url: str) -> None:
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


def test_the_migrated_schema_matches_the_models(db_url):
    assert_schema_matches_the_models(db_url)


class Killed(Exception):
    """Stands in for the process dying between two statements of the first migration."""


def test_a_migration_interrupted_part_way_leaves_nothing_behind_and_the_next_start_completes_it(tmp_path):
    from sqlalchemy import event, inspect

    from monitor.core.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path}/nw.db")
    created = []

    def die_at_the_third_table(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("CREATE TABLE"):
            created.append(statement)
            if len(created) == 3:
                raise Killed

    event.listen(engine, "before_cursor_execute", die_at_the_third_table)
    try:
        try:
            upgrade(engine)
        except Killed:
            pass
        assert len(created) == 3
        assert inspect(engine).get_table_names() == []  # was: two tables and no alembic_version
    finally:
        event.remove(engine, "before_cursor_execute", die_at_the_third_table)
        engine.dispose()

    assert_schema_matches_the_models(f"sqlite:///{tmp_path}/nw.db")  # the next start completes it


def test_replicas_starting_together_on_a_fresh_database_all_start(db_url):
    import subprocess
    import sys

    start = "import sys; from monitor.core.db import open_database; open_database(sys.argv[1]).dispose()"
    replicas = [subprocess.Popen([sys.executable, "-c", start, db_url], stderr=subprocess.PIPE, text=True)
                for _ in range(3)]  # each replica migrates on start (alembic's context is per process)
    for proc in replicas:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-1500:]
    assert_schema_matches_the_models(db_url)
