"""The classify contract the rest of nurserywatch relies on."""
from monitor.core.types import CATEGORIES, Classification


def test_classify_returns_a_classification_with_known_labels(clf):
    result = clf.classify("Miss Sarah shouted at my son and grabbed him by the arm. Disgusting!")
    assert isinstance(result, Classification)
    assert set(result.labels) <= set(CATEGORIES)
    assert "safeguarding" in result.labels


def test_evidence_offsets_point_into_the_original_text(clf):
    text = "Honestly?? Oliver came home with a BRUISE on his arm and nobody told me 😡"
    result = clf.classify(text)
    assert result.findings
    for finding in result.findings:
        for ev in finding.evidence:
            assert text[ev.start:ev.end] == ev.text


def test_safeguarding_findings_are_high_severity(clf):
    result = clf.classify("my daughter said her keyworker smacked her")
    sg = [f for f in result.findings if f.category == "safeguarding"]
    assert sg and sg[0].severity == "high"


def test_batch_matches_single_calls(clf):
    texts = ["Lovely day at the farm!", "Oliver's bruise was never explained", "Call me on 07700 900123"]
    batch = clf.classify_batch([(t, "facebook") for t in texts])
    singles = [clf.classify(t, "facebook") for t in texts]
    assert [b.labels for b in batch] == [s.labels for s in singles]


def test_batch_accepts_a_rating(clf):
    [result] = clf.classify_batch([("Would not go back.", "google", 1)])
    assert "criticism" in result.labels


def test_empty_and_emoji_only_text_is_marked_for_review_not_dropped(clf):
    for text in ["", "😡", "??"]:
        result = clf.classify(text)
        assert result.needs_review and result.note


def test_other_languages_are_judged_and_marked_for_a_human(clf):
    result = clf.classify("Mój syn wrócił do domu z siniakami na rękach i nikt nic nie powiedział")
    assert result.needs_review
    assert "Polish" in (result.note or "")


def test_to_json_is_serialisable(clf):
    import json

    result = clf.classify("Amelia Hart has autism")
    json.dumps(result.to_json("abc"))


def test_the_trained_model_ships_inside_the_package(clf):
    from classifiers.classifier import MODEL_DIR

    assert (MODEL_DIR / "config.cfg").exists() and (MODEL_DIR / "combiner.json").exists()
    assert clf.has_model


def test_a_model_only_finding_still_shows_words_as_evidence(clf):
    text = "the new manager has changed everything and not for the better"
    result = clf.classify(text)
    for finding in result.findings:
        assert finding.evidence
        for ev in finding.evidence:
            assert text[ev.start:ev.end] == ev.text


def test_labels_combine_for_a_named_staff_member_shouting_in_an_angry_comment(clf):
    result = clf.classify("Miss Sarah SCREAMED at my 2 year old in front of everyone. Disgraceful. Complaint going in.")
    assert set(result.labels) == {"safeguarding", "confidentiality", "criticism"}


def test_a_batch_leaves_the_garbage_collector_as_it_found_it(clf):
    import gc

    assert gc.isenabled()
    clf.classify_batch([("Lovely day at the farm!", "facebook")])
    assert gc.isenabled()
    gc.disable()
    try:
        clf.classify_batch([("Lovely day at the farm!", "facebook")])
        assert not gc.isenabled()  # an application that turned it off keeps it off
    finally:
        gc.enable()


def test_model_evidence_shows_at_most_three_content_words_heaviest_first(clf):
    from classifiers.corpus import load_split
    from classifiers.detectors.base import is_content_word

    checked = 0
    for ex, result in zip(dev := load_split("dev")[:300], clf.classify_batch([e.comment() for e in dev])):
        for finding in result.findings:
            words = [e for e in finding.evidence if e.detector == "model" and e.end > e.start]
            weights = [e.scores["word_log_odds"] for e in words]
            assert len(words) <= 3 and weights == sorted(weights, reverse=True), ex.source
            doc = clf.nlp.make_doc(ex.text)
            assert all(is_content_word(t) for e in words for t in doc.char_span(e.start, e.end)), ex.source
            checked += len(words) >= 2
    assert checked  # the model leaned on several words somewhere in 300 comments
