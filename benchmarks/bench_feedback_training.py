"""`train --with-feedback` on 50 synthetic "not a concern" examples: do the false
alarms on them go down, and does macro F1 on the shipped dev and test sets hold
(within 0.01)?

The examples are benign comments about local places whose names sound like
harm ("Smack Lane", "Bruiser's Field"), the kind of false alarm a setting
teaches away. They become the setting's corrections (classifiers/corrections.py),
written to a temporary data directory, never into the package. Beside the
figures `train --with-feedback` prints, three that it cannot:

- leave-one-out: each of the 50 judged with corrections learnt from the other 49;
- new benign comments about the same places, worded differently (not taught);
- real concerns at the same places (some in the taught comments' own words):
  how many keep their safeguarding label.

    python benchmarks/bench_feedback_training.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers.classifier import build_classifier  # noqa: E402
from classifiers.cli import guard_evaluator  # noqa: E402
from classifiers.corpus import Example  # noqa: E402
from classifiers.corrections import Corrections  # noqa: E402
from monitor.core.settings import config_from_dict  # noqa: E402
from monitor.feedback_training import false_alarms, retrain  # noqa: E402

PLACES = ["Smack Lane", "Hitchin Road", "Burns Park", "Bruiser's Field", "Kicking Lane", "Cutts Meadow",
          "Beaton Common"]
TEMPLATES = ["Who's coming to {p} playground on Saturday?", "Can someone tell me if {p} car park is open?",
             "The children loved the ducks at {p}", "Lovely walk to {p} with the little ones today",
             "Sports day at {p} was brilliant", "Forest school at {p} again next week",
             "Muddy boots after {p} but big smiles", "Great picnic at {p} this afternoon, thank you all"]

NEW_BENIGN = ["Anyone at {p} playground this morning?", "Is {p} muddy today? Wellies or trainers?",
              "Pick up from {p} at 3pm after the trip", "Thanks for the photos from {p}, the children had a ball",
              "Does anyone know if the cafe at {p} is open on Sundays?"]
CONCERNS = ["A man was taking photos of the children at {p} playground and staff did nothing",
            "My son came back from {p} with a bruise on his arm and nobody told me",
            "A child was left alone at {p} when the group walked back",
            "One of the staff smacked my daughter at {p} today",
            "Who's coming to {p} playground on Saturday? A man there was filming the kids last week",
            "Can someone tell me if {p} car park is open? Last time a staff member left my son in the minibus",
            "The children loved the ducks at {p} but my daughter came home with scratches on her face",
            "Sports day at {p} was brilliant until a dad grabbed a little boy by the arm and shook him"]


def examples(templates: list[str] = TEMPLATES, n: int = 50) -> list[Example]:
    texts = [t.format(p=p) for t in templates for p in PLACES][:n]
    return [Example(text=t, labels=frozenset(), platform="facebook", source="synthetic") for t in texts]


def generalisation(clf, taught: list[Example]) -> list[str]:
    def learn(exs):
        return clf.learn([(e.text, e.platform) for e in exs], [e.labels for e in exs])

    loo = sum(false_alarms(clf, learn(taught[:i] + taught[i + 1:]), [e]) for i, e in enumerate(taught))
    new = examples(NEW_BENIGN, 1000)
    concerns = [t.format(p=p) for t in CONCERNS for p in PLACES]
    corrections = learn(taught)

    def kept(corr):
        clf.corrections = corr
        return sum("safeguarding" in r.labels for r in clf.classify_batch([(t, "facebook") for t in concerns]))

    before, after = kept(Corrections()), kept(corrections)
    clf.corrections = Corrections()
    return [f"{'leave-one-out wrong labels (of 50)':<44}{false_alarms(clf, Corrections(), taught):>6}{loo:>6}",
            f"{f'new benign comments, wrong labels (of {len(new)})':<44}{false_alarms(clf, Corrections(), new):>6}"
            f"{false_alarms(clf, corrections, new):>6}",
            f"{f'concerns at the places still flagged (of {len(concerns)})':<44}{before:>6}{after:>6}"]


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir:
        config = config_from_dict({"setting": {"name": "Little Acorns Nursery", "town": "Hadleigh"},
                                   "data_dir": data_dir})
        started = time.monotonic()
        clf = build_classifier(config.setting, config.roster)
        report = retrain(config, examples(), classifier=clf,
                         evaluator=guard_evaluator())
        print("\n".join(report.lines()))
        print(f"({time.monotonic() - started:.0f} s including evaluation)")
        print()
        print(f"{'':<44}{'before':>6}{'after':>6}")
        print("\n".join(generalisation(clf, examples())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
