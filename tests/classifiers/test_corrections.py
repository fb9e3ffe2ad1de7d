"""A setting's corrections (classifiers/corrections.py): lessons from "not a concern" and
"needed a human" change only comments very like the taught ones, for the same reasons.
Rules only, so the figures do not hang on the trained model."""
from __future__ import annotations

import pytest

from classifiers.classifier import Classifier, build_classifier
from classifiers.corrections import ADD_REASON, SUPPRESS_REASON, Corrections

TAUGHT = [
    ("Who's coming to Bruiser's Field playground on Saturday?", []),
    ("Lovely walk to Bruiser's Field with the little ones today", []),
    ("The new lady at drop off looked right through him and he cried all the way home", ["safeguarding"]),
]


@pytest.fixture(scope="module")
def judge(setting, roster):
    clf = Classifier(setting, roster, use_model=False)
    clf.corrections = clf.learn([(t, "facebook") for t, _ in TAUGHT], [set(labels) for _, labels in TAUGHT])
    return clf


def test_it_learns_only_from_comments_it_got_wrong(setting, roster):
    clf = Classifier(setting, roster, use_model=False)
    learnt = clf.learn([("Who's coming to Bruiser's Field playground on Saturday?", "facebook"),
                        ("Thank you for a lovely sports day", "facebook")], [set(), set()])
    assert len(learnt) == 1 and set(learnt.taught[0].wrong) == {"safeguarding"}


def test_a_comment_like_a_taught_false_alarm_for_the_same_reason_is_not_flagged(judge):
    result = judge.classify("Anyone going to Bruiser's Field playground this morning?", "facebook")
    assert "safeguarding" not in result.labels
    finding = next(f for f in result.findings if f.category == "safeguarding")  # kept, not alerting, with why
    assert finding.evidence[-1].reason == SUPPRESS_REASON and finding.evidence[-1].detector == "setting_feedback"


def test_a_new_reason_in_a_similar_comment_still_raises_the_label(judge):
    result = judge.classify("Who's coming to Bruiser's Field playground on Saturday? "
                            "My son came back from there with a bruise on his arm", "facebook")
    assert "safeguarding" in result.labels


def test_an_unrelated_comment_with_the_same_word_is_judged_as_before(judge, setting, roster):
    text = "Bruiser was the name of the man who grabbed my daughter at pick up"
    plain = Classifier(setting, roster, use_model=False).classify(text, "facebook")
    assert judge.classify(text, "facebook").labels == plain.labels and "safeguarding" in plain.labels


def test_a_near_copy_of_a_comment_that_needed_a_human_is_flagged(judge):
    result = judge.classify("The new lady at drop off looked right through him and he cried all the way home again",
                            "facebook")
    assert "safeguarding" in result.labels
    assert any(e.reason == ADD_REASON for f in result.findings for e in f.evidence)


def test_saved_corrections_hold_no_words_and_load_back_the_same(judge, tmp_path, setting, roster):
    path = tmp_path / "corrections.json"
    judge.corrections.save(path)
    text = path.read_text().lower()
    assert "bruiser" not in text and "playground" not in text and "drop" not in text
    again = build_classifier(setting, roster, model_dir=None, corrections=path)
    assert again.corrections.taught == judge.corrections.taught
    assert "safeguarding" not in again.classify("Anyone going to Bruiser's Field playground this morning?").labels


def test_a_corrections_file_from_another_version_is_a_clear_error(tmp_path):
    path = tmp_path / "corrections.json"
    path.write_text('{"version": 99, "taught": []}')
    with pytest.raises(ValueError, match="version 99.*train --with-feedback"):
        Corrections.load(path)
