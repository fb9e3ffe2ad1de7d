"""Routing: the tree from config, and who an alert goes to (named-staff rule)."""
from __future__ import annotations

from sqlalchemy import select

from alerts.routing import DEFAULT_ROUTES, Decision, Subject, route
from alerts.service import choose_recipients
from monitor.core.models import Alert, OutboxMessage, Recipient
from monitor.core.settings import RouteConfig, config_from_dict


def routes_from(toml_like: list[dict]) -> list[RouteConfig]:
    return list(config_from_dict({"setting": {"name": "x"}, "routes": toml_like}).routes)


def emailed(world, alert_id: int) -> set[str]:
    with world.sessions() as s:
        return set(s.scalars(select(OutboxMessage.address).where(OutboxMessage.alert_id == alert_id)))


def test_defaults_send_safeguarding_at_once_to_dsl_and_deputy():
    assert route(DEFAULT_ROUTES, Subject("safeguarding", "medium", "facebook")) == [
        Decision(frozenset({"dsl", "deputy"}), "immediate")
    ]


def test_defaults_send_confidentiality_at_once_to_the_manager():
    assert route([], Subject("confidentiality", "low", "google")) == [Decision(frozenset({"manager"}), "immediate")]


def test_defaults_put_mild_criticism_in_the_digest_and_severe_criticism_out_at_once():
    assert route([], Subject("criticism", "medium", "x")) == [Decision(frozenset({"manager"}), "digest")]
    assert route([], Subject("criticism", "high", "x")) == [Decision(frozenset({"manager"}), "immediate")]


def test_first_match_wins_unless_continue():
    routes = routes_from([
        {"match": {"platform": ["google"]}, "to": ["owner"]},
        {"match": {"category": ["criticism"]}, "to": ["manager"]},
    ])
    assert route(routes, Subject("criticism", "low", "google")) == [Decision(frozenset({"owner"}), "immediate")]
    routes = routes_from([
        {"match": {"platform": ["google"]}, "to": ["owner"], "continue": True},
        {"match": {"category": ["criticism"]}, "to": ["manager"], "when": "digest"},
    ])
    assert route(routes, Subject("criticism", "low", "google")) == [
        Decision(frozenset({"owner"}), "immediate"), Decision(frozenset({"manager"}), "digest")
    ]


def test_children_inherit_to_and_when_and_a_parent_applies_when_no_child_matches():
    routes = routes_from([
        {"match": {"category": ["criticism"]}, "to": ["manager"], "when": "digest",
         "routes": [{"match": {"platform": ["google"]}, "when": "immediate"}]},
    ])
    assert route(routes, Subject("criticism", "low", "google")) == [Decision(frozenset({"manager"}), "immediate")]
    assert route(routes, Subject("criticism", "low", "facebook")) == [Decision(frozenset({"manager"}), "digest")]


def test_unmatched_subject_routes_nowhere():
    routes = routes_from([{"match": {"category": ["safeguarding"]}, "to": ["dsl"]}])
    assert route(routes, Subject("criticism", "high", "x")) == []


def test_one_alert_per_item_carries_all_its_categories(world):
    alert_id = world.raise_alert("text", [("criticism", "high"), ("safeguarding", "high"), ("confidentiality", "low")])
    with world.sessions() as s:
        alerts = s.scalars(select(Alert)).all()
    assert len(alerts) == 1 and alerts[0].id == alert_id
    assert alerts[0].categories == ["safeguarding", "confidentiality", "criticism"]
    assert emailed(world, alert_id) == {"dana@acorns.example", "pat@acorns.example", "sam@acorns.example"}


def test_safeguarding_goes_to_dsl_and_deputy_only(world):
    alert_id = world.raise_alert("a child said something worrying")
    assert emailed(world, alert_id) == {"dana@acorns.example", "pat@acorns.example"}


def test_mild_criticism_emails_nobody_at_once_and_is_marked_for_the_digest(world):
    alert_id = world.raise_alert("the fees are too high", [("criticism", "medium")])
    assert emailed(world, alert_id) == set()
    assert world.alert(alert_id).delivery == "digest"
    assert world.alert(alert_id).next_escalation_at is None


def test_an_allegation_never_goes_to_the_staff_member_it_names(world):
    alert_id = world.raise_alert("Pat Okafor shouted at my daughter")
    assert "pat@acorns.example" not in emailed(world, alert_id)
    assert "dana@acorns.example" in emailed(world, alert_id)


def test_naming_the_dsl_by_the_name_she_is_known_by_sends_it_to_the_manager_and_owner(world):
    alert_id = world.raise_alert("miss dana grabbed my son by the arm")
    assert emailed(world, alert_id) == {"pat@acorns.example", "sam@acorns.example", "olive@acorns.example"}


def test_naming_the_manager_in_criticism_sends_it_to_the_dsl_and_owner(world):
    alert_id = world.raise_alert("Mr Sam ignores every complaint", [("criticism", "high")])
    assert emailed(world, alert_id) == {"dana@acorns.example", "olive@acorns.example"}


def test_a_name_inside_another_word_is_not_a_mention(world):
    alert_id = world.raise_alert("Samantha was upset at pickup", [("criticism", "high")])
    assert emailed(world, alert_id) == {"sam@acorns.example"}


def test_when_everyone_routed_is_named_the_owner_is_told(world):
    alert_id = world.raise_alert("Dana and Pat and Sam all hurt children")
    assert emailed(world, alert_id) == {"olive@acorns.example"}


def test_owner_role_can_be_routed_to_directly(new_world):
    
    w = new_world(routes=[{"match": {"category": ["confidentiality"]}, "to": ["owner", "manager"]}])
    alert_id = w.raise_alert("her address is 1 Oak Lane", [("confidentiality", "medium")])
    assert emailed(w, alert_id) == {"olive@acorns.example", "sam@acorns.example"}


def test_inactive_recipients_are_never_chosen():
    people = [Recipient(id=1, name="Dana Lewis", email="d@x", roles=["dsl"], known_as=[], active=False),
              Recipient(id=2, name="Pat Okafor", email="p@x", roles=["deputy"], known_as=[], active=True)]
    assert [r.id for r in choose_recipients(people, {"dsl", "deputy"}, "hello", ["safeguarding"])] == [2]


def test_raising_the_same_item_twice_gives_the_same_alert_and_no_new_email(world):
    from alerts.service import create_alert
    from monitor.core.models import Item
    from monitor.core.types import Classification, Finding

    alert_id = world.raise_alert("a worrying comment")
    with world.sessions.begin() as s:
        alert = s.get(Alert, alert_id)
        again = create_alert(s, world.env, s.get(Item, alert.item_id),
                             Classification(("safeguarding",), (Finding("safeguarding", "high", 0.9),)), world.clock())
        assert again.id == alert_id
    with world.sessions() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == 2
