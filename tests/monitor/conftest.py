"""Fixtures shared by the replica tests (test_replicas.py, test_replica_drills.py)."""
import pytest


@pytest.fixture
def pg_url(db_url):
    """The test database when it is PostgreSQL; replicas share one, so on SQLite the test skips."""
    if db_url.startswith("sqlite"):
        pytest.skip("replicas share a PostgreSQL database; SQLite keeps one daemon")
    return db_url
