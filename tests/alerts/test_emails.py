"""The alert email: private subject, escaped HTML, safe headers, evidence, policy, threading."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_string, policy

from sqlalchemy import select

from alerts.channels.base import Message
from alerts.channels.email.render import build_email
from alerts.emails import highlight, safe_url
from alerts.testing import email_of, raw_of
from monitor.core.models import OutboxMessage

SCRIPT = 'Miss Dana <script>alert("x")</script> hurt <b>Lily</b> & nobody cares'


def queued(world, **where) -> list:
    with world.sessions() as s:
        rows = s.scalars(select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)).all()
    return [email_of(r) for r in rows]


def parts(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_subject_carries_no_names_and_no_comment_text(world):
    world.raise_alert("Lily Smith told Pat she is scared of Tom Brown", author="Karen Jones",
                      evidence="scared of Tom Brown")
    for msg in queued(world):
        assert msg["Subject"] == "[nurserywatch] Safeguarding concern on your Facebook page"
        for word in ("Lily", "Pat", "Tom", "Karen", "scared"):
            assert word not in msg["Subject"]


def test_subject_counts_further_categories_without_naming_them(world):
    world.raise_alert("x", [("safeguarding", "high"), ("confidentiality", "high")])
    assert queued(world)[0]["Subject"] == "[nurserywatch] Safeguarding concern (+1 more) on your Facebook page"


def test_html_part_escapes_a_comment_containing_script(world):
    world.raise_alert(SCRIPT, evidence="<script>", author='<img src=x onerror="steal()">')
    text, html = parts(queued(world)[0])
    assert "<script>" not in html and "<b>Lily</b>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;Lily&lt;/b&gt;" in html and "&amp; nobody" in html
    assert '»<script>«alert("x")</script> hurt <b>Lily</b> &' in text  # plain text stays verbatim


def test_header_injection_in_author_or_text_stays_out_of_the_headers(world):
    world.raise_alert("hello\r\nBcc: victim@evil.example\r\n\r\nbody", author="Eve\r\nBcc: spy@evil.example")
    raw = None
    with world.sessions() as s:
        raw = raw_of(s.scalars(select(OutboxMessage)).first())
    head = raw.split("\r\n\r\n", 1)[0] if "\r\n\r\n" in raw else raw.split("\n\n", 1)[0]
    assert "Bcc" not in head and "evil.example" not in head
    assert message_from_string(raw, policy=policy.default)["Bcc"] is None


def test_a_header_value_with_line_breaks_is_flattened():
    msg = build_email(Message(id=1, kind="ack_notice", channel="email", template="ack_notice",
                              address="c@d.example\r\nBcc: e@evil.example",
                              context={"by_name": "x", "when": "now", "categories": ["criticism"], "platform": "x",
                                       "setting_name": "s"}, created_at=datetime.now(timezone.utc)), "a@b.example")
    assert msg["Bcc"] is None and "\n" not in str(msg["To"])


def test_evidence_is_highlighted_in_both_parts(world):
    world.raise_alert("I saw her hit the boy today", evidence="hit the boy", reason="physical harm")
    text, html = parts(queued(world)[0])
    assert "»hit the boy«" in text
    assert '<mark style="background:#fde68a;color:#111827;padding:0 2px;" title="physical harm">hit the boy</mark>' in html


def test_highlight_merges_overlapping_evidence():
    segs = highlight("abcdefgh", [{"start": 1, "end": 4, "reason": "a", "detector": "x"},
                                  {"start": 3, "end": 6, "reason": "b", "detector": "y"}])
    assert [(s.text, s.reason) for s in segs] == [("a", None), ("bcdef", "a; b"), ("gh", None)]


def test_body_has_platform_author_reason_link_policy_and_ack_link(world):
    alert_id = world.raise_alert("her address is 1 Oak Lane", [("confidentiality", "medium")],
                                 evidence="1 Oak Lane", reason="home address", author="Kim P")
    text, html = parts(queued(world)[0])
    for fragment in ("Facebook page", "Kim P", "home address", "https://facebook.com/1001/posts/1?comment_id=9",
                     "Hide the comment on the platform", f"https://watch.acorns.example/a/"):
        assert fragment in text and fragment in html.replace("&amp;", "&")
    assert "LADO" not in text  # safeguarding policy only where it applies


def test_reasons_are_the_evidence_plain_reason_and_never_its_rule_or_scores(world):
    world.raise_alert("there was a man at the fence", [("safeguarding", "high")], evidence="man at the fence",
                      reason="an adult showing interest in the children", detector="safeguarding_rules",
                      rule="adult_interest", scores={"before": 0.85, "after": 0.85})
    text, html = parts(queued(world)[0])
    for part in (text, html):
        assert 'an adult showing interest in the children: "man at the fence"' in part.replace("&#34;", '"')
        assert "safeguarding_rules" not in part and "adult_interest" not in part and "0.85" not in part


def test_evidence_stored_before_it_had_fields_shows_the_category_not_the_engineers_sentence():
    old = {"start": 0, "end": 3, "text": "man", "reason": "safeguarding_rules.adult_interest: an adult; score 0.85"}
    [seg, _rest] = highlight("man at the fence", [old])
    assert seg.text == "man" and "safeguarding_rules" not in seg.reason and "0.85" not in seg.reason


def test_the_lado_route_follows_evidence_about_staff_not_the_words_of_a_reason(world):
    world.raise_alert("Kayleigh grabbed my son", evidence="Kayleigh", reason="a staff member's name", about="staff")
    text, _ = parts(queued(world)[0])
    assert "ALLEGATION ABOUT A MEMBER OF STAFF" in text


def test_a_reason_that_mentions_staff_does_not_make_an_allegation_about_a_named_person(world):
    world.raise_alert("someone grabbed my son", evidence="grabbed my son", reason="staff physically rough with a child")
    text, _ = parts(queued(world)[0])
    assert "ALLEGATION ABOUT A MEMBER OF STAFF" not in text


def test_safeguarding_body_gives_the_safeguarding_policy_and_lado_route_when_staff_are_named(world):
    world.raise_alert("Miss Dana grabbed my son")
    text, _ = parts(queued(world)[0])
    assert "Do not reply publicly" in text and "call 999" in text
    assert "LADO within one working day" in text and "Ofsted within 14 days" in text
    assert "ALLEGATION ABOUT A MEMBER OF STAFF" in text


def test_a_dangerous_permalink_is_not_linked(world):
    world.raise_alert("x", permalink="javascript:alert(1)")
    text, html = parts(queued(world)[0])
    assert "javascript:" not in html and "javascript:" not in text
    assert safe_url("https://ok.example/a?b=1") == "https://ok.example/a?b=1"
    assert safe_url('https://x.example/"onmouseover=') is None


def test_the_html_uses_inline_styles_not_a_stylesheet(world):
    world.raise_alert("x")
    _, html = parts(queued(world)[0])
    assert "<style" not in html and "<link" not in html and 'style="' in html


def test_each_message_is_multipart_text_then_html(world):
    world.raise_alert("x")
    msg = queued(world)[0]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Auto-Submitted"] == "auto-generated"


def test_first_email_carries_the_alerts_message_id_and_follow_ups_thread_under_it(world):
    from alerts.escalation import run_escalations

    alert_id = world.raise_alert("x")
    first = queued(world, kind="alert")[0]
    root = world.alert(alert_id).message_id
    assert first["Message-ID"] == root and first["In-Reply-To"] is None
    world.clock.advance(minutes=31)
    run_escalations(world.sessions, world.env, world.clock())
    reminder = queued(world, kind="reminder")[0]
    assert reminder["Message-ID"] != root
    assert reminder["In-Reply-To"] == root and reminder["References"] == root
    assert reminder["Subject"] == "Re: " + first["Subject"]
