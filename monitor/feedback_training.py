"""`nurserywatch train --with-feedback`: retrain with the setting's own labelled
examples, and install the result only if it is not worse on the shipped sets.

The examples are what people said in the web app: "not a concern" (the labels
the comment should have carried, without the wrong one) and "this needed a
human" (the labels it should have had). They are added to the shipped train
split; a candidate model is trained into the data directory (never into the
installed package), then the current model and the candidate are scored on the
shipped dev and test sets and on the examples themselves. The candidate
replaces the setting's model (`<data_dir>/model`, which the runtime prefers to
the shipped one) only when its macro F1 on dev and on test is at most
MAX_DROP below the current model's, so feedback can never silently make the
classifier worse.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.classifier import MODEL_DIR, build_classifier
from classifiers.corpus import Example
from monitor.core.settings import Config
from monitor.core.webmodels import LabelledExample

MAX_DROP = 0.01  # macro F1 may fall by at most this much on dev or test
SPLITS = ("dev", "test")

Trainer = Callable[[Path, list[Example]], object]  # (output dir, extra examples)
Evaluator = Callable[[str, Path], dict]  # (split, model dir) -> score() dict for nurserywatch


def setting_model_dir(config: Config) -> Path:
    return Path(config.data_dir) / "model"


def current_model_dir(config: Config) -> Path:
    """The setting's own model when there is one, else the shipped model."""
    own = setting_model_dir(config)
    return own if (own / "config.cfg").exists() else MODEL_DIR


def feedback_examples(session: Session, setting_id: int) -> list[Example]:
    rows = session.scalars(select(LabelledExample).where(LabelledExample.setting_id == setting_id)
                           .order_by(LabelledExample.id)).all()
    return [Example(text=r.text, labels=frozenset(r.labels), platform=r.platform, source=f"feedback:{r.id}")
            for r in rows]


def false_alarms(config: Config, model_dir: Path, examples: list[Example]) -> int:
    """Labels raised on the examples that people said they should not carry."""
    clf = build_classifier(config.setting, config.roster, model_dir=model_dir)
    preds = clf.classify_batch([(e.text, e.platform) for e in examples])
    return sum(len(set(p.labels) - e.labels) for p, e in zip(preds, examples))


@dataclass
class FeedbackReport:
    examples: int
    before: dict[str, dict]  # split -> score dict
    after: dict[str, dict]
    alarms_before: int
    alarms_after: int
    installed: bool
    reason: str

    def lines(self) -> list[str]:
        out = [f"{self.examples} labelled example(s) from this setting added to the shipped train split", "",
               f"{'':<34}{'before':>10}{'after':>10}"]
        for split in SPLITS:
            b, a = self.before[split], self.after[split]
            out.append(f"{split + ' macro F1':<34}{b['macro_f1']:>10.3f}{a['macro_f1']:>10.3f}")
            out.append(f"{split + ' benign false-alarm rate':<34}{b['benign_false_alarm_rate']:>10.1%}"
                       f"{a['benign_false_alarm_rate']:>10.1%}")
        out.append(f"{'wrong labels on your examples':<34}{self.alarms_before:>10}{self.alarms_after:>10}")
        out += ["", self.reason]
        return out


def retrain(config: Config, examples: list[Example], trainer: Trainer, evaluator: Evaluator) -> FeedbackReport:
    if not examples:
        raise ValueError("no labelled examples yet: close alerts as 'not a concern' or mark missed comments first")
    target = setting_model_dir(config)
    current = current_model_dir(config)
    candidate = target.with_name(target.name + ".candidate")
    if candidate.exists():
        shutil.rmtree(candidate)
    candidate.parent.mkdir(parents=True, exist_ok=True)
    before = {s: evaluator(s, current) for s in SPLITS}
    alarms_before = false_alarms(config, current, examples)
    trainer(candidate, examples)
    after = {s: evaluator(s, candidate) for s in SPLITS}
    alarms_after = false_alarms(config, candidate, examples)
    worse = [s for s in SPLITS if after[s]["macro_f1"] < before[s]["macro_f1"] - MAX_DROP]
    if worse:
        shutil.rmtree(candidate)
        reason = (f"NOT installed: macro F1 fell by more than {MAX_DROP} on {' and '.join(worse)}; "
                  f"the current model ({current}) stays.")
        return FeedbackReport(len(examples), before, after, alarms_before, alarms_after, False, reason)
    if target.exists():
        shutil.rmtree(target)
    candidate.rename(target)
    reason = f"Installed: {target} (used from the next start of nurserywatch)."
    return FeedbackReport(len(examples), before, after, alarms_before, alarms_after, True, reason)
