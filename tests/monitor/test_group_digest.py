"""The group digest: a person of two settings gets one email with both, separated;
a setting's own people get their setting's digest, with nothing of the other."""
from __future__ import annotations

import asyncio
import io
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from alerts.channels.email.render import render
from monitor.core.group import load_group
from monitor.core.models import OutboxMessage
from monitor.group_jobs import run_digests
from monitor.pipeline import run_cycle
from monitor.runtime import build_group_runtime
from tests.monitor.helpers import Keywords
from tests.monitor.test_group_runtime import scripted, write_group

OWNER = """
[[recipients]]
name = "Olu Owner"
email = "owner@example.org"
roles = ["owner"]
"""


@pytest.fixture
def group_rt(tmp_path, db_url, sessions, clock):
    path = write_group(tmp_path, db_url)
    path.write_text(path.read_text() + OWNER)
    rt = build_group_runtime(load_group(path), clock=clock, sessions=sessions, classifier=Keywords())
    yield rt
    asyncio.run(rt.aclose())


def digests(sessions) -> dict[str, list[OutboxMessage]]:
    with sessions() as s:
        out: dict[str, list[OutboxMessage]] = {}
        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)):
            out.setdefault(m.address, []).append(m)
        return out


def text_of(message: OutboxMessage) -> tuple[str, str]:
    subject, text, _html = render(message.payload["template"], message.payload["context"])
    return subject, text


@pytest.fixture
def alerted_then_digest_time(group_rt, clock):
    pages = scripted(group_rt)
    pages["oak"].post("o1", "my son came home with a bruise", clock())
    pages["elm"].post("e1", "lovely sports day", clock())
    asyncio.run(run_cycle(group_rt))
    clock.set(datetime(2026, 11, 24, 7, 29, tzinfo=timezone.utc))  # polled through the night: the last poll
    asyncio.run(run_cycle(group_rt))
    clock.set(datetime(2026, 11, 24, 7, 31, tzinfo=timezone.utc))  # 07:30 in London, the next day
    assert run_digests(group_rt, clock(), None)
    return group_rt


def test_an_account_not_polled_for_longer_than_expected_is_named_above_the_settings(group_rt, sessions, clock):
    scripted(group_rt)
    asyncio.run(run_cycle(group_rt))
    clock.set(datetime(2026, 11, 24, 7, 31, tzinfo=timezone.utc))  # no poll since yesterday morning
    assert run_digests(group_rt, clock(), None)
    _subject, text = text_of(digests(sessions)["owner@example.org"][0])
    summary, sections = text.split("======== ", 1)
    assert "No good poll for longer than expected (comments there may NOT be being checked):" in summary
    assert "- Elm Nursery: " in summary and "- Oak Nursery: " in summary
    assert "All quiet" not in text
    assert "last good poll 09:00 on Mon 23 Nov (expected every 5 min)" in sections


def test_a_person_of_both_settings_gets_one_digest_with_both_settings_separated(alerted_then_digest_time, sessions):
    mine = digests(sessions)["owner@example.org"]
    assert len(mine) == 1 and mine[0].payload["template"] == "group_digest"
    subject, text = text_of(mine[0])
    assert subject == "[nurserywatch] Group summary: 1 open alert in 1 setting"
    elm_at, oak_at = text.index("======== Elm Nursery ========"), text.index("======== Oak Nursery ========")
    elm, oak = text[elm_at:oak_at], text[oak_at:]
    assert "All quiet: 1 comment checked" in elm and "/a/" not in elm
    assert "Open, not yet acknowledged (1)" in oak and "/a/" in oak
    assert "- Oak Nursery: 1" in text[:elm_at] and "All quiet: Elm Nursery." in text[:elm_at]


def test_the_area_manager_of_both_settings_also_gets_the_group_digest_and_no_setting_digest(
        alerted_then_digest_time, sessions):
    mine = digests(sessions)["area@example.org"]
    assert [m.payload["template"] for m in mine] == ["group_digest"]
    sections = mine[0].payload["context"]["settings"]
    assert [s["setting_name"] for s in sections] == ["Elm Nursery", "Oak Nursery"]


def test_a_settings_own_people_get_only_their_settings_digest(alerted_then_digest_time, sessions):
    sent = digests(sessions)
    oak_dsl, elm_dsl = sent["oak.dsl@example.org"], sent["elm.dsl@example.org"]
    assert [m.payload["template"] for m in oak_dsl + elm_dsl] == ["digest", "digest"]
    _subject, oak_text = text_of(oak_dsl[0])
    _subject, elm_text = text_of(elm_dsl[0])
    assert "Oak Nursery" in oak_text and "Elm Nursery" not in oak_text and "/a/" in oak_text
    assert "Elm Nursery" in elm_text and "Oak Nursery" not in elm_text and "All quiet" in elm_text


def test_the_group_digest_is_queued_once_a_day(alerted_then_digest_time, sessions, clock):
    assert not run_digests(alerted_then_digest_time, clock.advance(minutes=5), None)
    assert len(digests(sessions)["owner@example.org"]) == 1



def test_the_digest_command_on_a_group_previews_each_setting_and_the_group_digest(group_rt, tmp_path):
    from monitor.cli import digest as digest_cli
    from monitor.cli.main import build_parser

    def dry_run(*extra: str) -> str:
        out = io.StringIO()
        args = build_parser().parse_args(["digest", "--config", str(tmp_path / "group.toml"), "--dry-run", *extra])
        assert digest_cli.cmd_digest(args, out=out, clock=group_rt.clock) == 0
        return out.getvalue()

    text = dry_run()
    assert text.count("Subject: [nurserywatch] Daily summary") == 4  # each setting's manager and DSL
    assert text.count("Subject: [nurserywatch] Group summary") == 2  # the area manager and the owner
    assert "<area@example.org>" not in text and "<owner@example.org>" not in text  # not in a setting's digest
    oak = dry_run("--setting", "oak")
    assert oak.count("Subject: [nurserywatch] Daily summary") == 2
    assert "Group summary" not in oak and "Elm Nursery" not in oak
