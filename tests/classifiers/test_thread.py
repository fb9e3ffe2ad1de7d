"""Thread context: a reply is read with the conversation it answers, within a bound."""
import io
import json

import pytest

from classifiers.thread_input import MAX_CHARS, MAX_ENTRIES, ThreadError, bound, parse_thread
from monitor.cli.classify import classify_stream
from monitor.core.types import Comment, ThreadEntry

POST = ThreadEntry("Sports day photos are up! 🏅", "Willowbrook Day Nursery", True)
CONCERN = ThreadEntry("Miss Sarah grabbed my son by the arm and shouted in his face, he came home with a bruise",
                      "A Parent")
HAPPY = ThreadEntry("Gorgeous photos, the egg and spoon race was brilliant", "A Parent")


def test_an_echo_under_a_safeguarding_concern_carries_it_with_a_plain_reason(rules_clf):
    result = rules_clf.classify("same thing happened to us last week", thread=[POST, CONCERN])
    assert "safeguarding" in result.labels
    [sg] = [f for f in result.findings if f.category == "safeguarding"]
    [ev] = [e for e in sg.evidence if e.detector == "thread"]
    assert ev.reason == "agrees with or adds to an earlier comment that raised a safeguarding concern"
    assert ev.text == "same thing"


def test_the_same_reply_alone_or_under_a_happy_comment_raises_nothing(rules_clf):
    assert rules_clf.classify("same thing happened to us last week").labels == ()
    assert rules_clf.classify("same thing happened to us last week", thread=[POST, HAPPY]).labels == ()


def test_a_short_reply_read_with_its_thread_is_not_marked_too_short(rules_clf):
    alone = rules_clf.classify("she does that")
    assert alone.needs_review and alone.note == "too short to judge"
    assert not rules_clf.classify("she does that", thread=[POST, HAPPY]).needs_review


def test_the_settings_own_reply_is_never_criticism(clf):
    text = "We're so sorry, this is not acceptable and we have complained to our own manager. Disgraceful service."
    assert "criticism" in clf.classify(text).labels
    assert "criticism" not in clf.classify(text, is_setting=True).labels
    assert "criticism" not in clf.classify(text, author="Willowbrook Day Nursery").labels
    assert "criticism" not in clf.classify_batch([Comment(text, "facebook", author="willowbrook")])[0].labels


def test_a_concern_the_settings_own_account_discloses_is_raised_but_its_ordinary_replies_are_not(clf):
    """The combiner learned that the setting's own replies are never safeguarding (no corpus example is).
    One that discloses a concern is raised all the same when the rules and the text model both read it."""
    disclosures = ["Yes he came in with bruises on both arms again this morning, mum says he fell, we've logged it",
                   "She told us her dad hits her when he's been drinking"]
    replies = ["We've passed this to our safeguarding lead and will be in touch privately",
               "So sorry to hear about the bruise, please DM us so we can look into it",
               "All our staff and visitors are DBS checked, thanks for asking"]
    for text in disclosures:
        assert "safeguarding" in clf.classify(text).labels
        assert "safeguarding" in clf.classify(text, is_setting=True).labels, text
    for text in replies:
        assert clf.classify(text, is_setting=True).labels == (), text


def test_the_settings_own_post_in_a_thread_is_not_a_concern_to_echo(rules_clf):
    own = ThreadEntry("Reminder: please tell us if your child has a bruise or injury from home", is_setting=True)
    assert rules_clf.classify("same here", thread=[own]).labels == ()


def test_a_thread_of_1000_items_is_bounded_to_the_post_and_the_last_messages():
    thread = [ThreadEntry(f"message {i}") for i in range(1000)]
    kept = bound(thread)
    assert len(kept) == MAX_ENTRIES
    assert kept[0].text == "message 0" and kept[-1].text == "message 999"
    long = bound([ThreadEntry("x" * 50_000)])
    assert len(long[0].text) == MAX_CHARS


def test_a_thread_of_1000_items_reads_no_more_than_the_bound(rules_clf, monkeypatch):
    judged: list[str] = []
    real = rules_clf.thread._judge
    monkeypatch.setattr(rules_clf.thread, "_judge", lambda text: judged.append(text) or real(text))
    rules_clf.thread._cache.clear()
    thread = [ThreadEntry(f"filler message number {i}") for i in range(999)] + [CONCERN]
    long = rules_clf.classify("same thing happened to us", thread=thread)
    assert len(judged) <= MAX_ENTRIES
    assert long.labels == rules_clf.classify("same thing happened to us", thread=bound(thread)).labels


@pytest.mark.parametrize("raw, message", [
    ("not a list", '"thread" must be a list'),
    ([1], "thread[0] must be a string or an object"),
    ([{"author": "x"}], 'thread[0]: "text" must be a string'),
    (["ok", {"text": "a", "is_setting": "yes"}], 'thread[1]: "is_setting" must be true or false'),
    ([{"text": "a", "author": 7}], 'thread[0]: "author" must be a string'),
])
def test_a_malformed_thread_is_refused_with_a_message_naming_the_entry(raw, message):
    with pytest.raises(ThreadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_thread(raw)


def test_the_classify_contract_takes_a_thread_and_reports_a_malformed_one_on_its_line(clf):
    lines = [
        json.dumps({"id": "1", "text": "same thing happened to us",
                    "thread": [POST.text, {"text": CONCERN.text, "author": "A Parent"}]}),
        json.dumps({"id": "2", "text": "x", "thread": [{"text": 5}]}),
        json.dumps({"id": "3", "text": "Would not go back", "platform": "google", "rating": 1}),
        json.dumps({"id": "4", "text": "x", "rating": 9}),
        json.dumps({"id": "5", "text": "x", "thread": ["m"] * 1000}),
    ]
    out = io.StringIO()
    failed = classify_stream(clf, lines, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert failed == 2 and [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert "safeguarding" in rows[0]["labels"]
    assert rows[1]["error"] == 'thread[0]: "text" must be a string'
    assert "criticism" in rows[2]["labels"]
    assert "rating" in rows[3]["error"]
    assert "error" not in rows[4]
