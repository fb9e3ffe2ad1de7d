"""`train --with-feedback` on 50 synthetic "not a concern" examples: do the false
alarms on them go down, and does macro F1 on the shipped dev and test sets hold
(within 0.01)?

The examples are benign comments about local places whose names sound like
harm ("Smack Lane", "Bruiser's Field"), the kind of false alarm a setting
teaches away. The real trainer runs (minutes); the model is written to a
temporary data directory, never into the package.

    python benchmarks/bench_feedback_training.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers.cli import evaluate  # noqa: E402
from classifiers.corpus import Example  # noqa: E402
from classifiers.train import SEED, train  # noqa: E402
from monitor.core.settings import config_from_dict  # noqa: E402
from monitor.feedback_training import retrain  # noqa: E402

PLACES = ["Smack Lane", "Hitchin Road", "Burns Park", "Bruiser's Field", "Kicking Lane", "Cutts Meadow",
          "Beaton Common"]
TEMPLATES = ["Who's coming to {p} playground on Saturday?", "Can someone tell me if {p} car park is open?",
             "The children loved the ducks at {p}", "Lovely walk to {p} with the little ones today",
             "Sports day at {p} was brilliant", "Forest school at {p} again next week",
             "Muddy boots after {p} but big smiles", "Great picnic at {p} this afternoon, thank you all"]


def examples() -> list[Example]:
    texts = [t.format(p=p) for t in TEMPLATES for p in PLACES][:50]
    return [Example(text=t, labels=frozenset(), platform="facebook", source="synthetic") for t in texts]


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir:
        config = config_from_dict({"setting": {"name": "Little Acorns Nursery", "town": "Hadleigh"},
                                   "data_dir": data_dir})
        started = time.monotonic()
        report = retrain(config, examples(),
                         trainer=lambda output, extra: train(output=output, seed=SEED, extra=extra),
                         evaluator=lambda split, model: evaluate(split, model_dir=model)["results"]["nurserywatch"])
        print("\n".join(report.lines()))
        print(f"({time.monotonic() - started:.0f} s including evaluation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
