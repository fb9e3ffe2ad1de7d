"""The corpus layout (one roster per setting), name swapping, and per-setting sensitivity."""
import json

import pytest

from classifiers.combine import Combiner
from classifiers.corpus import HOME, load_split, setting_configs
from classifiers.nameswap import NameSwapper
from monitor.core.settings import ClassifierConfig

SETTING_TOML = """[setting]
name = "Bryn Nursery"
[roster]
children = ["Cai Jones"]
staff = ["Nia Evans"]
"""


def write_corpus(tmp_path, rows_by_split: dict[str, list]):
    corpus, incoming = tmp_path / "corpus", tmp_path / "incoming"
    (incoming / "z").mkdir(parents=True)
    (incoming / "z" / "setting.toml").write_text(SETTING_TOML)
    for split, rows in rows_by_split.items():
        (incoming / "z" / split).mkdir()
        (incoming / "z" / split / "z_01.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (corpus / "train").mkdir(parents=True)
    (corpus / "train" / "a_01.jsonl").write_text(json.dumps({"text": "lovely", "labels": []}) + "\n")
    return corpus, incoming


def test_every_comment_carries_its_setting_and_thread_and_the_setting_folder_is_the_default(tmp_path):
    corpus, incoming = write_corpus(tmp_path, {"train": [
        {"text": "same", "labels": ["criticism"], "thread": ["post", {"text": "rude staff", "author": "Jo"}]},
        {"text": "Thanks!", "labels": [], "voice": "setting"},
    ]})
    examples = load_split("train", corpus, incoming)
    assert [e.setting for e in examples] == [HOME, "z", "z"]
    assert [t.text for t in examples[1].thread] == ["post", "rude staff"]
    assert examples[2].comment().is_setting and not examples[1].comment().is_setting
    assert load_split("train", corpus, incoming, settings={"z"})[0].text == "same"


def test_a_malformed_thread_in_the_corpus_names_the_file_and_line(tmp_path):
    corpus, incoming = write_corpus(tmp_path, {"dev": [{"text": "x", "labels": [], "thread": [{"text": 3}]}]})
    with pytest.raises(ValueError, match=r"z_01.jsonl:1: thread\[0\]"):
        load_split("dev", corpus, incoming)


def test_held_out_test_settings_never_reach_train_or_dev():
    test_settings = {e.setting for e in load_split("test")}
    assert test_settings and not test_settings & {e.setting for e in load_split("train") + load_split("dev")}


def test_every_setting_in_the_corpus_has_a_roster():
    configs = setting_configs()
    for split in ("train", "dev"):
        assert {e.setting for e in load_split(split)} <= set(configs)


def test_names_are_swapped_consistently_and_other_words_are_left_alone():
    configs = setting_configs()
    a = NameSwapper(configs, seed=3).swap("Oliver Brown hit Oliver. Thanks Miss Sarah, lovely day", HOME)
    b = NameSwapper(configs, seed=3).swap("Oliver Brown hit Oliver. Thanks Miss Sarah, lovely day", HOME)
    assert a == b  # reproducible
    assert "Oliver" not in a and "Sarah" not in a and a.endswith(", lovely day")
    first = a.split()[0]
    assert a.count(first) == 2  # the same name gets the same new name


def test_high_sensitivity_lowers_thresholds_and_overrides_win():
    fitted = Combiner({}, {"safeguarding": 0.3, "criticism": 0.6}, {"safeguarding": 0.1, "criticism": 0.4})
    assert fitted.for_sensitivity("normal").thresholds == {"safeguarding": 0.3, "criticism": 0.6}
    assert fitted.for_sensitivity("high").thresholds == {"safeguarding": 0.1, "criticism": 0.4}
    assert fitted.for_sensitivity("high", {"criticism": 0.9}).thresholds["criticism"] == 0.9


def test_a_threshold_override_changes_what_is_raised(setting, roster):
    from classifiers import build_classifier

    text = "Bit disappointed nobody mentioned the trip was cancelled"
    strict = build_classifier(setting, roster, options=ClassifierConfig(thresholds={"criticism": 0.999}))
    eager = build_classifier(setting, roster, options=ClassifierConfig(thresholds={"criticism": 0.001}))
    assert "criticism" not in strict.classify(text).labels
    assert "criticism" in eager.classify(text).labels
    assert "criticism" in eager.classify("Lovely day at the farm, thank you").labels  # everything, at 0.001
