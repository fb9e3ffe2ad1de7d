"""Teaching from the web app: missed comments, phrase rules, and the pipeline
applying a setting's phrases on the next cycle (without touching package files)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from alerts.testing import make_world
from monitor.core.models import Alert, Item
from monitor.core.types import Classification, CycleReport, Evidence, Finding
from monitor.core.webmodels import LabelledExample, PhraseRule
from monitor.phrase_rules import PhraseRules, phrase_pattern
from monitor.pipeline import classify_pending
from monitor.runtime import Runtime
from tests.monitor.webapp_helpers import client_for, post_form, sign_in


class KeywordClassifier:
    """Flags any comment with "smack" as safeguarding, like an over-eager rule."""

    def classify_batch(self, items):
        out = []
        for text, *_ in items:
            i = text.lower().find("smack")
            if i < 0:
                out.append(Classification())
                continue
            ev = (Evidence(i, i + 5, text[i:i + 5], "words about hitting a child"),)
            out.append(Classification(("safeguarding",), (Finding("safeguarding", "high", 0.9, ev, "rules"),)))
        return out


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


@pytest.fixture
def dana(world):
    with client_for(world) as c:
        yield sign_in(c, world, "dana")


def runtime(world) -> Runtime:
    return Runtime(config=world.config, sessions=world.sessions, setting_id=world.setting_id,
                   make_classifier=KeywordClassifier, transport=None, alert_env=world.env, http=None, clock=world.clock)


def next_cycle(world, *texts: str) -> list[Alert | None]:
    ids = [world.add_item(t, classified=False) for t in texts]
    classify_pending(runtime(world), CycleReport())
    with world.sessions() as s:
        return [s.scalar(select(Alert).where(Alert.item_id == i)) for i in ids]


def test_a_never_phrase_added_on_the_page_stops_alerts_from_the_next_cycle(world, dana):
    assert next_cycle(world, "Smack Lane park was lovely today")[0] is not None
    r = post_form(dana, "/phrases", "/phrases", {"phrase": "  Smack   LANE ", "label": "safeguarding", "action": "never"})
    assert r.status_code == 200 and "smack lane" in r.text
    quiet, still = next_cycle(world, "We met at smack lane again", "Staff smack the children")
    assert quiet is None and still is not None
    with world.sessions() as s:
        item = s.scalar(select(Item).where(Item.text == "We met at smack lane again"))
        assert item.classified_at is not None and [f.alerting for f in item.findings] == [False]


def test_an_always_phrase_raises_the_label_with_the_phrase_as_evidence(world, dana):
    post_form(dana, "/phrases", "/phrases", {"phrase": "the back gate", "label": "safeguarding", "action": "always"})
    alert = next_cycle(world, "Someone left THE BACK GATE open again")[0]
    assert alert is not None and alert.categories == ["safeguarding"]
    page = dana.get(f"/alerts/{alert.id}").text
    assert "<mark" in page and "THE BACK GATE" in page and "a phrase your setting asked to always flag" in page


def test_a_phrase_matches_whole_words_only():
    rules = PhraseRules(never=(("safeguarding", phrase_pattern("oak")),))
    flagged = Classification(("safeguarding",), ())
    assert rules.apply("Oak park trip", flagged).labels == ()
    assert rules.apply("Oakley hit him", flagged).labels == ("safeguarding",)


def test_removing_a_phrase_restores_alerts(world, dana):
    post_form(dana, "/phrases", "/phrases", {"phrase": "smack lane", "label": "safeguarding", "action": "never"})
    with world.sessions() as s:
        rule_id = s.scalar(select(PhraseRule.id))
    assert post_form(dana, "/phrases", f"/phrases/{rule_id}/delete").status_code == 200
    assert next_cycle(world, "Smack Lane park")[0] is not None


def test_a_bad_phrase_is_refused_with_a_reason(world, dana):
    r = post_form(dana, "/phrases", "/phrases", {"phrase": "x", "label": "safeguarding", "action": "never"})
    assert r.status_code == 400 and "two letters or more" in r.text
    r = post_form(dana, "/phrases", "/phrases", {"phrase": "oak park", "label": "gossip", "action": "never"})
    assert r.status_code == 400


def test_this_needed_a_human_keeps_a_missed_comment_as_a_labelled_example(world, dana):
    missed = world.add_item("He keeps coming home hungry and in the same clothes")
    page = dana.get("/comments").text
    assert "coming home hungry" in page
    refused = post_form(dana, "/comments", f"/comments/{missed}/needed")
    assert refused.status_code == 400
    r = post_form(dana, "/comments", f"/comments/{missed}/needed", {"label": "safeguarding"})
    assert r.status_code == 200 and "Marked as needing a human (safeguarding)" in r.text
    with world.sessions() as s:
        example = s.scalar(select(LabelledExample))
        assert (example.source, example.labels, example.item_id) == ("needed_human", ["safeguarding"], missed)


def test_missed_comments_leave_out_alerts_and_what_names_the_viewer(world, dana):
    world.raise_alert("Alerted already about a bruise")
    world.add_item("Miss Dana was rough with my son")
    world.add_item("Lovely nativity play")
    page = dana.get("/comments").text
    assert "Lovely nativity play" in page
    assert "Alerted already" not in page and "rough with my son" not in page
