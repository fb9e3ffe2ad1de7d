"""The combiner sees context the bag-of-words model cannot: benign cues, language, length."""
from classifiers.combine import FEATURE_NAMES, Combiner, features

from .helpers import rule_hits

RULES = {"safeguarding": 0.0, "confidentiality": 0.0, "criticism": 0.0}
MODEL = {"safeguarding": 0.2, "confidentiality": 0.1, "criticism": 0.6}


def test_benign_context_is_reported_even_when_no_rule_fired(rules_clf):
    analysis, hits = rule_hits(rules_clf, "Suffolk county council have cut the speech therapy funding again")
    signals = rules_clf.context_signals(analysis)
    assert not [h for h in hits if h.label == "criticism" and h.value >= 0.5]
    assert signals["criticism"] > 0.5 and signals["foreign"] == 0.0 and signals["short"] == 0.0


def test_language_and_length_are_signals(rules_clf):
    analysis, _hits = rule_hits(rules_clf, "Bardzo dziękujemy za piękne zdjęcia z wycieczki i za wszystko")
    assert rules_clf.context_signals(analysis)["foreign"] == 1.0
    analysis, _hits = rule_hits(rules_clf, "Fab.")
    assert rules_clf.context_signals(analysis)["short"] == 1.0


def test_thanks_for_photos_in_polish_raises_no_safeguarding_word(rules_clf):
    """'zdjęcia' (photos) alone is no concern: it no longer fires at all (before, it fired and was damped)."""
    _a, hits = rule_hits(rules_clf, "Pani Ewa, dziękuję za zdjęcia! Maja wygląda przeszczęśliwie")
    assert not [h for h in hits if h.label == "safeguarding" and h.value >= 0.5]
    _a, hits = rule_hits(rules_clf, "Pani Ewa robiła zdjęcia dzieci na prywatnym telefonie")  # on her own phone
    assert [h for h in hits if h.rule == "foreign_safeguarding_more" and h.value >= 0.5]


def test_a_benign_context_weight_lowers_the_combined_score():
    weights = [0.0] * (len(FEATURE_NAMES) + 1)
    weights[2] = 4.0  # model
    weights[1 + FEATURE_NAMES.index("benign_context")] = -3.0
    comb = Combiner(weights={"criticism": weights}, thresholds={"criticism": 0.5})
    plain = comb.score("criticism", RULES, MODEL, None, {})
    damped = comb.score("criticism", RULES, MODEL, None, {"criticism": 0.8})
    assert damped < plain


def test_an_older_combiner_with_fewer_weights_ignores_the_new_features():
    old = [0.5] + [0.1] * 12
    comb = Combiner(weights={"criticism": old}, thresholds={"criticism": 0.5})
    assert comb.score("criticism", RULES, MODEL, None, {"criticism": 1.0, "short": 1.0}) == \
        comb.score("criticism", RULES, MODEL, None)
    assert len(features("criticism", RULES, MODEL, None)) == len(FEATURE_NAMES)


def test_a_name_or_a_word_of_another_language_that_spells_an_urdu_cue_is_not_one(rules_clf):
    for text in ("Dziękuję, pani Marta! Oskar wciąż śpiewa piosenkę o dyniach",  # Polish: Marta, a name
                 "Prețurile sunt prea mari pentru ce oferiți"):  # Romanian: mari, "big"
        _a, hits = rule_hits(rules_clf, text)
        assert not [h for h in hits if h.rule == "foreign_safeguarding"], text
    _a, hits = rule_hits(rules_clf, "Teacher bachon ko marta hai, meri beti darti hai")  # Urdu: "hits"
    assert [h for h in hits if h.rule == "foreign_safeguarding" and h.value >= 0.5]


def test_a_shout_out_to_a_member_of_staff_is_praise_not_an_allegation(rules_clf):
    _a, hits = rule_hits(rules_clf, "Shout out to Miss Sarah for rescuing his comfort blanket from the bin lorry")
    assert all(h.value < 0.5 for h in hits if h.rule == "staff_allegation")
    _a, hits = rule_hits(rules_clf, "Miss Sarah shouts at the toddlers every morning")
    assert [h for h in hits if h.rule == "staff_allegation" and h.value >= 0.5]
