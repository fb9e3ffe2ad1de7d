"""A text over 1,000,000 characters: its start and end are classified, a
disclosure in them raises the safeguarding alert, and the record says the text
was cut (it used to be only "needs review", which reaches nobody but the digest)."""
from __future__ import annotations

import asyncio
import io
import json

import pytest
from sqlalchemy import select

from monitor.cli.classify import classify_stream
from monitor.core.models import Alert, Item
from monitor.long_text import GAP, LIMIT, Cut, shorten
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime

DISCLOSURE = "My daughter Amelia told me that a member of staff hit her and touched her private parts at nursery."
FILLER = "We had a lovely day at the park with the children and the weather was fine. "


def long_text(where: str, size: int = 1_200_000) -> str:
    filler = (FILLER * (size // len(FILLER) + 1))[: size - len(DISCLOSURE) - (2 if where == "middle" else 1)]
    if where == "end":
        return filler + " " + DISCLOSURE
    if where == "start":
        return DISCLOSURE + " " + filler
    half = len(filler) // 2
    return filler[:half] + " " + DISCLOSURE + " " + filler[half:]


def test_a_text_at_the_limit_is_read_whole_and_a_longer_one_by_two_windows_cut_at_spaces():
    assert shorten("word " * (LIMIT // 5)) == ("word " * (LIMIT // 5), None)
    text = long_text("end")
    short, cut = shorten(text)
    assert len(short) <= LIMIT and cut.length == len(text)
    assert short == text[:cut.head] + GAP + text[cut.tail:]
    assert text[cut.head] == " " and text[cut.tail - 1] == " "  # no word split
    assert cut.where(5) == 5 and cut.where(len(short)) == len(text)
    assert cut.where(cut.head + len(GAP) + 3) == cut.tail + 3
    assert "1,200,000 characters long" in cut.note


@pytest.fixture(scope="module")
def classifier():
    from classifiers import build_classifier
    from monitor.core.settings import RosterConfig, SettingConfig

    return build_classifier(SettingConfig(name="Willowbrook Day Nursery"),
                            RosterConfig(children=["Amelia Hart"], staff=["Sarah Jones"]))


@pytest.mark.parametrize("where", ["start", "end"])
def test_classify_finds_a_disclosure_at_either_end_of_a_huge_text_and_says_it_was_cut(classifier, where):
    text = long_text(where)
    out = io.StringIO()
    lines = [json.dumps({"id": "big", "text": text}), json.dumps({"id": "small", "text": "see you tomorrow"})]
    assert classify_stream(classifier, lines, out) == 0
    big, small = (json.loads(line) for line in out.getvalue().splitlines())
    assert "safeguarding" in big["labels"] and small["labels"] == []
    assert big["needs_review"] and "1,200,000 characters long" in big["note"]
    (finding,) = [f for f in big["findings"] if f["category"] == "safeguarding"]
    spans = [e for e in finding["evidence"] if e["end"] > e["start"]]
    assert spans and all(text[e["start"]:e["end"]] == e["text"] for e in spans)  # offsets into the whole text
    assert any(e["detector"] == "long_text" and "only its first" in e["reason"] for e in finding["evidence"])


def test_a_disclosure_in_the_unread_middle_is_still_put_in_front_of_a_person(classifier):
    out = io.StringIO()
    classify_stream(classifier, [json.dumps({"id": "big", "text": long_text("middle")})], out)
    result = json.loads(out.getvalue())
    assert "error" not in result and result["needs_review"] and "a person must read the rest" in result["note"]


def test_the_pipeline_alerts_the_dsl_on_a_disclosure_at_the_end_of_a_huge_comment(
        make_config, smtp_server, sessions, clock):
    rt = build_runtime(make_config(smtp_port=smtp_server.port), clock=clock, sessions=sessions)
    try:
        asyncio.run(run_cycle(rt))
        text = long_text("end")
        with sessions.begin() as s:
            first = s.scalars(select(Item).order_by(Item.id)).first()
            s.add(Item(setting_id=first.setting_id, account_id=first.account_id, platform=first.platform,
                       external_id="huge-1", kind="comment", text=text, created_at=clock(), fetched_at=clock()))
        before = len(smtp_server.handler.messages)
        asyncio.run(run_cycle(rt))
    finally:
        asyncio.run(rt.aclose())
    with sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == "huge-1"))
        alert = s.scalar(select(Alert).where(Alert.item_id == item.id))
        assert alert is not None and "safeguarding" in alert.categories and item.needs_review
        evidence = [e for f in item.findings if f.category == "safeguarding" for e in f.evidence]
        assert any(e["detector"] == "long_text" for e in evidence)
        assert all(text[e["start"]:e["end"]] == e["text"] for e in evidence)
    mails = [m for _f, _t, m in smtp_server.handler.messages[before:]]
    to_dsl = [m for m in mails if m["To"] == "dsl@example.org" and "Safeguarding" in m["Subject"]]
    assert to_dsl
    assert "only its first" in to_dsl[0].get_body(("plain",)).get_content()


def test_cut_maps_an_offset_inside_the_gap_to_the_start_of_the_tail():
    cut = Cut(length=2_000_000, head=499_990, tail=1_500_010)
    assert cut.where(499_990 + 2) == 1_500_010
