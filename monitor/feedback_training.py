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
on the shipped dev sets, the project's own test set (GUARD_SETTINGS) and the
examples themselves. The candidate
replaces `<data_dir>/corrections.json` (read at the next start) only when its
macro F1 on dev and on test is at most MAX_DROP below the current one's and it
finds every safeguarding concern there that the current one finds, so feedback
can never silently make the classifier worse. Macro F1 alone would not see a
lost concern: five of the test sets' 147 concerns are worth 0.005 of it
(docs/classifier.md, Round 8).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.classifier import MODEL_DIR, Classifier, build_classifier
from classifiers.corpus import HOME_TEST, Example
from classifiers.corrections import Corrections
from monitor.core.settings import Config, RosterConfig
from monitor.core.webmodels import LabelledExample

log = logging.getLogger(__name__)

MAX_DROP = 0.01  # macro F1 may fall by at most this much on dev or test
SPLITS = ("dev", "test")
# Which settings' comments the guard scores per split (None: all of them). Every dev split,
# but of the test splits only the project's own (Little Meadows): a test set written for
# another setting (incoming/<KEY>/test, e.g. g) is held out, scored once per shipped model,
# and must never decide anything.
GUARD_SETTINGS: dict[str, set[str] | None] = {"dev": None, "test": {HOME_TEST}}

Evaluator = Callable[[str, Corrections], dict]  # (split, corrections) -> score() dict for nurserywatch


def shipped_sets_evaluator(model_dir: Path | None = None) -> Evaluator:
    """The guard's evaluator: nurserywatch's figures on GUARD_SETTINGS, with the given corrections."""
    from classifiers.cli import evaluate

    return lambda split, corrections: evaluate(split, model_dir=model_dir, settings=GUARD_SETTINGS[split],
                                               corrections=corrections)["results"]["nurserywatch"]


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


def concerns_found(figures: dict) -> int:
    """How many of a split's safeguarding concerns were raised (a score() dict)."""
    return figures["labels"]["safeguarding"]["tp"]


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
               f"{'':<34}{'before':>10}{'after':>10}"]
        for split in SPLITS:
            b, a = self.before[split], self.after[split]
            out.append(f"{split + ' macro F1':<34}{b['macro_f1']:>10.3f}{a['macro_f1']:>10.3f}")
            out.append(f"{split + ' benign false-alarm rate':<34}{b['benign_false_alarm_rate']:>10.1%}"
                       f"{a['benign_false_alarm_rate']:>10.1%}")
            out.append(f"{split + ' safeguarding concerns found':<34}{concerns_found(b):>10}{concerns_found(a):>10}")
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
    worse = [s for s in SPLITS if after[s]["macro_f1"] < before[s]["macro_f1"] - MAX_DROP]
    missed = {s: concerns_found(before[s]) - concerns_found(after[s]) for s in SPLITS
              if concerns_found(after[s]) < concerns_found(before[s])}
    if worse or missed:
        why = [f"macro F1 fell by more than {MAX_DROP} on {' and '.join(worse)}"] if worse else []
        why += [f"it would miss {n} safeguarding concern(s) on {s} that the current corrections find"
                for s, n in missed.items()]
        reason = (f"NOT installed: {'; '.join(why)}; "
                  f"the current corrections ({target if target.exists() else 'none'}) stay.")
        return FeedbackReport(len(examples), len(candidate), before, after, *alarms, False, reason)
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate.save(target)
    reason = f"Installed: {target} (used from the next start of nurserywatch)."
    return FeedbackReport(len(examples), len(candidate), before, after, *alarms, True, reason)
