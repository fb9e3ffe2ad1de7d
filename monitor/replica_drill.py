"""The replica drill's moving parts, shared by tests/monitor/test_replica_drills.py
(small, in CI) and benchmarks/bench_replicas.py (600 Pages, 3 replicas).

A replica (`python -m monitor.replica_drill --config FILE`) is the daemon
itself (`monitor.daemon.serve`: ticks, leases, delivery, escalation, pages)
with a cheap classifier that flags every comment containing "bruise", so the
audit knows which comments must raise an alert; `--classifier real` loads the
real one. Each replica names itself on every API request (`X-Replica`), so the
imitation Graph API (`connectors.fakeserver.FakePages`) can tell whether two
replicas ever polled one Page at the same moment. `audit` then checks what
the database and the SMTP server saw.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from monitor.core.models import Alert, Item, OutboxMessage
from monitor.core.types import Classification, Evidence, Finding

FLAG = "bruise"
REPLICA_HEADER = "X-Replica"


class Phrases:
    """Flags a comment containing FLAG as safeguarding; nothing else."""

    def classify_batch(self, items):
        out = []
        for text, *_ in items:
            at = text.find(FLAG)
            if at < 0:
                out.append(Classification())
                continue
            ev = (Evidence(at, at + len(FLAG), FLAG, "injury"),)
            out.append(Classification(labels=("safeguarding",),
                                      findings=(Finding("safeguarding", "high", 0.9, ev, "drill"),)))
        return out


def _accounts(pages: list[str], api_base: str, poll_every: int) -> str:
    return "".join(f"""
[[accounts]]
platform = "facebook"
id = "{page}"
token_env = "DRILL_PAGE_TOKEN"
api_base = "{api_base}"
poll_every = "{poll_every}s"
request_deadline = "20s"
""" for page in pages)


def people_toml(manager: str, dsl: str) -> str:
    """A setting's manager and DSL, as `[[recipients]]` (the drills' and the fault suite's people)."""
    return f"""
[[recipients]]
name = "Jo Manager"
email = "{manager}"
roles = ["manager"]
[[recipients]]
name = "Sam Lead"
email = "{dsl}"
roles = ["dsl"]
"""


def config_file(folder: Path, name: str, *, db_url: str, api_base: str, pages: list[str], smtp_port: int,
                web_port: int, poll_every: int, total: int = 32, settings: int = 1) -> Path:
    """One replica's configuration: every replica watches the same Pages; only the web port differs.

    settings=1 writes a single-setting file; more writes a group file and one file per setting
    in `<name>.d/` (the Pages dealt out in turn), each setting with its own manager and DSL,
    and the group's area manager over all of them."""
    shared = f"""
[database]
url = "{db_url}"
[web]
listen = "127.0.0.1:{web_port}"
base_url = "http://127.0.0.1:{web_port}"
[email]
from = "nurserywatch@example.org"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_starttls = false
[concurrency]
total = {total}
default_per_platform = {total}
per_app = {total}
[polling]
deadline = "60s"
"""
    path = folder / f"{name}.toml"
    if settings == 1:
        path.write_text(f'[setting]\nname = "Oakfield Nurseries"\n{shared}'
                        f'{people_toml("manager@example.org", "dsl@example.org")}{_accounts(pages, api_base, poll_every)}')
        return path
    (folder / f"{name}.d").mkdir(exist_ok=True)
    path.write_text(f"""[group]
name = "Oakfield Nurseries"
settings = "{name}.d/*.toml"
{shared}
[[recipients]]
name = "Ruth Area"
email = "area@example.org"
roles = ["area_manager"]
settings = ["*"]
""")
    for n in range(settings):
        key = f"s{n:03d}"
        (folder / f"{name}.d" / f"{key}.toml").write_text(
            f'[setting]\nkey = "{key}"\nname = "Oakfield {key}"\n'
            f'{people_toml(f"{key}.manager@example.org", f"{key}.dsl@example.org")}'
            f'{_accounts(pages[n::settings], api_base, poll_every)}')
    return path


@dataclass
class DrillAudit:
    comments: int  # posted on the imitation Pages
    stored: int  # of them, stored
    flagged: int  # of them, containing FLAG
    alerted: int  # flagged comments with an alert
    alerts_on_unflagged: int
    alert_emails_queued: int
    alert_emails_expected: int  # flagged x recipients
    delivered: int  # (Message-ID, recipient) pairs the SMTP server received
    delivered_twice: int

    @property
    def exactly_once(self) -> bool:
        return (self.stored == self.comments and self.alerted == self.flagged and not self.alerts_on_unflagged
                and self.alert_emails_queued == self.alert_emails_expected == self.delivered)

    def line(self) -> str:
        return (f"{self.stored}/{self.comments} comments stored; {self.alerted}/{self.flagged} flagged comments "
                f"alerted ({self.alerts_on_unflagged} alerts on others); alert emails queued "
                f"{self.alert_emails_queued}/{self.alert_emails_expected}, delivered {self.delivered} "
                f"(twice: {self.delivered_twice})")


def audit(sessions, posted: dict[str, str], received: list[tuple[str, list[str]]], recipients: int = 1) -> DrillAudit:
    """`posted`: comment id -> text; `received`: (Message-ID, recipients) of each mail the SMTP server took.
    `recipients`: people each alert goes to at once (safeguarding: the DSL, by the default routes)."""
    with sessions() as s:
        stored = set(s.scalars(select(Item.external_id).where(Item.external_id.in_(list(posted)))))
        alerted = dict(s.execute(select(Item.external_id, Alert.message_id).join(Alert, Alert.item_id == Item.id)).all())
        queued = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "alert")) or 0
    flagged = {cid for cid, text in posted.items() if FLAG in text}
    got = Counter((mid, rcpt) for mid, rcpts in received for rcpt in rcpts)
    wanted = {alerted[c] for c in flagged if c in alerted}
    pairs = {k: n for k, n in got.items() if k[0] in wanted}
    return DrillAudit(
        comments=len(posted), stored=len(stored), flagged=len(flagged), alerted=len(flagged & set(alerted)),
        alerts_on_unflagged=len(set(alerted) - flagged), alert_emails_queued=queued,
        alert_emails_expected=len(flagged) * recipients, delivered=len(pairs),
        delivered_twice=sum(1 for n in pairs.values() if n > 1),
    )


def clashing_requests(requests: list[tuple]) -> list[tuple]:
    """Each API request that began while another replica had a request to the same Page open
    (FakePages.requests), with the open one: [(request, the other's request)]."""
    by_page: dict[str, list[tuple]] = {}
    for request in requests:
        by_page.setdefault(request[0], []).append(request)
    clashes = []
    for rows in by_page.values():
        latest: dict[str, tuple] = {}  # replica -> its request that stays open longest so far
        for request in sorted(rows, key=lambda r: r[2]):
            _, replica, start, end = request[:4]
            other = next((o for r, o in latest.items() if r != replica and o[3] > start), None)
            if other is not None:
                clashes.append((request, other))
            if replica not in latest or end > latest[replica][3]:
                latest[replica] = request
    return clashes


def concurrent_requests(requests: list[tuple]) -> int:
    """How many API requests began while another replica had a request to the same Page open:
    0 when no two replicas ever polled one Page at once."""
    return len(clashing_requests(requests))


def build(config_path: str | Path, classifier: str = "phrases", replica: str | None = None):
    """A replica's runtime: the configured one, with the drill's classifier, naming itself to the API."""
    from monitor.core.group import load_group
    from monitor.runtime import build_group_runtime

    rt = build_group_runtime(load_group(config_path), classifier=Phrases() if classifier == "phrases" else None)
    rt.http.headers[REPLICA_HEADER] = replica or str(os.getpid())
    return rt


def main(argv: list[str] | None = None) -> int:
    from monitor.daemon import serve

    parser = argparse.ArgumentParser(description="replica drill worker (see monitor/replica_drill.py)")
    parser.add_argument("--config", required=True)
    parser.add_argument("--classifier", choices=["phrases", "real"], default="phrases")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(build(args.config, args.classifier)))


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    sys.exit(main())
