"""The daily digest: local time across clock changes, once per day and person, content."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from alerts.digest import digest_due, next_digest_at, run_digest, scheduled_at
from monitor.core.models import Account, AccountState, OutboxMessage

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def digests(world) -> list[OutboxMessage]:
    with world.sessions() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)).all()


def test_digest_time_is_local_time_in_summer_and_winter():
    assert scheduled_at(date(2026, 7, 1), time(7, 30), LONDON) == utc(2026, 7, 1, 6, 30)  # BST
    assert scheduled_at(date(2026, 12, 1), time(7, 30), LONDON) == utc(2026, 12, 1, 7, 30)  # GMT


def test_next_digest_crosses_the_autumn_clock_change_at_0730_local():
    # Clocks go back at 02:00 BST on Sunday 25 October 2026.
    assert next_digest_at(time(7, 30), LONDON, utc(2026, 10, 24, 6, 31)) == utc(2026, 10, 25, 7, 30)
    assert next_digest_at(time(7, 30), LONDON, utc(2026, 10, 25, 7, 29)) == utc(2026, 10, 25, 7, 30)


def test_next_digest_crosses_the_spring_clock_change_at_0730_local():
    # Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
    assert next_digest_at(time(7, 30), LONDON, utc(2026, 3, 28, 7, 31)) == utc(2026, 3, 29, 6, 30)


def test_a_time_skipped_by_the_spring_change_runs_an_hour_later_and_a_repeated_one_runs_once():
    assert scheduled_at(date(2026, 3, 29), time(1, 30), LONDON) == utc(2026, 3, 29, 1, 30)  # 02:30 BST
    assert scheduled_at(date(2026, 10, 25), time(1, 30), LONDON) == utc(2026, 10, 25, 0, 30)  # first 01:30


def test_due_only_after_the_local_time_across_the_autumn_change(new_world):
    w = new_world(start=utc(2026, 10, 24, 6, 29))
    assert not digest_due(w.sessions, w.env, w.config.digest, w.clock())
    w.clock.set(utc(2026, 10, 24, 6, 30))  # 07:30 BST
    assert digest_due(w.sessions, w.env, w.config.digest, w.clock())
    assert len(run_digest(w.sessions, w.env, w.config.digest, w.clock())) == 5
    assert not digest_due(w.sessions, w.env, w.config.digest, w.clock())
    w.clock.set(utc(2026, 10, 25, 6, 30))  # 06:30 GMT on the day the clocks went back
    assert not digest_due(w.sessions, w.env, w.config.digest, w.clock()) and run_digest(w.sessions, w.env, w.config.digest, w.clock()) == []
    w.clock.set(utc(2026, 10, 25, 7, 30))  # 07:30 GMT
    assert digest_due(w.sessions, w.env, w.config.digest, w.clock())
    assert len(run_digest(w.sessions, w.env, w.config.digest, w.clock())) == 5


def test_the_day_after_a_clock_change_covers_25_hours_so_nothing_is_missed(new_world):
    w = new_world(start=utc(2026, 10, 24, 6, 30))
    run_digest(w.sessions, w.env, w.config.digest, w.clock())
    w.clock.set(utc(2026, 10, 25, 6, 45))  # after 07:30 BST yesterday +24 h, before 07:30 GMT today
    w.raise_alert("x")
    w.clock.set(utc(2026, 10, 25, 7, 30))
    text = run_digest(w.sessions, w.env, w.config.digest, w.clock())[0]
    assert "since 07:30 on Sat 24 Oct" in text and "1 new alert for you" in text


def test_never_sent_twice_for_the_same_day_and_person_even_after_a_restart(world, tmp_path):
    world.clock.set(utc(2026, 11, 24, 7, 31))
    assert len(run_digest(world.sessions, world.env, world.config.digest, world.clock())) == 5
    world.clock.set(utc(2026, 11, 24, 23, 59))
    assert run_digest(world.sessions, world.env, world.config.digest, world.clock()) == []
    from monitor.core.db import open_database

    restarted = open_database(world.config.database.url)  # a new process on the same database
    assert run_digest(restarted, world.env, world.config.digest, world.clock()) == []
    assert not digest_due(restarted, world.env, world.config.digest, world.clock())
    restarted.dispose()
    assert len(digests(world)) == 5
    world.clock.set(utc(2026, 11, 25, 7, 30))
    assert len(run_digest(world.sessions, world.env, world.config.digest, world.clock())) == 5
    keys = [r.dedup_key for r in digests(world)]
    assert len(keys) == len(set(keys)) == 10 and keys[0] == "digest:1:1:2026-11-24"


def test_a_new_person_gets_todays_digest_without_repeating_it_for_the_others(world):
    world.clock.set(utc(2026, 11, 24, 8, 0))
    run_digest(world.sessions, world.env, world.config.digest, world.clock())
    with world.sessions.begin() as s:
        from monitor.core.models import Recipient

        s.add(Recipient(setting_id=world.setting_id, name="New Starter", email="new@acorns.example", roles=["deputy"],
                        known_as=[], active=True))
    assert digest_due(world.sessions, world.env, world.config.digest, world.clock())
    assert [t.splitlines()[0] for t in run_digest(world.sessions, world.env, world.config.digest, world.clock())] == ["To: New Starter <new@acorns.example>"]


def polled(world, at: datetime | None) -> None:
    with world.sessions.begin() as s:
        s.execute(update(Account).values(last_success_at=at))


def test_all_quiet_says_how_many_comments_were_checked(world):
    for n in range(4):
        world.add_item(f"lovely photo {n}")
    world.clock.set(utc(2026, 11, 24, 7, 30))
    polled(world, utc(2026, 11, 24, 7, 28))
    text = run_digest(world.sessions, world.env, world.config.digest, world.clock())[0]
    assert "Subject: [nurserywatch] Daily summary: all quiet" in text
    assert "All quiet: 4 comments checked, nothing needed you." in text


def test_digest_counts_by_category_and_platform_and_lists_open_alerts_with_links(world):
    a1 = world.raise_alert("x", [("safeguarding", "high")])
    world.raise_alert("the fees are too high", [("criticism", "low")], platform="google")
    world.raise_alert("rude", [("criticism", "medium")], platform="x")
    world.clock.set(utc(2026, 11, 24, 7, 30))
    by_person = {t.splitlines()[0]: t for t in run_digest(world.sessions, world.env, world.config.digest, world.clock())}
    sam = by_person["To: Sam Patel <sam@acorns.example>"]
    assert "Subject: [nurserywatch] Daily summary: 2 open alerts" in sam
    assert "- Criticism of the setting: 2" in sam and "- Google reviews: 1" in sam and "- X account: 1" in sam
    assert sam.count("https://watch.acorns.example/a/") == 2
    assert "Safeguarding" not in sam  # not his alert
    dana = by_person["To: Dana Lewis <dana@acorns.example>"]
    assert "- Safeguarding concern: 1" in dana and "Criticism" not in dana
    import re

    (token,) = re.findall(r"https://watch\.acorns\.example/a/(\S+)", dana)
    claims = world.env.signer.verify("ack", token)  # her own link to that alert
    assert (claims.alert_id, claims.recipient_id) == (a1, world.people["dana"])


def test_digest_has_no_comment_text_or_author(world):
    world.raise_alert("Lily Smith is scared at nap time", author="Karen Jones")
    world.clock.set(utc(2026, 11, 24, 7, 30))
    for text in run_digest(world.sessions, world.env, world.config.digest, world.clock()):
        assert "Lily" not in text and "Karen" not in text and "scared" not in text


def test_accounts_needing_reconnecting_are_listed(world):
    with world.sessions.begin() as s:
        s.execute(update(Account).values(state=AccountState.needs_reconnect.value))
    world.clock.set(utc(2026, 11, 24, 7, 30))
    text = run_digest(world.sessions, world.env, world.config.digest, world.clock())[4]
    assert "an account needs reconnecting" in text and 'Facebook page "Little Acorns Facebook"' in text


def test_dry_run_queues_nothing_and_works_before_the_time(world):
    world.clock.set(utc(2026, 11, 24, 5, 0))
    out = run_digest(world.sessions, world.env, world.config.digest, world.clock(), dry_run=True)
    assert len(out) == 5 and not digests(world)
    world.clock.set(utc(2026, 11, 24, 8, 0))
    run_digest(world.sessions, world.env, world.config.digest, world.clock(), dry_run=True)
    assert not digests(world) and digest_due(world.sessions, world.env, world.config.digest, world.clock())


def test_disabled_digest_is_never_due(new_world):
    w = new_world(digest={"enabled": False})
    w.clock.set(utc(2026, 11, 24, 8, 0))
    assert not digest_due(w.sessions, w.env, w.config.digest, w.clock()) and run_digest(w.sessions, w.env, w.config.digest, w.clock()) == []


def test_the_admin_is_told_in_the_digest_when_the_pinned_graph_version_nears_its_end(new_world, monkeypatch):
    import alerts.digest

    monkeypatch.setattr(alerts.digest, "GRAPH_VERSION", "v21.0")  # ends 21 January 2027
    w = new_world(start=utc(2026, 11, 30, 7, 30))
    with w.sessions.begin() as s:
        s.execute(update(Account).values(platform="facebook"))
    queued = run_digest(w.sessions, w.env, w.config.digest, w.clock())
    warned = [q.split("\n")[0] for q in queued if "Graph API v21.0 reaches its end of life on 21 January 2027" in q]
    assert warned == ["To: Jo Byrne <jo@acorns.example>"]


@pytest.mark.parametrize("last_good,said", [(None, "last good poll never"),
                                            (utc(2026, 11, 24, 7, 19), "last good poll 07:19 on Tue 24 Nov")])
def test_an_account_with_no_good_poll_in_twice_its_interval_is_named_and_it_is_not_all_quiet(world, last_good, said):
    world.clock.set(utc(2026, 11, 24, 7, 30))  # poll_every is 5 min: 11 minutes is more than twice that
    polled(world, last_good)
    text = run_digest(world.sessions, world.env, world.config.digest, world.clock())[0]
    assert "Subject: [nurserywatch] Daily summary: an account has not been checked" in text
    assert f'- Facebook page "Little Acorns Facebook": {said} (expected every 5 min)' in text
    assert "All quiet" not in text


def test_an_account_polled_within_twice_its_interval_or_waiting_for_reconnection_is_not_called_overdue(world):
    world.clock.set(utc(2026, 11, 24, 7, 30))
    polled(world, utc(2026, 11, 24, 7, 21))
    assert "no good poll" not in run_digest(world.sessions, world.env, world.config.digest, world.clock())[0]
    with world.sessions.begin() as s:
        s.execute(update(Account).values(state=AccountState.needs_reconnect.value, last_success_at=None))
    text = run_digest(world.sessions, world.env, world.config.digest, world.clock(), dry_run=True)[0]
    assert "needs reconnecting" in text and "no good poll" not in text


def test_items_that_could_not_be_read_since_the_last_digest_are_counted_per_account(world):
    world.clock.set(utc(2026, 11, 24, 7, 30))
    polled(world, utc(2026, 11, 24, 7, 28))
    with world.sessions.begin() as s:
        s.execute(update(Account).values(items_unreadable=3, unreadable_at=utc(2026, 11, 23, 22, 0)))
    text = run_digest(world.sessions, world.env, world.config.digest, world.clock())[0]
    assert '- Facebook page "Little Acorns Facebook": 3 items could not be read' in text and "All quiet" not in text
    world.clock.set(utc(2026, 11, 25, 7, 30))  # none since: not repeated the next day
    polled(world, utc(2026, 11, 25, 7, 28))
    text = run_digest(world.sessions, world.env, world.config.digest, world.clock())[0]
    assert "could not be read" not in text and "All quiet" in text


def test_a_new_installation_sends_its_first_digest_at_its_time_listing_the_open_allegation(world):
    """Issue 12: no "all quiet" at start-up while a staff allegation is open; the first digest
    goes out at its time and names what is still open."""
    installed = world.clock()  # 10:00, after today's 07:30
    world.raise_alert("a member of staff hit my son", [("safeguarding", "high")])
    assert not digest_due(world.sessions, world.env, world.config.digest, installed, not_before=installed)
    assert digests(world) == []

    world.clock.set(utc(2026, 11, 24, 7, 31))
    assert digest_due(world.sessions, world.env, world.config.digest, world.clock(), not_before=installed)
    by_person = {t.splitlines()[0]: t for t in run_digest(world.sessions, world.env, world.config.digest, world.clock())}
    dana = by_person["To: Dana Lewis <dana@acorns.example>"]  # the DSL
    assert "all quiet" not in dana.lower() and "Open, not yet acknowledged (1)" in dana
    assert "https://watch.acorns.example/a/" in dana
