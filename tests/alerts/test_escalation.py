"""Escalation of unacknowledged alerts, with a controllable clock."""
from __future__ import annotations

from sqlalchemy import select

from alerts.ack import Actor, acknowledge
from alerts.escalation import run_escalations
from monitor.core.models import Alert, OutboxMessage


def sent(world, alert_id: int) -> list[tuple[str, str, str]]:
    """(to, kind, step) of every email queued for the alert, in order."""
    with world.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert_id).order_by(OutboxMessage.id))
        return [(r.address.split("@")[0], r.kind, r.dedup_key.rsplit(":", 1)[1]) for r in rows]


def ack(world, alert_id: int, who: str) -> bool:
    with world.sessions.begin() as s:
        alert = s.get(Alert, alert_id)
        return acknowledge(s, world.env, alert, Actor(s.get(type(world.recipient(who)), world.people[who]), "127.0.0.1",
                                                      "pytest"), None, world.clock())


def test_nothing_happens_before_the_safeguarding_wait(world):
    alert_id = world.raise_alert("x")
    world.clock.advance(minutes=29, seconds=59)
    assert run_escalations(world.sessions, world.env, world.clock()) == 0
    assert [k for _t, k, _s in sent(world, alert_id)] == ["alert", "alert"]


def test_safeguarding_is_resent_then_escalated_to_deputy_and_manager_then_owner_then_stops(world):
    alert_id = world.raise_alert("x")
    world.clock.advance(minutes=30)
    assert run_escalations(world.sessions, world.env, world.clock()) == 1
    assert sent(world, alert_id)[2:] == [("dana", "reminder", "1"), ("pat", "reminder", "1")]

    assert run_escalations(world.sessions, world.env, world.clock()) == 0  # the next rung is 30 minutes later
    world.clock.advance(minutes=30)
    assert run_escalations(world.sessions, world.env, world.clock()) == 1
    assert sorted(sent(world, alert_id)[4:]) == [("dana", "reminder", "2"), ("pat", "reminder", "2"),
                                                ("sam", "escalation", "2")]
    world.clock.advance(minutes=30)
    assert run_escalations(world.sessions, world.env, world.clock()) == 1
    assert sorted(sent(world, alert_id)[7:]) == [("dana", "reminder", "3"), ("olive", "escalation", "3"),
                                                ("pat", "reminder", "3"), ("sam", "reminder", "3")]
    assert world.alert(alert_id).next_escalation_at is None
    world.clock.advance(hours=5)
    assert run_escalations(world.sessions, world.env, world.clock()) == 0  # bounded by max_steps (3)
    assert len(sent(world, alert_id)) == 11


def test_escalation_never_reaches_the_person_the_allegation_names(world):
    alert_id = world.raise_alert("Mr Sam hit a child")
    for _ in range(3):
        world.clock.advance(minutes=30)
        run_escalations(world.sessions, world.env, world.clock())
    assert "sam" not in {to for to, _k, _s in sent(world, alert_id)}
    assert "olive" in {to for to, _k, _s in sent(world, alert_id)}


def test_acknowledging_stops_escalation(world):
    alert_id = world.raise_alert("x")
    world.clock.advance(minutes=10)
    assert ack(world, alert_id, "dana")
    world.clock.advance(hours=3)
    assert run_escalations(world.sessions, world.env, world.clock()) == 0
    assert [k for _t, k, _s in sent(world, alert_id)] == ["alert", "alert", "ack_notice"]


def test_other_categories_wait_the_longer_configured_time(world):
    alert_id = world.raise_alert("her address is 1 Oak Lane", [("confidentiality", "high")])
    world.clock.advance(hours=3, minutes=59)
    assert run_escalations(world.sessions, world.env, world.clock()) == 0
    world.clock.advance(minutes=1)
    assert run_escalations(world.sessions, world.env, world.clock()) == 1
    assert sent(world, alert_id)[1:] == [("sam", "reminder", "1")]
    world.clock.advance(hours=4)
    run_escalations(world.sessions, world.env, world.clock())
    world.clock.advance(hours=4)
    run_escalations(world.sessions, world.env, world.clock())
    assert ("olive", "escalation", "3") in sent(world, alert_id)


def test_digest_only_alerts_do_not_escalate(world):
    world.raise_alert("the fees are too high", [("criticism", "low")])
    world.clock.advance(days=2)
    assert run_escalations(world.sessions, world.env, world.clock()) == 0


def test_waits_and_max_steps_come_from_config(new_world):
    w = new_world(escalation={"safeguarding_after": "5m", "other_after": "1h", "max_steps": 1})
    alert_id = w.raise_alert("x")
    w.clock.advance(minutes=5)
    assert run_escalations(w.sessions, w.env, w.clock()) == 1
    w.clock.advance(hours=1)
    assert run_escalations(w.sessions, w.env, w.clock()) == 0
    assert [k for _t, k, _s in sent(w, alert_id)] == ["alert", "alert", "reminder", "reminder"]


def test_a_late_run_takes_one_rung_not_all_the_missed_ones(world):
    alert_id = world.raise_alert("x")
    world.clock.advance(hours=6)  # the daemon was down
    assert run_escalations(world.sessions, world.env, world.clock()) == 1
    assert world.alert(alert_id).escalation_step == 1
    assert world.alert(alert_id).next_escalation_at == world.clock() + __import__("datetime").timedelta(minutes=30)


def test_two_workers_never_take_the_same_rung(world):
    alert_id = world.raise_alert("x")
    world.clock.advance(minutes=30)
    assert run_escalations(world.sessions, world.env, world.clock()) + run_escalations(world.sessions, world.env, world.clock()) == 1
    assert world.alert(alert_id).escalation_step == 1


def test_a_worker_holding_a_stale_view_of_the_alert_cannot_take_a_rung_already_taken(world):
    from alerts.escalation import escalate

    alert_id = world.raise_alert("x")
    world.clock.advance(minutes=30)
    with world.sessions() as stale_session:
        stale = stale_session.get(Alert, alert_id)  # read at step 0 by "worker B"
        assert stale.escalation_step == 0
        assert run_escalations(world.sessions, world.env, world.clock()) == 1  # "worker A" takes step 1
        assert escalate(stale_session, world.env, stale, world.clock(), 3) == -1
        stale_session.rollback()
    assert world.alert(alert_id).escalation_step == 1
    assert [k for _t, k, _s in sent(world, alert_id)].count("reminder") == 2
