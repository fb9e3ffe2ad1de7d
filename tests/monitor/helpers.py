"""Small stand-ins for pipeline tests: a scripted connector and a keyword classifier."""
from __future__ import annotations

import asyncio
from datetime import datetime

from monitor.core.types import Batch, Classification, Evidence, FetchedItem, Finding
from monitor.replica_drill import people_toml


class Scripted:
    """A connector that returns whatever items the test gives it, once each."""

    platform = "demo"

    def __init__(self):
        self.items: list[FetchedItem] = []
        self.polls = 0

    def post(self, external_id: str, text: str, created_at: datetime, permalink: str | None = None) -> None:
        self.items.append(FetchedItem(external_id=external_id, kind="comment", text=text, created_at=created_at,
                                      author_name="A Parent", permalink=permalink or f"https://example.org/{external_id}",
                                      can_hide=True))

    async def fetch(self, cursors):
        self.polls += 1
        seen = set((cursors.get(("all", "")) or {}).get("ids", []))
        new = [i for i in self.items if i.external_id not in seen]
        yield Batch(items=new, cursors={("all", ""): {"ids": sorted(seen | {i.external_id for i in new})}})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        return None


class Stuck:
    """A platform that accepted the connection and never answers."""

    platform = "demo"

    def __init__(self):
        self.polls = 0

    async def fetch(self, cursors):
        self.polls += 1
        await asyncio.sleep(3600)
        yield Batch(items=[])

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        return None


class Keywords:
    """Flags 'bruise' as safeguarding; counts calls to show when it was (not) used."""

    def __init__(self):
        self.calls = 0

    def classify_batch(self, items):
        self.calls += 1
        out = []
        for text, *_ in items:
            at = text.find("bruise")
            if at < 0:
                out.append(Classification())
                continue
            ev = (Evidence(at, at + 6, "bruise", "injury"),)
            out.append(Classification(labels=("safeguarding",),
                                      findings=(Finding("safeguarding", "high", 0.9, ev, "test"),)))
        return out


def write_config(tmp_path, db_url: str, smtp_port: int | None = None, login: bool = False,
                 web_port: int | None = None, poll_every: str | None = None) -> str:
    """A one-setting config file: the demo page, a manager and a DSL, mail to files (or to a
    local SMTP server on `smtp_port`, with a login from the environment if `login`)."""
    smtp = f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_starttls = false\n' if smtp_port else ""
    if login:
        smtp += 'smtp_username_env = "NW_SMTP_USER"\nsmtp_password_env = "NW_SMTP_PASS"\n'
    web = f'[web]\nlisten = "127.0.0.1:{web_port}"\nbase_url = "http://127.0.0.1:{web_port}"\n' if web_port else ""
    every = f'poll_every = "{poll_every}"\n' if poll_every else ""
    path = tmp_path / "nursery.toml"
    path.write_text(f"""
[setting]
name = "Willowbrook Day Nursery"
[database]
url = "{db_url}"
{web}[email]
from = "nurserywatch@example.org"
outbox_dir = "{tmp_path}/outbox"
{smtp}{people_toml("manager@example.org", "dsl@example.org")}[[accounts]]
platform = "demo"
id = "page"
{every}options = {{ per_cycle = 100 }}
""")
    return str(path)
