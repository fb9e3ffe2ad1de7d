"""Context handling, the named-concern link, language and too-short review."""
import pytest

from .helpers import rule_hits, rule_score


@pytest.mark.parametrize("text", [
    "If a child ever got out of the gate, what would you do?",
    "Do you have a policy on bruises from home?",
    "The staff did their safeguarding training today",
])
def test_hypotheticals_and_training_damp_safeguarding(rules_clf, text):
    assert rule_score(rules_clf, text, "safeguarding") < 0.5


def test_a_named_child_in_a_safeguarding_comment_is_also_confidential(rules_clf):
    text = "Noticed Theo has bruises on his arms again and nobody told his nan"
    _a, hits = rule_hits(rules_clf, text)
    linked = [h for h in hits if h.detector == "named_concern"]
    assert linked and linked[0].label == "confidentiality"
    assert rule_score(rules_clf, text, "confidentiality") >= 0.5


def test_an_unnamed_safeguarding_comment_is_not_confidential(rules_clf):
    assert rule_score(rules_clf, "my son came home with a bruise and nobody told me", "confidentiality") < 0.5


@pytest.mark.parametrize("text, lang", [
    ("Mój syn wrócił z siniakiem i nikt nic nie powiedział", "pl"),
    ("Copilul meu a venit acasă cu vânătăi și nimeni nu ne-a spus nimic", "ro"),
    ("Mera beta ghar aaya to uske haath par neela nishan tha aur kisi ne kuch nahi bataya", "ur"),
    ("بچے بہت خوش لگ رہے ہیں", "ur"),
    ("He came home happy and tired, thank you all", "en"),
])
def test_language_is_guessed_from_marker_words_and_letters(rules_clf, text, lang):
    a, _hits = rule_hits(rules_clf, text)
    assert a.lang == lang


def test_foreign_safeguarding_words_are_judged(rules_clf):
    assert rule_score(rules_clf, "Moja córka ma siniaki na rękach", "safeguarding") >= 0.5


@pytest.mark.parametrize("text", ["Lovely!", "Thanks x", "😍😍", "Congratulations!"])
def test_short_friendly_replies_are_not_sent_for_review(rules_clf, text):
    result = rules_clf.classify(text)
    assert not result.labels and not result.needs_review


@pytest.mark.parametrize("text", ["Hmm.", "Really?", "Typical", "👀"])
def test_short_unclear_replies_are_sent_for_review(rules_clf, text):
    result = rules_clf.classify(text)
    assert result.needs_review and result.note == "too short to judge"
