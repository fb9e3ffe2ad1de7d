"""`nurserywatch train --with-feedback`: teach the classifier the setting's own
labelled examples, and install the lesson only if it is not worse on the shipped sets.

The examples are what people said in the web app: "not a concern" (the labels
the comment should have carried, without the wrong one) and "this needed a
human" (the labels it should have had). They are NOT mixed into the shared
train split: retraining the shared model with 50 look-alike comments moved its
dev macro F1 from 0.837 to 0.821 (benchmarks/bench_feedback_training.py, the
previous version), because they reshuffle folds, weights and thresholds for
every comment. Instead they become the setting's corrections
(`classifiers/corrections.py`): a nearest-neighbour layer on top of the shared
model that only changes comments very like a taught one, for the same reasons.

The candidate corrections are written beside the data directory's file, then
the classifier with the current corrections and with the candidate is scored
on the shipped dev sets and the project's own test set (classifiers/guard.py),
and on the examples themselves. The candidate replaces
`<data_dir>/corrections.json` (read at the next start) only when the guard finds
it no worse: macro F1 down by at most 0.01 on dev and on test, and every
safeguarding concern there that the current one finds still found. So
feedback can never silently make the classifier worse.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.classifier import MODEL_DIR, Classifier, build_classifier
from classifiers.corpus import Example
from classifiers.corrections import Corrections
from classifiers.guard import SPLITS, Evaluator, comparison_lines, regressions
from monitor.core.settings import Config, RosterConfig
from monitor.core.webmodels import LabelledExample

log = logging.getLogger(__name__)


def setting_model_dir(config: Config) -> Path:
    """A model trained for the setting by an earlier version (kept working; no longer written)."""
    return config.setting_data_dir / "model"


def current_model_dir(config: Config) -> Path:
    """The setting's own model when there is one, else the shipped model."""
    own = setting_model_dir(config)
    return own if (own / "config.cfg").exists() else MODEL_DIR


def corrections_file(config: Config) -> Path:
    return config.setting_data_dir / "corrections.json"


def setting_classifier(config: Config, roster: RosterConfig | None = None) -> Classifier:
    """The classifier the setting runs: its model, its [classifier] options and its installed corrections.
    Corrections that cannot be read are left out (logged): more alerts, never none."""
    try:
        corrections = Corrections.load(corrections_file(config))
    except ValueError as err:
        log.error("%s; classifying without the setting's corrections", err)
        corrections = Corrections()
    return build_classifier(config.setting, roster or config.roster, model_dir=current_model_dir(config),
                            options=config.classifier, corrections=corrections)


def feedback_examples(session: Session, setting_id: int) -> list[Example]:
    rows = session.scalars(select(LabelledExample).where(LabelledExample.setting_id == setting_id)
                           .order_by(LabelledExample.id)).all()
    return [Example(text=r.text, labels=frozenset(r.labels), platform=r.platform, source=f"feedback:{r.id}")
            for r in rows]


def false_alarms(clf: Classifier, corrections: Corrections, examples: list[Example]) -> int:
    """Labels raised on the examples that people said they should not carry."""
    saved, clf.corrections = clf.corrections, corrections
    try:
        preds = clf.classify_batch([(e.text, e.platform) for e in examples])
    finally:
        clf.corrections = saved
    return sum(len(set(p.labels) - e.labels) for p, e in zip(preds, examples))


@dataclass
class FeedbackReport:
    examples: int
    taught: int  # examples the classifier got wrong, which became corrections
    before: dict[str, dict]  # split -> score dict
    after: dict[str, dict]
    alarms_before: int
    alarms_after: int
    installed: bool
    reason: str

    def lines(self) -> list[str]:
        out = [f"{self.examples} labelled example(s) from this setting; {self.taught} the classifier got wrong "
               "became corrections on top of the shared model", "",
               *comparison_lines(self.before, self.after)]
        out.append(f"{'wrong labels on your examples':<34}{self.alarms_before:>10}{self.alarms_after:>10}")
        out += ["", self.reason]
        return out


def retrain(config: Config, examples: list[Example], evaluator: Evaluator,
            classifier: Classifier | None = None) -> FeedbackReport:
    """Learn the setting's corrections from `examples`, compare, install if not worse."""
    if not examples:
        raise ValueError("no labelled examples yet: close alerts as 'not a concern' or mark missed comments first")
    target = corrections_file(config)
    clf = classifier or build_classifier(config.setting, config.roster, model_dir=current_model_dir(config),
                                         options=config.classifier)
    current = Corrections.load(target)
    candidate = clf.learn([(e.text, e.platform) for e in examples], [e.labels for e in examples])
    before = {s: evaluator(s, current) for s in SPLITS}
    after = {s: evaluator(s, candidate) for s in SPLITS}
    alarms = false_alarms(clf, current, examples), false_alarms(clf, candidate, examples)
    why = regressions(before, after)
    if why:
        reason = (f"NOT installed: {'; '.join(why)}; "
                  f"the current corrections ({target if target.exists() else 'none'}) stay.")
        return FeedbackReport(len(examples), len(candidate), before, after, *alarms, False, reason)
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate.save(target)
    reason = f"Installed: {target} (used from the next start of nurserywatch)."
    return FeedbackReport(len(examples), len(candidate), before, after, *alarms, True, reason)
