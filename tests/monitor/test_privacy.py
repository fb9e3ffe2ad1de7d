"""Retention, subject access and erasure, on SQLite and PostgreSQL: what is
erased is gone from the database (and, on SQLite, from the file's bytes and
from a backup taken afterwards); what belongs to a safeguarding record is
kept and the refusal says why; nothing is fetched or alerted twice."""
from __future__ import annotations

import asyncio
import json
import subprocess
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from connectors.base import Batch
from monitor import cli
from monitor.backup import backup, sqlite_path
from monitor.core.models import Alert, AlertState, AuditEvent, Finding, Item, OutboxMessage
from monitor.core.types import FetchedItem
from monitor.pipeline import run_cycle
from monitor.privacy import apply_retention, erase_author, export_author
from monitor.runtime import build_runtime

AUTHOR = "Zelda Quokkaford"
MARK = "zanzibarquokka"  # a word found nowhere else, to look for in the file's bytes
COMMENTS = [
    (AUTHOR, f"Lovely photos from the picnic, thank you all {MARK}"),
    (AUTHOR, f"I picked my son up with a big bruise on his arm and he says a lady grabbed him hard {MARK}"),
    (AUTHOR, f"Worst nursery ever, the staff are rude and lazy and never answer the phone {MARK}"),
    ("Someone Else", "What time does the open day start on Saturday?"),
    ("Someone Else", "My daughter came home with a bruise on her face and said the teacher hit her"),
]


class Comments:
    platform = "demo"

    def __init__(self, clock, comments=COMMENTS):
        self.clock, self.comments = clock, comments

    async def fetch(self, cursors):
        start = int(cursors.get(("comments", ""), {}).get("next", 0))
        if start >= len(self.comments):
            return
        items = [FetchedItem(external_id=f"c{start + i}", kind="comment", text=t, author_name=a,
                             author_id=f"id-{a.split()[0].lower()}", created_at=self.clock(), can_hide=True)
                 for i, (a, t) in enumerate(self.comments[start:])]
        yield Batch(items=items, cursors={("comments", ""): {"next": len(self.comments)}})

    async def hide(self, external_id, hidden=True):
        pass


@pytest.fixture
def rt(make_config, sessions, clock):
    runtime = build_runtime(make_config(), clock=clock, sessions=sessions)
    runtime.connectors[next(iter(runtime.connectors))] = Comments(clock)
    asyncio.run(run_cycle(runtime))
    yield runtime
    asyncio.run(runtime.aclose())


def by_external(rt) -> dict[str, Item]:
    with rt.sessions() as s:
        return {i.external_id: i for i in s.scalars(select(Item))}


def alerted(rt) -> dict[str, list[str]]:
    with rt.sessions() as s:
        return dict(s.execute(select(Item.external_id, Alert.categories).join(Alert, Alert.item_id == Item.id)).all())


def test_the_fixture_comments_classify_as_the_tests_assume(rt):
    got = alerted(rt)
    assert "c0" not in got and "c3" not in got
    assert "safeguarding" in got["c1"] and "safeguarding" in got["c4"]
    assert "c2" in got and "safeguarding" not in got["c2"]


def test_retention_erases_unflagged_words_after_30_days_keeping_id_and_time(rt, clock):
    assert apply_retention(rt.sessions, rt.setting_id, rt.config.retention, clock()).unflagged_items == 0
    clock.advance(days=31)
    report = apply_retention(rt.sessions, rt.setting_id, rt.config.retention, clock())
    assert report.unflagged_items == 2 and report.vacuumed
    items = by_external(rt)
    for gone in ("c0", "c3"):
        assert (items[gone].text, items[gone].author_name, items[gone].author_id) == ("", None, None)
        assert items[gone].created_at and items[gone].classified_at
    assert MARK in items["c1"].text and items["c1"].author_name == AUTHOR  # alerted: kept

    before = alerted(rt)
    asyncio.run(run_cycle(rt))  # nothing fetched, classified or alerted twice
    assert len(by_external(rt)) == len(COMMENTS) and alerted(rt) == before
    with rt.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "retention"))
        assert event.detail["unflagged_items"] == 2 and AUTHOR not in json.dumps(event.detail)


def test_closed_alerts_are_erased_after_their_period_safeguarding_ones_much_later(rt, clock):
    with rt.sessions.begin() as s:
        for alert in s.scalars(select(Alert)):
            alert.transition(AlertState.closed.value, clock())
    cfg = rt.config.retention
    clock.advance(seconds=cfg.closed_alerts_after + 60)
    assert apply_retention(rt.sessions, rt.setting_id, cfg, clock()).closed_alerts == 1
    items = by_external(rt)
    assert items["c2"].text == "" and MARK in items["c1"].text and items["c4"].text
    with rt.sessions() as s:
        c2 = items["c2"].id
        assert all(f.evidence == [] for f in s.scalars(select(Finding).where(Finding.item_id == c2)))
        alert = s.scalar(select(Alert).where(Alert.item_id == c2))
        assert alert.categories and alert.created_at and alert.closed_at  # the audit stub stays
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id)).all()
        assert all(m.payload == {"erased": True} and m.raw is None for m in rows)  # digest-only: maybe none

    clock.advance(seconds=cfg.closed_safeguarding_after)
    assert apply_retention(rt.sessions, rt.setting_id, cfg, clock()).closed_alerts == 2
    assert by_external(rt)["c1"].text == ""


def test_sent_email_bodies_are_erased_after_their_period_and_never_resent(rt, clock):
    clock.advance(seconds=rt.config.retention.sent_email_after + 60)
    assert apply_retention(rt.sessions, rt.setting_id, rt.config.retention, clock()).email_bodies > 0
    with rt.sessions() as s:
        sent = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "sent"))
    asyncio.run(run_cycle(rt))
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "sent")) == sent


def test_export_holds_everything_about_the_author_and_is_audited_without_the_name(rt, clock):
    data = export_author(rt.sessions, rt.setting_id, AUTHOR.lower(), clock(), actor="cli:test")
    assert [i["external_id"] for i in data["items"]] == ["c0", "c1", "c2"]
    assert all(MARK in i["text"] for i in data["items"])
    assert data["items"][1]["alert"]["categories"] and data["items"][1]["alert"]["messages"]
    assert data["items"][0]["alert"] is None
    assert [i["external_id"] for i in export_author(rt.sessions, rt.setting_id, "id-zelda", clock(),
                                                   actor="cli:test")["items"]] == ["c0", "c1", "c2"]
    with rt.sessions() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "privacy_export")).all()
    assert len(events) == 2 and events[0].actor == "cli:test" and AUTHOR not in json.dumps(events[0].detail)


def test_erasure_keeps_the_safeguarding_record_says_why_and_leaves_no_trace_of_the_rest(rt, clock, db_url, tmp_path):
    report = erase_author(rt.sessions, rt.setting_id, AUTHOR, rt.config.retention, clock(), actor="cli:test")
    items = by_external(rt)
    assert sorted(report.erased_items) == sorted([items["c0"].id, items["c2"].id])
    assert list(report.kept) == [items["c1"].id]
    assert "safeguarding alert" in report.kept[items["c1"].id] and "Sch.1 para 18" in report.kept[items["c1"].id]
    for gone in ("c0", "c2"):
        assert items[gone].text == "" and items[gone].author_name is None
    with rt.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "privacy_erase"))
        assert event.detail["kept_item_ids"] == [items["c1"].id] and AUTHOR not in json.dumps(event.detail)

    # The safeguarding record keeps its words; take it out too, to look for every trace in the bytes.
    with rt.sessions.begin() as s:
        s.scalar(select(Alert).where(Alert.item_id == items["c1"].id)).transition("closed", clock() - timedelta(days=10**4))
    report = erase_author(rt.sessions, rt.setting_id, AUTHOR, rt.config.retention, clock(), actor="cli:test")
    assert report.erased_items == [items["c1"].id] and not report.kept
    export = export_author(rt.sessions, rt.setting_id, "id-zelda", clock(), actor="cli:test")
    assert export["items"] == []  # no longer findable under the name or id

    after = backup(db_url, tmp_path / "after-erasure.bak")
    if (path := sqlite_path(db_url)) is not None:
        files = [p for p in path.parent.glob(path.name + "*") if p.is_file()]
        for f in files + [after.path]:
            raw = f.read_bytes()
            assert MARK.encode() not in raw and AUTHOR.encode() not in raw, f.name
        assert b"teacher hit her" in path.read_bytes()  # the bytes check does see text that remains
    else:
        if not shutil.which("pg_restore"):
            pytest.skip("pg_restore is not installed")
        sql = subprocess.run(["pg_restore", "--file=-", str(after.path)], capture_output=True, check=True).stdout
        assert MARK.encode() not in sql and AUTHOR.encode() not in sql
        assert b"teacher hit her" in sql


def test_privacy_commands_export_erase_and_apply_retention(tmp_path, capsys):
    from alerts.testing import free_port
    from tests.monitor.test_daemon import write_config

    config = write_config(tmp_path, free_port())
    assert cli.main(["run", "--once", "--config", config]) == 0
    capsys.readouterr()
    assert cli.main(["privacy", "export", "--config", config, "--author", "Demo Parent A"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["items"] and data["items"][0]["author_name"] == "Demo Parent A"
    assert cli.main(["privacy", "erase", "--config", config, "--author", "Demo Parent B"]) == 0
    out = capsys.readouterr().out
    assert "kept item" in out and "safeguarding" in out
    assert cli.main(["privacy", "retention", "--config", config]) == 0
    assert "retention: 0 unflagged item(s)" in capsys.readouterr().out


def test_an_erased_comment_is_not_brought_back_by_a_platform_re_read(rt, clock):
    from monitor.core.types import ItemChange
    from monitor.recheck import recheck_account

    account_id = next(iter(rt.connectors))
    page = rt.connectors[account_id]
    seen = []

    async def recheck(known):  # the platform still shows the comment as it was
        seen.extend(k.external_id for k in known)
        return [ItemChange("c0", text=COMMENTS[0][1])]

    page.recheck = recheck
    erase_author(rt.sessions, rt.setting_id, AUTHOR, rt.config.retention, clock(), actor="cli:test")
    if rt.leases:  # PostgreSQL: a re-read runs inside the account's poll, under its lease
        with rt.sessions.begin() as session:
            rt.leases.take(session, account_id)
    asyncio.run(recheck_account(rt, account_id, page))
    assert "c0" not in seen and "c3" in seen  # erased items are not even asked about
    item = by_external(rt)["c0"]
    assert item.text == "" and item.erased_at is not None and item.classified_at is not None


# -- the web app's own records (issue 15): labelled examples, sessions, sign-in attempts ----------

def label(rt, clock, external_id: str, source: str, labels: list[str]) -> None:
    from alerts.outcomes import record_example

    with rt.sessions.begin() as s:
        item = s.scalar(select(Item).where(Item.external_id == external_id))
        record_example(s, rt.setting_id, item, source, labels, None, clock())


def examples(rt) -> dict[str, str]:
    from monitor.core.webmodels import LabelledExample

    with rt.sessions() as s:
        return dict(s.execute(select(Item.external_id, LabelledExample.text)
                              .join(LabelledExample, LabelledExample.item_id == Item.id)).all())


def test_labelled_examples_outlive_their_comment_for_their_own_period_then_go(rt, clock):
    label(rt, clock, "c0", "needed_human", ["criticism"])
    label(rt, clock, "c2", "not_a_concern", [])
    cfg = rt.config.retention
    clock.advance(seconds=cfg.unflagged_after + 60)
    report = apply_retention(rt.sessions, rt.setting_id, cfg, clock())
    assert report.unflagged_items == 2 and report.labelled_examples == 0
    assert MARK in examples(rt)["c0"] and by_external(rt)["c0"].text == ""  # the copy teaches on

    clock.advance(seconds=cfg.labelled_examples_after - cfg.unflagged_after)
    report = apply_retention(rt.sessions, rt.setting_id, cfg, clock())
    assert report.labelled_examples == 2 and examples(rt) == {}
    with rt.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "retention").order_by(AuditEvent.id.desc()))
        assert event.detail["labelled_examples"] == 2 and MARK not in json.dumps(event.detail)


def test_an_erasure_takes_the_authors_labelled_examples_with_it_but_not_a_kept_safeguarding_one(rt, clock):
    label(rt, clock, "c0", "needed_human", ["criticism"])
    label(rt, clock, "c1", "not_a_concern", ["safeguarding"])
    label(rt, clock, "c3", "needed_human", ["criticism"])  # someone else's
    exported = export_author(rt.sessions, rt.setting_id, AUTHOR, clock(), actor="cli:test")
    by_item = {i["external_id"]: i["labelled_examples"] for i in exported["items"]}
    assert by_item["c0"][0]["source"] == "needed_human" and MARK in by_item["c0"][0]["text"]

    erase_author(rt.sessions, rt.setting_id, AUTHOR, rt.config.retention, clock(), actor="cli:test")
    assert set(examples(rt)) == {"c1", "c3"}  # c1 is part of an open safeguarding alert: kept, with its copy


def test_ended_and_expired_sign_ins_and_old_sign_in_attempts_are_removed(rt, clock):
    from monitor.core.models import Recipient
    from monitor.core.webmodels import LoginAttempt, LoginToken, WebSession
    from monitor.web.auth import IDLE_LIMIT, RATE_WINDOW

    cfg = rt.config.retention
    now = clock()
    past = timedelta(seconds=cfg.sign_ins_after) + timedelta(hours=1)
    with rt.sessions.begin() as s:
        who = s.scalar(select(Recipient.id).where(Recipient.setting_id == rt.setting_id).limit(1))

        def session_row(name, last_seen, ended=None):
            s.add(WebSession(token_hash=name.ljust(64, "0"), setting_id=rt.setting_id, recipient_id=who,
                             csrf="x", created_at=last_seen, last_seen_at=last_seen, ended_at=ended))

        session_row("in-use", now)
        session_row("signed-out-long-ago", now - past, ended=now - past)
        session_row("signed-out-today", now - timedelta(hours=2), ended=now - timedelta(hours=1))
        session_row("idle-long-ago", now - IDLE_LIMIT - past)
        s.add_all([LoginToken(setting_id=rt.setting_id, recipient_id=who, created_at=now - past - timedelta(minutes=15)),
                   LoginToken(setting_id=rt.setting_id, recipient_id=who, created_at=now),
                   LoginAttempt(key="ip:203.0.113.9", created_at=now - RATE_WINDOW - timedelta(minutes=1)),
                   LoginAttempt(key="ip:203.0.113.10", created_at=now)])

    report = apply_retention(rt.sessions, rt.setting_id, cfg, now)
    assert (report.sign_ins, report.login_attempts) == (3, 1)
    with rt.sessions() as s:
        assert {r.token_hash.rstrip("0") for r in s.scalars(select(WebSession))} == {"in-use", "signed-out-today"}
        assert [t.created_at for t in s.scalars(select(LoginToken))] == [now]
        assert [a.key for a in s.scalars(select(LoginAttempt))] == ["ip:203.0.113.10"]  # the rate limit still works
    assert apply_retention(rt.sessions, rt.setting_id, cfg, now).sign_ins == 0
