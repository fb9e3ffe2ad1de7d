"""The semantic stage (classifiers/semantic_stage.py): a second look, by meaning, at what the first
stage flags or nearly flags. Tests that run the sentence model skip where it is not installed."""
import json
import shutil

import pytest

from classifiers import semantic
from classifiers.classifier import MODEL_DIR, Classifier
from classifiers.semantic import SemanticUnavailable
from classifiers.combine import FEATURE_NAMES
from classifiers.semantic_stage import HEAD_SCALE, SEMANTIC_FILE, SemanticStage, second_look
from monitor.core.settings import ClassifierConfig
from monitor.core.types import CATEGORIES as LABELS
from monitor.core.types import Evidence, Finding, ThreadEntry


def _model_or_skip() -> None:
    try:
        semantic.model_dir()
        semantic._libraries()
    except SemanticUnavailable as e:
        pytest.skip(f"semantic model not installed here: {e}")


def _stage(**kw) -> SemanticStage:
    data = {"head": {}, "weights": {}, "thresholds": {"safeguarding": 0.1, "confidentiality": 0.4, "criticism": 0.5},
            "thresholds_high": {"safeguarding": 0.05}, "floor": 0.5}
    data.update(kw)
    return SemanticStage.from_json(data)


def test_a_label_is_reread_only_from_its_floor_of_the_first_stage_threshold():
    stage = _stage(floor=0.5)
    first = {"safeguarding": 0.12, "confidentiality": 0.4, "criticism": 0.5}
    scores = {"safeguarding": 0.06, "confidentiality": 0.19, "criticism": 0.9}
    assert stage.labels_to_read(scores, first) == ["safeguarding", "criticism"]


def test_sensitivity_and_a_settings_overrides_apply_to_the_stages_thresholds():
    stage = _stage()
    assert stage.for_sensitivity("high", {"criticism": 0.7}) == {
        "safeguarding": 0.05, "confidentiality": 0.4, "criticism": 0.7}
    assert stage.for_sensitivity()["safeguarding"] == 0.1


def test_a_label_the_stage_raises_or_lowers_says_so_in_plain_words():
    f = Finding("criticism", "low", 0.6, (Evidence(0, 4, "rude", "a complaint word", "rules", "rude"),), "rules")
    lowered = second_look(f, False, 0.2, {"criticism": 0.5})
    assert lowered.evidence[0] == f.evidence[0]
    note = lowered.evidence[-1]
    assert note.detector == "semantic" and note.rule == "lowered"
    assert "not raised" in note.reason and "complaints" in note.reason
    raised = second_look(f, True, 0.8, {"criticism": 0.5})
    assert raised.evidence[-1].rule == "raised" and "close to the complaints" in raised.evidence[-1].reason
    assert raised.detector == "rules+semantic"


def test_the_stage_round_trips_through_its_file(tmp_path):
    stage = _stage(head={"safeguarding": [0.5, 1.0]}, weights={"safeguarding": [0.1, 0.2]})
    stage.save(tmp_path / SEMANTIC_FILE)
    again = SemanticStage.from_json(json.loads((tmp_path / SEMANTIC_FILE).read_text()))
    assert (again.head, again.weights, again.thresholds, again.floor) == (stage.head, stage.weights,
                                                                           stage.thresholds, stage.floor)


def test_the_stage_on_without_its_fitted_file_names_what_is_missing(setting, roster, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model, ignore=shutil.ignore_patterns(SEMANTIC_FILE))
    with pytest.raises(SemanticUnavailable, match="semantic.json is missing.*nurserywatch train"):
        Classifier(setting, roster, model_dir=model, semantic=True)
    assert Classifier(setting, roster, model_dir=model, semantic=False).semantic is None


# -- with the sentence model: hand-built stages over the shipped first stage -------------------------
# Each stage's weights are written here, so what it should do is known: its score for a label is its
# head's probability (weight 5 on the head's log-odds / 5), or, for the thread test, the thread's concern.
N_FEATURES = len(FEATURE_NAMES) + 2  # the first stage's features, the head's probability, its log-odds / 5
SLAPPED = "A member of staff slapped my daughter across the face at pickup"
DINNERS = "Honestly the dinners are poor for what we pay"  # the first stage: criticism 0.2, not raised
ME_TOO = "me too, exactly the same happened to my son"
GRABBED = "The woman at the door grabbed my daughter by the arm and dragged her inside, she was crying"


def _head_pointing_at(encoder, text: str) -> list[float]:
    """A head whose probability passes 0.5 where a comment's vector is within cosine 0.5 of `text`'s."""
    u = encoder.encode([text])[0].astype(float)
    return [-10.0] + list(u * 20 / HEAD_SCALE)


def _classifier(setting, roster, tmp_path, **stage) -> Classifier:
    model = tmp_path / "model"
    if not model.exists():
        shutil.copytree(MODEL_DIR, model, ignore=shutil.ignore_patterns(SEMANTIC_FILE))
    never = [-20.0] + [0.0] * 384
    base = {"head": {lab: never for lab in LABELS},
            "weights": {lab: [0.0] * N_FEATURES + [5.0] for lab in LABELS},
            "thresholds": {lab: 0.5 for lab in LABELS}, "floor": 0.0}
    base.update(stage)
    SemanticStage.from_json(base).save(model / SEMANTIC_FILE)
    return Classifier(setting, roster, model_dir=model, semantic=True)


@pytest.fixture(scope="module")
def encoder():
    _model_or_skip()
    return semantic.Encoder.load()


def test_the_stage_lowers_labels_it_reads_as_not_close_keeping_the_finding_and_saying_why(setting, roster, tmp_path,
                                                                                         encoder):
    off = Classifier(setting, roster, semantic=False).classify(SLAPPED)
    assert off.labels == ("safeguarding", "criticism")
    on = _classifier(setting, roster, tmp_path).classify(SLAPPED)
    assert on.labels == ()
    assert [f.category for f in on.findings] == ["safeguarding", "criticism"]
    for f in on.findings:
        assert f.evidence[-1].rule == "lowered" and "not raised" in f.evidence[-1].reason
        assert f.evidence[:-1] == next(g for g in off.findings if g.category == f.category).evidence


def test_the_stage_raises_a_complaint_the_first_stage_missed_by_its_meaning(setting, roster, tmp_path, encoder):
    assert Classifier(setting, roster, semantic=False).classify(DINNERS).labels == ()
    head = dict.fromkeys(LABELS, [-20.0] + [0.0] * 384)
    head["criticism"] = _head_pointing_at(encoder, "the meals here are terrible value for money")
    clf = _classifier(setting, roster, tmp_path, head=head)
    result = clf.classify(DINNERS)
    assert result.labels == ("criticism",)
    (finding,) = result.findings
    assert finding.evidence[-1].rule == "raised" and "close to the complaints" in finding.evidence[-1].reason
    assert finding.detector.endswith("+semantic")
    assert clf.classify("Lovely sports day, thank you all").labels == ()


def test_below_its_floor_the_stage_never_runs_and_the_labels_are_the_fast_paths(setting, roster, tmp_path, encoder):
    texts = [SLAPPED, DINNERS, ME_TOO, "Lovely sports day, thank you all", "the meals here are terrible value for money"]
    clf = _classifier(setting, roster, tmp_path, floor=1000.0)

    class NoEncoder:
        def encode(self, texts):
            raise AssertionError("the encoder ran below the floor")

    clf.semantic.encoder = NoEncoder()
    off = Classifier(setting, roster, semantic=False)
    assert [r.labels for r in clf.classify_batch([(t, None) for t in texts])] == \
        [off.classify(t).labels for t in texts]
    assert [r.labels for r in off.classify_batch([(t, None) for t in texts])] == \
        [Classifier(setting, roster).classify(t).labels for t in texts]


def test_the_thread_reaches_the_stage(setting, roster, tmp_path, encoder):
    thread_at = 1 + FEATURE_NAMES.index("thread")  # weights are [bias, features...]
    weights = {lab: [0.0] * (N_FEATURES + 1) for lab in LABELS}
    weights["safeguarding"][0], weights["safeguarding"][thread_at] = -3.0, 4.0
    clf = _classifier(setting, roster, tmp_path, weights=weights)
    with_thread = clf.classify(ME_TOO, thread=[ThreadEntry(GRABBED)])
    alone = clf.classify(ME_TOO)
    assert "safeguarding" in with_thread.labels
    assert "safeguarding" not in alone.labels
    assert alone.findings[0].evidence[-1].rule == "lowered"


def test_the_config_flag_turns_the_stage_on(setting, roster, tmp_path, encoder):
    _classifier(setting, roster, tmp_path)  # writes a model with a stage
    model = tmp_path / "model"
    assert Classifier(setting, roster, model_dir=model, options=ClassifierConfig(semantic=True)).semantic is not None
    assert Classifier(setting, roster, model_dir=model, options=ClassifierConfig()).semantic is None


def test_the_stage_cannot_silence_a_concern_the_settings_own_account_discloses(setting, roster, tmp_path, encoder):
    disclosure = "She told us her dad hits her when he's been drinking"
    is_setting_at = 1 + FEATURE_NAMES.index("is_setting")
    weights = {lab: [0.0] * (N_FEATURES + 1) for lab in LABELS}
    weights["safeguarding"][0], weights["safeguarding"][is_setting_at] = 5.0, -20.0  # "the setting's replies never are"
    clf = _classifier(setting, roster, tmp_path, weights=weights)
    assert "safeguarding" in Classifier(setting, roster, semantic=False).classify(disclosure, is_setting=True).labels
    assert "safeguarding" in clf.classify(disclosure, is_setting=True).labels
    assert "safeguarding" not in clf.classify("All our staff are DBS checked", is_setting=True).labels
