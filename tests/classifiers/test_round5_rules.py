"""Round 5 rules: photo offers, errands for older youths, a child left crying, regional words."""
import pytest

from .helpers import fired_rules

CASES = [
    ("Hiya, I do a bit of photography, happy to pop in and get some candids of all the children, no need to "
     "tell the parents", "photo_offer"),
    ("I'm not family but I've got a decent camera and could do action shots of the kids at the gala", "photo_offer"),
    ("Lads off the estate have the little ones carrying packages to the flats for them", "exploitation_errands"),
    ("The new starter ignored a toddler crying by the door for ages and carried on chatting", "ignored_crying"),
]


@pytest.mark.parametrize("text, rule", CASES)
def test_round5_safeguarding_rules_find_their_pattern(rules_clf, text, rule):
    assert rule in fired_rules(rules_clf, text, "safeguarding")


@pytest.mark.parametrize("text", [
    "Any photos of the kids from the Christmas party? I forgot my camera",
    "Could you carry my bags to the car, I've got the baby in one arm 😅",
    "She was crying at drop off but the staff said she settled in five minutes",
])
def test_round5_rules_stay_quiet_on_look_alikes(rules_clf, text):
    assert not fired_rules(rules_clf, text, "safeguarding") & {"photo_offer", "exploitation_errands", "ignored_crying"}


def test_regional_words_for_a_child_and_a_parent_are_read_as_such(rules_clf):
    """'bairn' (North East, Scotland) is a child and 'mam' a parent at home, like 'son' and 'mum'."""
    assert fired_rules(rules_clf, "the staff were screaming at the bairns in the yard", "safeguarding") == \
        fired_rules(rules_clf, "the staff were screaming at the kids in the yard", "safeguarding")
    assert fired_rules(rules_clf, "her mam was drunk again at pick up", "safeguarding")


def test_an_outsiders_photo_offer_alerts_but_the_settings_refusal_of_one_does_not(clf):
    offer = "I'm not a parent but I've got a decent camera, happy to come in and get action shots of the kids, DM me"
    refusal = "Thanks for the offer, but we don't allow anyone to photograph the children without checks"
    assert "safeguarding" in clf.classify(offer, "facebook").labels
    assert "safeguarding" not in clf.classify(refusal, "facebook", is_setting=True).labels


@pytest.mark.parametrize("text", [
    "Jestem dziś w szpitalu na dyżurze do 19, mąż odbierze Zosię",  # on shift at the hospital till 7
    "Czy będą zdjęcia z jasełek? Nie mogę się doczekać 😊",  # will there be photos of the nativity?
    "Sunt de gardă la spital azi, vine bunica după el",  # on call at the hospital, grandma collects him
])
def test_a_hospital_shift_or_the_nativity_photos_in_polish_or_romanian_raise_no_safeguarding_rule(rules_clf, text):
    """Like the English "hospital" and "photos": a parent's shift and a question about photos are no concern."""
    assert not fired_rules(rules_clf, text, "safeguarding") & {"foreign_safeguarding", "foreign_safeguarding_more"}


@pytest.mark.parametrize("text", [
    "Mój syn wylądował w szpitalu po tym, jak dali mu orzechy",  # ended up in hospital after they gave him nuts
    "Pan z parkingu robi zdjęcia dzieciom przez płot",  # a man from the car park photographs the children
    "Opiekunka robiła zdjęcia dzieci na prywatnym telefonie",  # a carer took photos of children on her own phone
    "Fiul meu a ajuns la spital după ce i-au dat alune",  # Romanian: ended up in hospital after they gave him nuts
])
def test_ending_up_in_hospital_or_photos_of_the_children_in_polish_or_romanian_still_raise_one(rules_clf, text):
    assert fired_rules(rules_clf, text, "safeguarding") & {"foreign_safeguarding", "foreign_safeguarding_more"}
