"""A group's people: the top of a setting's escalation chain, and allegations naming its manager or DSL."""
from __future__ import annotations

import pytest

from alerts.escalation import run_escalations
from alerts.testing import PEOPLE
from tests.alerts.test_escalation import sent

GROUP_PEOPLE = [p for p in PEOPLE if "owner" not in p["roles"]] + [
    {"name": "Ruth Area", "email": "ruth@oakfield.example", "roles": ["area_manager"]},
    {"name": "Grace Safe", "email": "grace@oakfield.example", "roles": ["group_dsl"]},
    {"name": "Olu Owner", "email": "olu@oakfield.example", "roles": ["owner"]},
]


@pytest.fixture
def group_world(new_world):
    return new_world(recipients=GROUP_PEOPLE, escalation={"max_steps": 4})


def climb(world, rungs: int, minutes: int = 30) -> None:
    for _ in range(rungs):
        world.clock.advance(minutes=minutes)
        run_escalations(world.sessions, world.env, world.clock())


def escalated_at(world, alert_id: int) -> dict[str, str]:
    """Who was first told by escalation, and at which step."""
    return {to: step for to, kind, step in sent(world, alert_id) if kind == "escalation"}


def test_an_unacknowledged_safeguarding_alert_goes_to_the_group_people_after_the_settings_own(group_world):
    alert_id = group_world.raise_alert("x")
    climb(group_world, 4)
    assert escalated_at(group_world, alert_id) == {"sam": "2", "ruth": "3", "grace": "3", "olu": "4"}


def test_criticism_reaches_the_area_manager_then_the_owner_not_the_group_dsl(group_world):
    alert_id = group_world.raise_alert("awful place", [("criticism", "high")])
    climb(group_world, 4, minutes=4 * 60)
    assert escalated_at(group_world, alert_id) == {"ruth": "3", "olu": "4"}


def test_a_single_setting_without_group_people_escalates_to_its_owner_at_step_three_as_before(world):
    alert_id = world.raise_alert("x")
    climb(world, 3)
    assert escalated_at(world, alert_id) == {"sam": "2", "olive": "3"}


def test_a_safeguarding_allegation_naming_the_settings_manager_goes_to_the_group_dsl_at_once(group_world):
    alert_id = group_world.raise_alert("Mr Sam hit a child")
    told = {to for to, kind, _ in sent(group_world, alert_id) if kind == "alert"}
    assert "grace" in told and "sam" not in told
    assert "ruth" not in told  # a safeguarding matter: the group's safeguarding lead, not the area manager


def test_a_safeguarding_allegation_naming_the_dsl_goes_to_the_group_dsl_and_never_to_the_dsl(group_world):
    alert_id = group_world.raise_alert("Miss Dana shouted at my child and grabbed his arm")
    told = {to for to, kind, _ in sent(group_world, alert_id) if kind == "alert"}
    assert "grace" in told and "dana" not in told


def test_criticism_naming_the_manager_goes_to_the_area_manager(group_world):
    alert_id = group_world.raise_alert("Mr Sam is rude to every parent", [("criticism", "high")])
    told = {to for to, kind, _ in sent(group_world, alert_id) if kind == "alert"}
    assert "ruth" in told and "sam" not in told and "grace" not in told


def test_a_comment_naming_nobody_stays_with_the_setting(group_world):
    alert_id = group_world.raise_alert("my son has a bruise")
    told = {to for to, kind, _ in sent(group_world, alert_id) if kind == "alert"}
    assert told == {"dana", "pat"}
