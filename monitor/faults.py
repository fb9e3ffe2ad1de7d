"""The fault suite's moving parts, shared by tests/monitor/test_faults.py (small,
in CI) and benchmarks/fault_suite.py (5,000 comments, 20 kills).

A worker process (`python -m monitor.faults --config FILE --comments N`) runs
the daemon's own cycle job (`Jobs.cycle`: a failed cycle is logged and the next
one resumes) against a deterministic synthetic page of N comments until every
comment is stored and classified and the outbox is empty. The parent kills it,
locks its database, cuts its PostgreSQL connections or stops its SMTP server,
and then `audit` checks what the database and the SMTP server saw: every
comment stored once, every flagged comment alerted once, every email delivered
(and how many twice).
"""
from __future__ import annotations

import argparse
import asyncio
import email
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from connectors.base import Batch
from connectors.demo.connector import load_samples
from monitor.core.models import Alert, Item, OutboxMessage
from monitor.core.types import FetchedItem
from monitor.replica_drill import people_toml

BATCH = 100
STREAM = ("comments", "")


def config_file(folder: Path, db_url: str, smtp_port: int) -> Path:
    """The worker's configuration: one demo page polled every second, mail to a local SMTP server."""
    path = folder / "faults.toml"
    path.write_text(f"""
[setting]
name = "Willowbrook Day Nursery"
[database]
url = "{db_url}"
[email]
from = "nurserywatch@example.org"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_starttls = false
{people_toml("manager@example.org", "dsl@example.org")}
[[accounts]]
platform = "demo"
id = "page"
poll_every = "1s"
""")
    return path



class SyntheticPage:
    """N comments cycling through the demo samples (about half of them flag),
    each with its own id, served in batches of 100 behind a cursor."""

    platform = "demo"

    def __init__(self, n: int, clock, batch: int = BATCH):
        self.n, self.clock, self.batch = n, clock, batch
        self.samples = load_samples()

    def text(self, i: int) -> str:
        return self.samples[i % len(self.samples)]["text"]

    async def fetch(self, cursors):
        pos = int(cursors.get(STREAM, {}).get("next", 0))
        while pos < self.n:
            end = min(pos + self.batch, self.n)
            items = [FetchedItem(external_id=f"s{i}", kind="comment", text=self.text(i),
                                 author_name=f"Commenter {i % 97}", created_at=self.clock(), can_hide=True)
                     for i in range(pos, end)]
            pos = end
            yield Batch(items=items, cursors={STREAM: {"next": pos}})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        pass


def finished(sessions, n: int) -> bool:
    with sessions() as s:
        stored = s.scalar(select(func.count()).select_from(Item))
        unclassified = s.scalar(select(func.count()).select_from(Item).where(Item.classified_at.is_(None)))
        unsent = s.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.state.in_(("pending", "sending"))))
    return stored >= n and unclassified == 0 and unsent == 0


async def work(config_path: str, n: int, pause: float = 0.2, max_cycles: int = 10_000) -> int:
    """The worker: the daemon's cycle job, again and again, until all is done."""
    from monitor.core.settings import load_config
    from monitor.daemon import Jobs
    from monitor.runtime import build_runtime

    rt = build_runtime(load_config(config_path))
    account_id = next(iter(rt.connectors))
    rt.connectors[account_id] = SyntheticPage(n, rt.clock)
    jobs = Jobs(rt)
    try:
        for _ in range(max_cycles):
            await jobs.cycle()
            await jobs.deliver()
            try:
                if await asyncio.to_thread(finished, rt.sessions, n):
                    return 0
            except Exception as err:  # the database is away: try again next round
                logging.getLogger(__name__).warning("cannot check progress (%s)", type(err).__name__)
            await asyncio.sleep(pause)
        return 1
    finally:
        await rt.aclose()


@dataclass
class Audit:
    comments: int
    stored: int
    duplicate_items: int
    alerts: int
    items_alerted_twice: int
    outbox_rows: int
    unsent: int
    delivered: int  # distinct messages the SMTP server received
    delivered_twice: int
    never_delivered: int

    @property
    def lost(self) -> int:
        return self.comments - self.stored + self.never_delivered

    def line(self) -> str:
        return (f"{self.stored}/{self.comments} comments stored (duplicates {self.duplicate_items}), "
                f"{self.alerts} alerts (items alerted twice {self.items_alerted_twice}), "
                f"{self.delivered}/{self.outbox_rows} emails delivered (twice: {self.delivered_twice}, "
                f"never: {self.never_delivered}, unsent: {self.unsent})")


def audit(sessions, n: int, received_message_ids: list[str]) -> Audit:
    with sessions() as s:
        ids = s.scalars(select(Item.external_id)).all()
        alert_items = s.scalars(select(Alert.item_id)).all()
        rows = s.execute(select(OutboxMessage.payload, OutboxMessage.raw, OutboxMessage.state)).all()
    queued = {(payload or {}).get("message_id") or email.message_from_string(raw or "")["Message-ID"]
              for payload, raw, _ in rows}
    got = Counter(received_message_ids)
    return Audit(
        comments=n, stored=len(set(ids)), duplicate_items=len(ids) - len(set(ids)),
        alerts=len(alert_items), items_alerted_twice=len(alert_items) - len(set(alert_items)),
        outbox_rows=len(rows), unsent=sum(1 for _p, _r, st in rows if st in ("pending", "sending")),
        delivered=len(set(got) & queued), delivered_twice=sum(1 for m, k in got.items() if k > 1),
        never_delivered=len(queued - set(got)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fault-suite worker (see monitor/faults.py)")
    parser.add_argument("--config", required=True)
    parser.add_argument("--comments", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(work(args.config, args.comments))


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    sys.exit(main())
