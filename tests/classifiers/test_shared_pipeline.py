"""Settings of a group share one loaded pipeline, and still judge by their own roster."""
from __future__ import annotations

import os
import shutil

from classifiers import build_classifier
from classifiers.classifier import MODEL_DIR, shared_nlp
from monitor.core.settings import RosterConfig, SettingConfig


def test_two_settings_share_the_loaded_model_but_each_knows_only_its_own_children():
    oak = build_classifier(SettingConfig(name="Oakfield Nursery", aliases=[], town="Leeds"),
                           RosterConfig(children=["Amelia Hart"], staff=["Sarah Jones"]))
    elm = build_classifier(SettingConfig(name="Elm Tree Pre-school", aliases=[], town="York"),
                           RosterConfig(children=["Oliver Brown"], staff=["Tom Fletcher"]))
    assert oak.nlp is elm.nlp

    def who(clf, text):
        return {e.about for f in clf.classify(text).findings for e in f.evidence if e.text == "amelia"}

    text = "amelia was sent home with a rash again, poor thing"
    assert who(oak, text) == {"child"}  # on Oakfield's roster
    assert who(elm, text) == {"person"}  # Elm Tree has no Amelia: someone, not one of its children


def test_a_model_replaced_on_disk_is_loaded_afresh(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model)
    first = shared_nlp(model)
    assert shared_nlp(model) is first
    config = model / "config.cfg"
    os.utime(config, ns=(config.stat().st_atime_ns, config.stat().st_mtime_ns + 1_000_000_000))  # a new `train`
    assert shared_nlp(model) is not first
