"""Safeguarding rules: positive cases fire, hard negatives stay quiet (rules only)."""
import pytest

from .helpers import fired_rules, rule_score

POSITIVE = [
    ("my son came home with a massive bruise on his arm and nobody told me", "injury_unexplained"),
    ("there were finger marks on her upper arm at pick up", "injury_mark"),
    ("he said daddy hits him with a belt", "disclosure_hurt"),
    ("she told me the man at nursery touched her privates", "disclosure_sexual"),
    ("she's always hungry and wearing the same dirty clothes", "neglect"),
    ("found him wandering in the car park, nobody was watching", "unsafe_supervision"),
    ("they let her go home with someone i didn't know", "collection_security"),
    ("the keyworker grabbed him by the arm and dragged him inside", "rough_handling"),
    ("the room leader screamed at the babies", "rough_handling"),
    ("they gave my son milk even though he's allergic", "care_failure"),
    ("one of the staff is posting videos of the kids on her tiktok", "staff_conduct"),
    ("what time do the kids go out to play in the garden? which days?", "adult_interest"),
    ("a man has been taking photos of the children through the fence", "adult_interest"),
    ("she told him it's a secret and he mustn't tell mummy", "secret_or_fear"),
    ("they locked him in the sleep room on his own as a punishment", "restraint_isolation"),
    ("the gate was left open again and anyone could walk in", "unsafe_supervision"),
    ("her ex isn't allowed to collect, there's a court order", "collection_security"),
    ("talk of FGM, they are taking her abroad to be cut", "exploitation_other"),
]

HARD_NEGATIVE = [
    "The police came to do a talk about people who help us, the kids loved the sirens",
    "He tripped in the garden and they filled in the accident form, tiny graze, all fine",
    "no bruises, no tears, just a very happy boy today",
    "What would happen if a child got out of the gate? Just wondering about the policy",
    "The NSPCC helpline number is on the board in reception if anyone needs it",
    "Terrible weather today, roadworks on Mill Lane again",
    "He came home covered in bruises... of paint 😂",
    "Lovely handprint cards for mother's day, thank you",
]


@pytest.mark.parametrize("text, rule", POSITIVE)
def test_safeguarding_rules_fire_on_concerns(rules_clf, text, rule):
    assert rule in fired_rules(rules_clf, text, "safeguarding")
    assert rule_score(rules_clf, text, "safeguarding") >= 0.5


@pytest.mark.parametrize("text", HARD_NEGATIVE)
def test_safeguarding_rules_stay_quiet_on_benign_look_alikes(rules_clf, text):
    assert rule_score(rules_clf, text, "safeguarding") < 0.5


def test_negation_is_recorded_in_the_evidence(rules_clf):
    from .helpers import rule_hits

    _a, hits = rule_hits(rules_clf, "there were no bruises at all")
    bruise = [h for h in hits if h.rule == "injury_mark"]
    assert bruise and bruise[0].value < bruise[0].score
    assert any("negation" in c for c in bruise[0].cues)


def test_a_handled_accident_stops_counting_once_nobody_told_the_parent(rules_clf):
    text = "bruise on his cheek, no accident form, nobody said a word"
    assert rule_score(rules_clf, text, "safeguarding") >= 0.5
