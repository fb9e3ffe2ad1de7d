"""Round 3 blind spots: each is found by the rules, with a plain reason a manager can read."""
import pytest

CASES = [
    ("Saw Miss Rebecca absolutely hammered in town on Saturday night", "confidentiality",
     "a named staff member's private life: relationships, nights out, health, home or car"),
    ("apparently Tom Fletcher is moving in with the lady from the bakery", "confidentiality",
     "a named staff member's private life: relationships, nights out, health, home or car"),
    ("Her dad was slurring when he collected her and they let her go with him", "safeguarding",
     "collection by an adult who is not allowed, or the building/gate left open"),
    ("A man said he was a photographer and wanted to take photos of the children, nobody asked for ID",
     "safeguarding", "an adult's worrying interest in particular children, their names, photos, routines"),
    ("my son say his dad hit him with belt, he is scared", "safeguarding",
     "a child says, or an adult alleges, that someone hurts the child"),
    ("Miss Karen never answers the phone", "confidentiality", "a named staff member linked to an allegation or complaint"),
    ("Oliver keeps biting the other children", "confidentiality", "a named child linked to behaviour or an incident"),
    ("Wayne Collier is collecting from Acorns now and he's been arrested twice", "confidentiality",
     "a named person linked to family circumstances or private life"),
    ("great, another price rise 🙄 in this economy", "criticism", "sarcasm or eye-roll irony aimed at the setting"),
]


@pytest.mark.parametrize("text, label, reason", CASES)
def test_blind_spots_are_found_with_a_plain_reason(rules_clf, text, label, reason):
    result = rules_clf.classify(text)
    assert label in result.labels
    reasons = {e.reason for f in result.findings if f.category == label for e in f.evidence}
    assert reason in reasons


def test_a_bare_one_star_rating_is_criticism_with_the_stars_as_the_reason(clf):
    result = clf.classify("", "google", 1)
    assert result.labels == ("criticism",)
    [ev] = result.findings[0].evidence
    assert (ev.text, ev.reason) == ("", "a 1-star review")


@pytest.mark.parametrize("text", [
    "Congratulations Miss Rebecca on getting married, you looked beautiful",
    "Grandad collected her today and was so proud, thank you for checking his password",
    "Miss Karen always answers the phone so kindly",
])
def test_their_friendly_look_alikes_stay_quiet(rules_clf, text):
    assert rules_clf.classify(text).labels == ()
