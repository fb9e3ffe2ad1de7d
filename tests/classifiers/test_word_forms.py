"""Words the lists meant but never matched: `word~` adds English endings to a whole word, so a
stem written as a prefix ("allerg~", "anaphyla~", "injur~") matched nothing until spelled out."""
import pytest

from .helpers import fired_rules


@pytest.mark.parametrize("text, rule", [
    ("Isla has a severe allergy to sesame", "health_send"),
    ("Isla is anaphylactic to sesame now", "health_send"),
    ("Noah is disabled and uses a walker", "health_send"),
    ("Poppy has her autism diagnosis now", "health_send"),
    ("Oliver is on antibiotics for an ear infection", "health_send"),
    ("Amelia had another injury from Noah today", "behaviour_incident"),
])
def test_health_and_incident_words_about_a_named_child_are_found(rules_clf, text, rule):
    assert rule in fired_rules(rules_clf, text, "confidentiality")


def test_a_child_being_anaphylactic_is_not_itself_a_care_failure_but_a_reaction_is(rules_clf):
    assert "care_failure" not in fired_rules(rules_clf, "our Isla is anaphylactic to sesame, no hummus please", "safeguarding")
    assert "care_failure" in fired_rules(rules_clf, "he went into anaphylactic shock after lunch at nursery", "safeguarding")
    assert "care_failure" in fired_rules(rules_clf, "she had an allergic reaction to the snack they gave her", "safeguarding")


def test_polish_bruise_words_are_found_in_their_case_forms(rules_clf):
    assert "foreign_safeguarding" in fired_rules(rules_clf, "Mój syn wrócił ze żłobka z siniakiem na ręce", "safeguarding")
