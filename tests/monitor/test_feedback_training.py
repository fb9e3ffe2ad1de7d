"""`train --with-feedback`: the setting's labelled examples become corrections on top of the
shared model, and corrections that are worse on the shipped sets are never installed.

Scoring the shipped sets takes a while, so the evaluator here returns set figures;
benchmarks/bench_feedback_training.py runs the real thing and prints the figures."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from classifiers.classifier import MODEL_DIR
from monitor.core.settings import config_from_dict
from monitor.core.webmodels import LabelledExample
from monitor.feedback_training import corrections_file, current_model_dir, feedback_examples, retrain, \
    setting_classifier

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
FALSE_ALARM = "Who's coming to Bruiser's Field playground on Saturday?"  # "Bruiser" reads as a bruise


def config(tmp_path):
    return config_from_dict({"setting": {"name": "Little Acorns"}, "data_dir": str(tmp_path / "data")})


def figures(dev: float, test: float, concerns: dict[str, int] | None = None):
    """dev/test macro F1 with the candidate corrections (those with any lesson in them), 0.80 without;
    `concerns`: the safeguarding concerns the candidate finds per split (the current ones find 20)."""
    table, found = {"dev": dev, "test": test}, concerns or {}
    return lambda split, corrections: {
        "macro_f1": table[split] if corrections else 0.80, "benign_false_alarm_rate": 0.05,
        "labels": {"safeguarding": {"tp": found.get(split, 20) if corrections else 20}}}


def test_labelled_examples_are_read_for_the_setting(sessions):
    from monitor.core.models import Setting

    with sessions.begin() as s:
        a, b = Setting(key="a", name="A", timezone="Europe/London"), Setting(key="b", name="B", timezone="Europe/London")
        s.add_all([a, b])
        s.flush()
        s.add(LabelledExample(setting_id=a.id, source="not_a_concern", text="Smack Lane park", platform="facebook",
                              labels=[], created_at=NOW))
        s.add(LabelledExample(setting_id=b.id, source="needed_human", text="other", platform="x",
                              labels=["safeguarding"], created_at=NOW))
        a_id = a.id
    with sessions() as s:
        examples = feedback_examples(s, a_id)
    assert [(e.text, e.labels, e.platform) for e in examples] == [("Smack Lane park", frozenset(), "facebook")]


def test_corrections_no_worse_on_dev_and_test_are_installed_and_used_by_the_setting(tmp_path):
    cfg = config(tmp_path)
    assert "safeguarding" in setting_classifier(cfg).classify(FALSE_ALARM, "facebook").labels
    report = retrain(cfg, feedback_examples_of([FALSE_ALARM, "Thank you for a lovely sports day"]),
                     figures(dev=0.795, test=0.81))
    assert report.installed and report.taught == 1
    assert (report.alarms_before, report.alarms_after) == (1, 0)
    assert corrections_file(cfg).exists() and current_model_dir(cfg) == MODEL_DIR  # the shared model is untouched
    assert "safeguarding" not in setting_classifier(cfg).classify(
        "Anyone going to Bruiser's Field playground this morning?", "facebook").labels
    text = "\n".join(report.lines())
    assert "dev macro F1" in text and "0.800     0.795" in text and "Installed" in text


def test_corrections_worse_by_more_than_a_hundredth_are_not_installed(tmp_path):
    cfg = config(tmp_path)
    report = retrain(cfg, feedback_examples_of([FALSE_ALARM]), figures(dev=0.80, test=0.785))
    assert not report.installed and "NOT installed" in report.reason and "test" in report.reason
    assert not corrections_file(cfg).exists()
    assert "safeguarding" in setting_classifier(cfg).classify(FALSE_ALARM, "facebook").labels


def test_corrections_that_miss_a_safeguarding_concern_are_not_installed_even_when_macro_f1_holds(tmp_path):
    cfg = config(tmp_path)
    report = retrain(cfg, feedback_examples_of([FALSE_ALARM]), figures(dev=0.81, test=0.81, concerns={"test": 19}))
    assert not report.installed
    assert "it would miss 1 safeguarding concern(s) on test that the current one finds" in report.reason
    assert "macro F1" not in report.reason and not corrections_file(cfg).exists()
    assert re.search(r"test safeguarding concerns found\s+20\s+19", "\n".join(report.lines()))


def test_an_unreadable_corrections_file_is_logged_and_the_setting_classifies_without_it(tmp_path, caplog):
    cfg = config(tmp_path)
    corrections_file(cfg).parent.mkdir(parents=True)
    corrections_file(cfg).write_text('{"version": 1, "taught": [{"words": []}]}')
    clf = setting_classifier(cfg)
    assert not clf.corrections and "safeguarding" in clf.classify(FALSE_ALARM, "facebook").labels
    assert "corrections.json: not a corrections file" in caplog.text and "train --with-feedback" in caplog.text


def test_no_examples_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no labelled examples"):
        retrain(config(tmp_path), [], figures(0.8, 0.8))


def feedback_examples_of(texts):
    from classifiers.corpus import Example

    return [Example(text=t, labels=frozenset(), platform="facebook") for t in texts]


def test_train_with_feedback_needs_the_configuration(capsys):
    from monitor.cli.main import main

    assert main(["train", "--with-feedback"]) == 2
    assert "--config FILE" in capsys.readouterr().err


def test_train_with_feedback_says_so_when_there_are_no_examples(tmp_path, capsys, make_config):
    from monitor.cli.main import main

    path = tmp_path / "nw.toml"
    cfg = make_config()
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[setting]\nname = "Little Acorns"\n'
                    f'[database]\nurl = "{cfg.database.url}"\n')
    assert main(["train", "--with-feedback", "--config", str(path)]) == 1
    assert "no labelled examples yet" in capsys.readouterr().err


def test_train_with_feedback_learns_the_settings_examples_and_installs_them(tmp_path, capsys, make_config,
                                                                          sessions, monkeypatch):
    """The command reads the setting's stored examples and learns them as corrections
    (scoring the shipped sets is stood in for: a real run is benchmarks/bench_feedback_training.py)."""
    import classifiers.cli
    from monitor.cli.main import main
    from monitor.core.models import Setting

    cfg = make_config()
    with sessions.begin() as s:
        setting = Setting(key="little-acorns", name="Little Acorns", timezone="Europe/London")
        s.add(setting)
        s.flush()
        s.add(LabelledExample(setting_id=setting.id, source="not_a_concern", text=FALSE_ALARM,
                              platform="facebook", labels=[], created_at=NOW))
    monkeypatch.setattr(classifiers.cli, "evaluate",
                        lambda split, model_dir=None, settings=None, corrections=None: {"results": {"nurserywatch": {
                            "macro_f1": 0.8, "benign_false_alarm_rate": 0.05,
                            "labels": {"safeguarding": {"tp": 20}}}}})
    path = tmp_path / "nw.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[setting]\nname = "Little Acorns"\n'
                    f'[database]\nurl = "{cfg.database.url}"\n')
    assert main(["train", "--with-feedback", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Installed" in out and re.search(r"wrong labels on your examples +1 +0\n", out)
    assert (tmp_path / "data" / "corrections.json").exists()


def test_the_guard_scores_every_dev_set_and_only_the_projects_own_test_set_never_g(monkeypatch):
    """g (incoming/g/test) is held out for the shipped model's final score: the guard must not read it."""
    import classifiers.cli
    from classifiers.corpus import HOME_TEST, load_split, setting_dirs
    from classifiers.cli import guard_evaluator

    read: dict[str, set[str]] = {}

    def fake_evaluate(split, model_dir=None, settings=None, corrections=None):
        read[split] = {e.setting for e in load_split(split, settings=settings)}
        return {"results": {"nurserywatch": {"macro_f1": 0.8, "benign_false_alarm_rate": 0.05}}}

    monkeypatch.setattr(classifiers.cli, "evaluate", fake_evaluate)
    evaluator = guard_evaluator()
    for split in ("dev", "test"):
        evaluator(split, None)
    assert (setting_dirs()["g"] / "test").is_dir()  # the held-out set is there to be left out
    assert read["test"] == {HOME_TEST}
    assert read["dev"] == {e.setting for e in load_split("dev")} and len(read["dev"]) > 1
