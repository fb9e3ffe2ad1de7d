"""What a manager sees of the classifier's evidence: plain reasons only.

Real comments go through the real classifier (every detector and the model),
are stored as the pipeline stores them, and each surface is rendered: the alert
email (text and HTML), the alert page, the record of concern and the digest
(text and HTML). None may show a score, a rule id, a detector or the model's
name; highlights are never function words alone.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.digest import digest_context
from alerts.channels.email.render import render
from alerts.emails import highlight
from alerts.service import alert_context, audience, create_alert
from alerts.testing import make_world
from monitor.core.models import Alert, Finding, Item, Recipient
from monitor.core.settings import RosterConfig, SettingConfig
from monitor.web import WebDeps, create_app
from tests.monitor.test_web import AppClient, link

# (text, platform, rating): together they make every detector and the model fire
COMMENTS = [
    ("Oliver came home with a bruise on his arm and nobody told me", "facebook", None),
    ("Would not go back.", "google", 1),
    ("Her mobile is 07700 900123 and she lives at 12 Oak Road, LS6 2AB", "facebook", None),
    ("Amelia Hart was crying at pick up again, she bit two children", "facebook", None),
    ("Miss Sarah shouted at my son", "facebook", None),
    ("Mój syn ma siniaki na rękach i nikt nic nie powiedział", "facebook", None),
    ("the new manager has changed everything and not for the better", "facebook", None),
    ("Absolutely disgraceful, staff can't be bothered and the fees went up AGAIN", "facebook", None),
]
DETECTORS = {"safeguarding_rules", "criticism_rules", "rating", "pii", "names", "personal_details",
             "named_concern", "foreign_rules", "model"}
NUMBER = re.compile(r"(?<![\d:])[01]\.\d\d?(?!\d)|log-odds|\bscore\b", re.IGNORECASE)
STOP = {"was", "they", "the", "and", "not", "would", "back", "go", "again", "at", "my", "her", "he", "she"}


@pytest.fixture(scope="module")
def classified():
    from classifiers import build_classifier

    setting = SettingConfig(name="Little Acorns Nursery", town="Hadleigh")
    roster = RosterConfig(children=["Amelia Hart", "Oliver Brown"], staff=["Sarah Jones", "Tom Fletcher"],
                          parents=["Laura Hart"], rooms=["Acorns"])
    clf = build_classifier(setting, roster)
    return [(c, clf.classify(c[0], c[1], c[2])) for c in COMMENTS]


def forbidden_words(results) -> set[str]:
    words = {"textcat", "textcat_multilabel", "model:"}
    for _c, result in results:
        for f in result.findings:
            for ev in f.evidence:
                words |= {ev.detector, ev.rule, f"{ev.detector}.{ev.rule}"}
    return {w for w in words if "_" in w or "." in w or w in ("textcat", "pii")}


def shown(body: str) -> str:
    """What a reader can see of a page: its text and its tooltips (not CSS, not link tokens)."""
    body = re.sub(r"<head>.*?</head>|<style.*?</style>", " ", body, flags=re.S | re.I)
    titles = re.findall(r'title="([^"]*)"', body)
    return " ".join([re.sub(r"<[^>]+>|https?://\S+", " ", body), *titles])


def store(world, text: str, platform: str, rating: int | None, result) -> int:
    """Store a comment, its findings and its alert the way the pipeline does."""
    item_id = world.add_item(text, platform=platform)
    with world.sessions.begin() as s:
        item = s.get(Item, item_id)
        item.rating = rating
        for f in result.findings:
            s.add(Finding(setting_id=world.setting_id, item_id=item_id, category=f.category, severity=f.severity,
                          score=f.score, detector=f.detector, evidence=[e.to_json() for e in f.evidence],
                          alerting=f.category in result.labels))
        s.flush()
        s.refresh(item, ["findings"])
        alert = create_alert(s, world.env, item, result, world.clock())
        return alert.id


def test_the_comments_cover_every_detector_and_the_model(classified):
    fired = {ev.detector for _c, r in classified for f in r.findings for ev in f.evidence}
    assert DETECTORS <= fired, f"not exercised: {DETECTORS - fired}"


def test_evidence_carries_fields_and_a_plain_reason(classified):
    for (text, *_), result in classified:
        for f in result.findings:
            for ev in f.evidence:
                assert ev.detector and ev.rule and ev.reason
                assert text[ev.start:ev.end] == ev.text
                assert not NUMBER.search(ev.reason) and "_" not in ev.reason and "textcat" not in ev.reason


def test_highlights_are_never_function_words_alone(classified):
    for (text, *_), result in classified:
        for f in result.findings:
            for ev in f.evidence:
                words = re.findall(r"\w+", ev.text.lower())
                assert not words or any(w not in STOP and len(w) > 2 for w in words), (text, ev.text)


def test_no_surface_shows_a_score_a_rule_id_or_the_model(tmp_path, db_url, classified):
    world = make_world(tmp_path, db_url=db_url)
    try:
        forbidden = forbidden_words(classified)
        ids = [store(world, *c, result) for c, result in classified]
        client = AppClient(create_app(WebDeps(world.sessions, world.env, world.clock)))
        pages: list[tuple[str, str]] = []
        with world.sessions() as s:
            for alert_id in ids:
                alert = s.get(Alert, alert_id)
                for r in audience(s, world.env, alert):
                    subject, text, html = render("alert", alert_context(world.env, alert, alert.item, r))
                    pages += [("email subject", subject), ("email text", text), ("email html", html)]
                first = world.people["dana"] if "safeguarding" in alert.categories else world.people["sam"]
                who = next(k for k, v in world.people.items() if v == first)
                page = client.get(link(world, alert_id, who))
                assert page.status_code == 200
                pages.append(("alert page", page.text))
                if "safeguarding" in alert.categories:
                    record = client.get(link(world, alert_id, who) + "/record")
                    assert record.status_code == 200
                    pages.append(("record of concern", record.text))
            now = world.clock() + timedelta(hours=1)
            audiences = {a.id: {r.id for r in audience(s, world.env, a)} for a in s.scalars(select(Alert))}
            for r in s.scalars(select(Recipient)):
                _subj, text, html = render("digest", digest_context(s, world.env, r, now - timedelta(days=1), now,
                                                                   audiences))
                pages += [("digest text", text), ("digest html", html)]
        assert {kind for kind, _ in pages} >= {"email text", "email html", "alert page", "record of concern",
                                               "digest text", "digest html"}
        for kind, body in pages:
            body = shown(body)
            for word in forbidden:
                assert word not in body, f"{kind} shows {word!r}"
            assert not NUMBER.search(body), f"{kind} shows a score: {NUMBER.search(body).group()!r}"
    finally:
        world.close()


def test_highlight_tooltips_are_the_plain_reasons(classified):
    for (text, *_), result in classified:
        evidence = [ev.to_json() for f in result.findings for ev in f.evidence]
        for seg in highlight(text, evidence):
            if seg.reason:
                assert not NUMBER.search(seg.reason) and "_" not in seg.reason
