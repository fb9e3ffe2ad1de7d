"""Criticism rules and star ratings (rules only)."""
import pytest

from .helpers import rule_score

POSITIVE = [
    ("Absolutely disgusting service, the staff are rude and unprofessional", None),
    ("Still waiting for a reply to my email from three weeks ago. Fobbed off again", None),
    ("We're pulling our daughter out at the end of the month", None),
    ("Fees up AGAIN, love that for us 🙃", None),
    ("Would not recommend. Avoid.", None),
    ("Okay I suppose.", 1),
    ("The staff were fine", 2),
    ("communication is non-existent and the food is cold", None),
]

HARD_NEGATIVE = [
    ("Can't fault them, amazing staff", None),
    ("Terrible weather for sports day but the kids loved it", None),
    ("Is it possible to have the menu for next week? Just wondering", None),
    ("The council need to sort the potholes on Mill Lane, absolute joke", None),
    ("Lovely nursery, my son is thriving", 5),
    ("We moved from another nursery that was honestly awful", None),
    ("Not disappointed at all, they were brilliant", None),
]


@pytest.mark.parametrize("text, rating", POSITIVE)
def test_criticism_rules_fire_on_complaints(rules_clf, text, rating):
    assert rule_score(rules_clf, text, "criticism", rating) >= 0.5


@pytest.mark.parametrize("text, rating", HARD_NEGATIVE)
def test_criticism_rules_stay_quiet_on_praise_and_other_targets(rules_clf, text, rating):
    assert rule_score(rules_clf, text, "criticism", rating) < 0.5


def test_three_stars_alone_are_not_criticism(rules_clf):
    assert rule_score(rules_clf, "It's fine.", "criticism", 3) < 0.5


def test_three_stars_with_critical_words_are(rules_clf):
    assert rule_score(rules_clf, "Staff are rude at the door.", "criticism", 3) >= 0.5


def test_angry_or_thumbs_down_emoji_in_a_row_are_criticism_on_their_own_but_one_is_not(rules_clf, clf):
    for text in ("👎👎", "😡😡😡", "🙄 🙄"):
        assert rule_score(rules_clf, text, "criticism") >= 0.5
        assert "criticism" in clf.classify(text, "facebook").labels  # no word for the model: the rules decide
    assert rule_score(rules_clf, "👎", "criticism") < 0.5
    assert rule_score(rules_clf, "🤢🤢", "criticism") < 0.5  # disgust, as often at threadworms as at us
