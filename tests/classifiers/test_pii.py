"""Phone numbers, emails, postcodes, addresses, dates of birth, registrations (rules only)."""
import pytest

from classifiers.detectors.pii import nhs_checksum_ok

from .helpers import rule_hits


def pii_rules(clf, text):
    _a, hits = rule_hits(clf, text)
    return {h.rule: text[h.start_char:h.end_char] for h in hits if h.detector == "pii"}


@pytest.mark.parametrize("text, rule, found", [
    ("ring me on 07700 900123 if you see him", "uk_mobile", "07700 900123"),
    ("her number is +44 7700 900456", "uk_mobile", "+44 7700 900456"),
    ("landline 01632 960123", "uk_landline", "01632 960123"),
    ("email jo.bloggs@example.co.uk", "email", "jo.bloggs@example.co.uk"),
    ("they live near CO10 2XY", "postcode", "CO10 2XY"),
    ("she lives at 27 Orchard Close", "street_address", "27 Orchard Close"),
    ("DOB 03/04/2021", "date_of_birth", "DOB 03/04/2021"),
    ("born on 3rd March 2021", "date_of_birth", "born on 3rd March 2021"),
    ("silver Audi AK19 PLW parked on the zigzags", "car_registration", "AK19 PLW"),
    ("NHS number 943 476 5919", "nhs_number", "943 476 5919"),
])
def test_personal_details_are_found_with_exact_offsets(rules_clf, text, rule, found):
    assert pii_rules(rules_clf, text).get(rule) == found


@pytest.mark.parametrize("text", [
    "Call the nursery on 01473 820911",  # the setting's own public number
    "We're at 14 Mill Lane, Hadleigh, IP7 5AB",  # the setting's own address
    "Fees went up by £120 in 2024",
    "He's 3 and a half and 98cm tall",
    "Sports day is on 12/07 at 10am",
    "Room ratio is 1:3 for under twos",
])
def test_public_and_ordinary_numbers_are_not_personal_details(rules_clf, text):
    assert pii_rules(rules_clf, text) == {}


def test_nhs_numbers_must_pass_the_checksum():
    assert nhs_checksum_ok("943 476 5919")
    assert not nhs_checksum_ok("943 476 5918")
