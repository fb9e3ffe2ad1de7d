"""Obfuscation is undone before the rules read a comment; evidence still shows what was written."""
import pytest

from classifiers.normalise import Normaliser


@pytest.mark.parametrize("text, shown", [
    ("she came home with a b r u i s e on her arm", "b r u i s e"),
    ("she came home with a b.r.u.i.s.e on her arm", "b.r.u.i.s.e"),
    ("my son said the new lady h1t him", "h1t"),
    ("her dad 👊 her", "👊"),
])
def test_obfuscated_concerns_are_found_and_the_evidence_shows_the_original_text(rules_clf, text, shown):
    result = rules_clf.classify(text)
    assert "safeguarding" in result.labels
    evidence = [e for f in result.findings for e in f.evidence]
    assert any(shown in e.text for e in evidence)
    assert all(text[e.start:e.end] == e.text for e in evidence)


def test_leetspeak_and_stretched_words_read_as_the_words_they_hide(rules_clf):
    assert "criticism" in rules_clf.classify("absolutely d1sgusting, staff are $h!t").labels
    assert "criticism" in rules_clf.classify("worst nurseryyyy everrrr").labels


def test_times_dates_and_texting_shorthand_are_left_alone():
    n = Normaliser()
    assert n.edits("see you at 3pm on the 2nd, b4 lunch, call 07700 900123, room 1a") == []


def test_a_comment_with_nothing_obfuscated_is_not_touched():
    n = Normaliser()
    assert n.edits("Lovely photos from sports day, thank you!") == []
    assert not n.worth_a_look("Lovely photos from sports day, thank you!")
