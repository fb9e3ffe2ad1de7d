"""`nurserywatch train` replaces a model only when the new one is no worse on the guard sets.

Retraining on more writers' comments has twice lost safeguarding concerns on the test sets
while macro F1 barely moved (docs/classifier.md, Rounds 6 and 8), so a retrain must not
silently replace the model a setting runs. Training and scoring are stood in for here (a real
retrain takes minutes); the guard's figures are what `evaluate` returns for each model folder.
"""
from __future__ import annotations

import argparse
import shutil

import pytest

import classifiers.cli
import classifiers.train
from classifiers.cli import cmd_train

CURRENT = {"macro_f1": 0.84, "benign_false_alarm_rate": 0.09, "tp": {"dev": 260, "test": 83}}


def model(path, marker):
    path.mkdir(parents=True)
    (path / "config.cfg").write_text("[nlp]\n")
    (path / "marker").write_text(marker)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A model folder holding the 'old' model; training writes a 'new' one; `figures` sets the new one's."""
    out = tmp_path / "model"
    figures = {"macro_f1": 0.84, "tp": {}}
    scored = []

    def fake_train(output, seed):  # as train() does: whatever was at `output` is replaced
        shutil.rmtree(output, ignore_errors=True)
        model(output, "new")
        oof = {"labels": {lab: {"precision": 0.8, "recall": 0.9, "f1": 0.85}
                          for lab in ("safeguarding", "confidentiality", "criticism")},
               "macro_f1": 0.85, "benign_false_alarm_rate": 0.1}
        return {"examples": 10, "thresholds": {"safeguarding": 0.1}, "out_of_fold": oof, "semantic": None}

    def fake_evaluate(split, model_dir=None, settings=None, corrections=None):
        which = (model_dir / "marker").read_text()
        scored.append((split, which))
        f = CURRENT if which == "old" else {**CURRENT, "macro_f1": figures["macro_f1"],
                                            "tp": {**CURRENT["tp"], **figures["tp"]}}
        return {"results": {"nurserywatch": {"macro_f1": f["macro_f1"], "benign_false_alarm_rate": 0.09,
                                             "labels": {"safeguarding": {"tp": f["tp"][split]}}}}}

    monkeypatch.setattr(classifiers.train, "train", fake_train)
    monkeypatch.setattr(classifiers.cli, "evaluate", fake_evaluate)
    return out, figures, scored


def run(out, force=False):
    return cmd_train(argparse.Namespace(output=out, seed=None, force=force))


def test_a_first_model_is_written_where_asked_without_a_comparison(world, capsys):
    out, _, scored = world
    assert run(out) == 0
    assert (out / "marker").read_text() == "new" and scored == []
    assert not out.with_name("model.candidate").exists()


def test_a_new_model_no_worse_on_the_guard_sets_replaces_the_old_one(world, capsys):
    out, figures, scored = world
    model(out, "old")
    figures["macro_f1"] = 0.835  # within 0.01
    assert run(out) == 0
    assert (out / "marker").read_text() == "new" and not out.with_name("model.candidate").exists()
    assert not out.with_name("model.replaced").exists()
    assert sorted(scored) == [("dev", "new"), ("dev", "old"), ("test", "new"), ("test", "old")]
    assert "installed:" in capsys.readouterr().out


def test_a_new_model_that_misses_one_concern_is_kept_aside_even_when_macro_f1_holds(world, capsys):
    out, figures, _ = world
    model(out, "old")
    figures["tp"] = {"test": 82}
    assert run(out) == 3
    assert (out / "marker").read_text() == "old"
    assert (out.with_name("model.candidate") / "marker").read_text() == "new"
    said = capsys.readouterr().out
    assert "NOT installed: it would miss 1 safeguarding concern(s) on test that the current one finds" in said
    assert "test safeguarding concerns found" in said and "--force" in said


def test_a_new_model_whose_macro_f1_falls_is_kept_aside_and_force_installs_it(world, capsys):
    out, figures, _ = world
    model(out, "old")
    figures["macro_f1"] = 0.82
    assert run(out) == 3
    assert "macro F1 fell by more than 0.01 on dev" in capsys.readouterr().out
    assert run(out, force=True) == 0
    assert (out / "marker").read_text() == "new" and not out.with_name("model.candidate").exists()
    assert "with --force: macro F1 fell" in capsys.readouterr().out


def test_an_output_folder_holding_something_else_is_refused_untouched(world, capsys, tmp_path):
    out, _, _ = world
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    assert run(out) == 2
    assert (out / "thesis.docx").read_text() == "years of work"
    assert "exists and is not a model folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(empty) == 0 and (empty / "marker").read_text() == "new"
