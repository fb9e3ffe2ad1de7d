"""`train --with-feedback`: the setting's labelled examples reach the trainer, and
a candidate that is worse on the shipped sets is never installed.

Training itself takes minutes, so the trainer here copies the shipped model and
the evaluator returns set figures; benchmarks/bench_feedback_training.py runs the
real thing and prints the figures."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest

from classifiers.classifier import MODEL_DIR
from monitor.core.settings import config_from_dict
from monitor.core.webmodels import LabelledExample
from monitor.feedback_training import current_model_dir, feedback_examples, retrain, setting_model_dir

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def config(tmp_path):
    return config_from_dict({"setting": {"name": "Little Acorns"}, "data_dir": str(tmp_path / "data")})


def figures(dev: float, test: float):
    table = {"dev": dev, "test": test}
    return lambda split, model_dir: {"macro_f1": table[split] if ".candidate" in str(model_dir) else 0.80,
                                     "benign_false_alarm_rate": 0.05}


class CopyTrainer:
    def __init__(self):
        self.extra = None

    def __call__(self, output, extra):
        self.extra = extra
        shutil.copytree(MODEL_DIR, output)


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


def test_a_candidate_no_worse_on_dev_and_test_is_installed_in_the_data_directory(tmp_path):
    cfg = config(tmp_path)
    trainer = CopyTrainer()
    examples = feedback_examples_of(["Smack Lane park was lovely"])
    report = retrain(cfg, examples, trainer, figures(dev=0.795, test=0.81))
    assert report.installed and trainer.extra == examples
    assert current_model_dir(cfg) == setting_model_dir(cfg) and (setting_model_dir(cfg) / "config.cfg").exists()
    text = "\n".join(report.lines())
    assert "dev macro F1" in text and "0.800     0.795" in text and "Installed" in text


def test_a_candidate_worse_by_more_than_a_hundredth_is_not_installed(tmp_path):
    cfg = config(tmp_path)
    report = retrain(cfg, feedback_examples_of(["Smack Lane park"]), CopyTrainer(), figures(dev=0.80, test=0.785))
    assert not report.installed and "NOT installed" in report.reason and "test" in report.reason
    assert current_model_dir(cfg) == MODEL_DIR
    assert not any(setting_model_dir(cfg).parent.glob("model*"))


def test_no_examples_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no labelled examples"):
        retrain(config(tmp_path), [], CopyTrainer(), figures(0.8, 0.8))


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


def test_train_with_feedback_hands_the_settings_examples_to_the_trainer(tmp_path, capsys, make_config, sessions,
                                                                       monkeypatch):
    """The command reads the setting's stored examples and trains with them as `extra`
    (the trainer and evaluation are stood in for: a real run is benchmarks/bench_feedback_training.py)."""
    import classifiers.cli
    import classifiers.train
    from monitor.cli.main import main
    from monitor.core.models import Setting

    cfg = make_config()
    with sessions.begin() as s:
        setting = Setting(key="little-acorns", name="Little Acorns", timezone="Europe/London")
        s.add(setting)
        s.flush()
        s.add(LabelledExample(setting_id=setting.id, source="not_a_concern", text="Smack Lane park",
                              platform="facebook", labels=[], created_at=NOW))
    given = []

    def fake_train(output, seed, extra):
        given.extend(extra)
        shutil.copytree(MODEL_DIR, output, dirs_exist_ok=True)

    monkeypatch.setattr(classifiers.train, "train", fake_train)
    monkeypatch.setattr(classifiers.cli, "evaluate",
                        lambda split, model_dir=None: {"results": {"nurserywatch": {"macro_f1": 0.8,
                                                                                    "benign_false_alarm_rate": 0.05}}})
    path = tmp_path / "nw.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[setting]\nname = "Little Acorns"\n'
                    f'[database]\nurl = "{cfg.database.url}"\n')
    assert main(["train", "--with-feedback", "--config", str(path)]) == 0
    assert [(e.text, e.labels) for e in given] == [("Smack Lane park", frozenset())]
    assert "Installed" in capsys.readouterr().out
