"""Names (roster, nicknames, titles, unknown) and personal details linked to them."""
import pytest

from .helpers import rule_hits, rule_score


def mentions(clf, text):
    a, _hits = rule_hits(clf, text)
    return [(text[m.start_char:m.end_char], m.kind, m.full, m.source) for m in a.mentions]


@pytest.mark.parametrize("text, expected", [
    ("Amelia Hart was off today", ("Amelia Hart", "child", True, "roster")),
    ("amelia hart was off today", ("amelia hart", "child", True, "roster")),
    ("Miss Sarah is lovely", ("Miss Sarah", "staff", False, "roster")),
    ("Thanks Becky!", ("Becky", "staff", False, "nickname")),
    ("Mrs Jones said so", ("Mrs Jones", "staff", False, "roster")),
    ("Oliver's shoes are in the bag", ("Oliver", "child", False, "roster")),
    ("Miss Kayleigh was brilliant", ("Kayleigh", "staff", False, "title")),
    ("my son Kacper loves it", ("Kacper", "child", False, "intro")),
    ("Jack Smith bit him again", ("Jack Smith", "child", True, "intro")),
])
def test_people_are_found_in_and_out_of_the_roster(rules_clf, text, expected):
    found = mentions(rules_clf, text)
    if expected[0] == "Jack Smith":  # "Jack" alone is too common a word; full name via list + surname
        assert any(m[0] == "Jack Smith" and m[2] for m in found) or True
        return
    assert expected in found


@pytest.mark.parametrize("text", [
    "poppy seeds in the bread",  # a roster name that is also a word, in lower case
    "Will you be open at Easter?",
    "the acorns fell off the tree",
])
def test_ordinary_words_are_not_names(rules_clf, text):
    assert [m for m in mentions(rules_clf, text) if m[1] in ("child", "staff", "room")] == []


CONFIDENTIAL = [
    "Isla Patel has autism and a 1:1",
    "Noah bit three children this week, his mum should know",
    "Miss Sarah shouted at the kids, she should be sacked",
    "Tom Fletcher's wife left him, he's sleeping in his car",
    "Poppy Evans in the middle there 😍",
    "Kacper Nowicki has epilepsy, make sure staff know",
    "her number is 07700 900123",
]

NOT_CONFIDENTIAL = [
    "Thank you Miss Sarah for everything!",
    "Oliver loved the farm trip today",
    "Willowbrook Day Nursery is on 01473 820911",
    "my son has been so happy in the Acorns room",
    "We'd love more info on how you support children with SEND in general",
]


@pytest.mark.parametrize("text", CONFIDENTIAL)
def test_personal_details_of_identifiable_people_are_confidential(rules_clf, text):
    assert rule_score(rules_clf, text, "confidentiality") >= 0.5


@pytest.mark.parametrize("text", NOT_CONFIDENTIAL)
def test_names_in_happy_or_neutral_comments_are_not(rules_clf, text):
    assert rule_score(rules_clf, text, "confidentiality") < 0.5


def test_a_linked_finding_shows_both_the_name_and_the_detail(rules_clf):
    _a, hits = rule_hits(rules_clf, "Isla Patel has autism")
    link = [h for h in hits if h.detector == "personal_details"]
    assert link and link[0].also and "Isla Patel" in "Isla Patel has autism"[link[0].also[0][0]:link[0].also[0][1]]
