"""`nurserywatch backup` / `restore`: a backup taken in the middle of a cycle
restores everything it covered, and the next cycle carries on from it: every
comment stored once, every flagged comment alerted once."""
from __future__ import annotations

import asyncio
import shutil

import pytest
from sqlalchemy import create_engine, select, text

from connectors.base import Batch
from connectors.demo.connector import load_samples
from monitor import cli
from monitor.backup import BackupError, backup, restore
from monitor.core.db import normalise_url, open_database
from monitor.core.models import Alert, AuditEvent, Cursor, Finding, Item, OutboxMessage
from monitor.core.types import FetchedItem
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime

TABLES = (Item, Cursor, Finding, Alert, OutboxMessage, AuditEvent)


class BatchedConnector:
    """The demo samples, `size` per batch, calling `at_batch(n)` before batch n."""

    platform = "demo"

    def __init__(self, clock, size=4, at_batch=None):
        self.clock, self.size, self.at_batch = clock, size, at_batch or {}
        self.samples = load_samples() * 3

    async def fetch(self, cursors):
        pos = int(cursors.get(("comments", ""), {}).get("next", 0))
        n = 0
        while pos < len(self.samples):
            if n in self.at_batch:
                self.at_batch[n]()
            chunk = self.samples[pos : pos + self.size]
            items = [FetchedItem(external_id=f"c{pos + i}", kind="comment", text=s["text"], created_at=self.clock(),
                                 author_name=s.get("author"), can_hide=True) for i, s in enumerate(chunk)]
            pos += len(chunk)
            n += 1
            yield Batch(items=items, cursors={("comments", ""): {"next": pos}})

    async def hide(self, external_id, hidden=True):
        pass


def snapshot(sessions) -> dict[str, set]:
    with sessions() as s:
        out = {m.__tablename__: set(s.scalars(select(m.id))) for m in TABLES}
        out["item_text"] = {(i.external_id, i.text) for i in s.scalars(select(Item))}
        out["cursor"] = {(c.stream, str(c.value)) for c in s.scalars(select(Cursor))}
    return out


def wipe_postgres(url):
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def test_a_backup_taken_mid_cycle_restores_all_it_covered_and_the_next_cycle_completes(
    make_config, sessions, db_url, clock, tmp_path
):
    if not db_url.startswith("sqlite") and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    config = make_config()
    rt = build_runtime(config, clock=clock, sessions=sessions)
    account_id = next(iter(rt.connectors))
    rt.connectors[account_id] = BatchedConnector(clock, size=4)
    rt.connectors[account_id].samples = rt.connectors[account_id].samples[:8]
    asyncio.run(run_cycle(rt))  # a first cycle: items, alerts, emails

    taken = {}

    def take_backup():
        taken["state"] = snapshot(rt.sessions)
        taken["result"] = backup(db_url, tmp_path / "backups" / "mid-cycle.bak")

    rt.connectors[account_id] = BatchedConnector(clock, size=4, at_batch={2: take_backup})
    clock.advance(minutes=10)
    asyncio.run(run_cycle(rt))  # the backup is taken after two more batches are committed
    finished = snapshot(rt.sessions)
    asyncio.run(rt.aclose())
    rt.sessions.dispose()
    assert taken["result"].path.stat().st_mode & 0o077 == 0  # owner-only: it holds children's data
    assert len(taken["state"]["item"]) < len(finished["item"])

    if db_url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path}/restored/nurserywatch.db"
    else:
        wipe_postgres(db_url)  # the database is lost
        target = db_url
    restore(target, taken["result"].path)
    restored_sessions = open_database(target)
    assert snapshot(restored_sessions) == taken["state"]  # nothing the backup covered is lost

    rt2 = build_runtime(config.model_copy(update={"database": config.database.model_copy(update={"url": target})}),
                        clock=clock, sessions=restored_sessions)
    rt2.connectors[account_id] = BatchedConnector(clock, size=4)
    asyncio.run(run_cycle(rt2))
    with rt2.sessions() as s:
        ids = s.scalars(select(Item.external_id)).all()
        alerted = s.scalars(select(Item.external_id).join(Alert, Alert.item_id == Item.id)).all()
    asyncio.run(rt2.aclose())
    rt2.sessions.dispose()
    assert sorted(ids) == sorted({e for e, _ in finished["item_text"]})  # every comment once
    assert len(alerted) == len(set(alerted)) == len(finished["alert"])  # every flagged comment alerted once


def test_backup_never_overwrites_and_restore_refuses_a_database_holding_items(make_config, sessions, db_url, clock,
                                                                             tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the refusals are the same on both; pg_dump is exercised above")
    rt = build_runtime(make_config(), clock=clock, sessions=sessions)
    asyncio.run(run_cycle(rt))
    asyncio.run(rt.aclose())
    dest = tmp_path / "b.db"
    backup(db_url, dest)
    with pytest.raises(BackupError, match="already exists"):
        backup(db_url, dest)
    with pytest.raises(BackupError, match="already holds items.*--force"):
        restore(db_url, dest)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not a"):
        restore(f"sqlite:///{tmp_path}/new.db", tmp_path / "junk.db")


def test_the_backup_and_restore_commands(tmp_path, capsys):
    from tests.monitor.test_daemon import write_config
    from alerts.testing import free_port

    config = write_config(tmp_path, free_port())
    assert cli.main(["run", "--once", "--config", config]) == 0
    assert cli.main(["backup", "--config", config, "--to", str(tmp_path / "one.db")]) == 0
    assert "backup written" in capsys.readouterr().out
    assert cli.main(["restore", "--config", config, str(tmp_path / "one.db")]) == 1
    assert "--force" in capsys.readouterr().err
    assert cli.main(["restore", "--config", config, str(tmp_path / "one.db"), "--force"]) == 0
    assert cli.main(["run", "--once", "--config", config]) == 0
    assert "0 new" in capsys.readouterr().out  # the restored cursors: nothing fetched twice
