"""Combine rule scores and model probabilities into one score per label.

Without a trained model the rule score is the score and the threshold is 0.5.
With one, `nurserywatch train` fits a small logistic combiner per label on
out-of-fold predictions over the *train* split and picks the threshold there;
both are stored in model/combiner.json, so the figures are reproducible.

Features for label L (all in 0..1): the rule score and model probability for
L, their product, "a rule alone reached 0.5", the model's log-odds / 5, the
other two labels' model and rule scores (a complaint about a named child is
evidence of a confidentiality problem), the star rating (1-2, 3, 4-5), and two
context signals the rules compute but the bag-of-words model cannot see: how
strongly a benign context for L was found anywhere in the comment ("on the
news", "another nursery", a handled accident, praise; 1 - its factor), and
"not written in English" (the model learned little about other languages), and
"three words or fewer" (where the model's output is mostly its prior); and
from the thread (thread.py): the concern the nearest earlier comments raised
for L (rule score / threshold), that concern when the reply echoes it, and
"written by the setting's own account".
A combiner.json with fewer weights (an older model) ignores the extra features.
"""
from __future__ import annotations

import json
import math
from operator import mul
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.types import CATEGORIES as LABELS  # the one definition of the label names

RULES_ONLY_THRESHOLD = 0.5
FEATURE_NAMES = ("rule", "model", "rule*model", "rule>=0.5", "model_logit/5",
                 "model_other1", "model_other2", "rule_other1", "rule_other2",
                 "stars<=2", "stars=3", "stars>=4", "benign_context", "foreign", "short",
                 "thread", "thread*echo", "is_setting")


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def probability(weights: list[float], feats: list[float]) -> float:
    """A logistic's output: weights = [bias, w...] over `feats` (the combiner's, and the semantic stage's)."""
    # map(mul): the same products summed in the same order as a generator would, at half the cost
    return 1 / (1 + math.exp(-(weights[0] + sum(map(mul, weights[1:], feats)))))


def features(label: str, rules: dict[str, float], model: dict[str, float], rating: int | None,
             context: dict[str, float] | None = None) -> list[float]:
    """`context`: {label: benign damping 0..1, ..., "foreign": 0/1, "short": 0/1, "thread_<label>": the
    earlier comments' concern (score / threshold), "echo": 0/1, "is_setting": 0/1} (Classifier.judge_parts)."""
    r, m = rules[label], model[label]
    context = context or {}
    others = [lab for lab in LABELS if lab != label]
    return [
        r, m, r * m, 1.0 if r >= 0.5 else 0.0, logit(m) / 5,
        model[others[0]], model[others[1]], rules[others[0]], rules[others[1]],
        1.0 if rating is not None and rating <= 2 else 0.0,
        1.0 if rating == 3 else 0.0,
        1.0 if rating is not None and rating >= 4 else 0.0,
        context.get(label, 0.0), context.get("foreign", 0.0), context.get("short", 0.0),
        context.get(f"thread_{label}", 0.0), context.get(f"thread_{label}", 0.0) * context.get("echo", 0.0),
        context.get("is_setting", 0.0),
    ]


def sensitivity_thresholds(normal: dict[str, float], high: dict[str, float], sensitivity: str = "normal",
                           overrides: dict[str, float] | None = None) -> dict[str, float]:
    """The thresholds of a sensitivity level ("high": recall first), then a setting's per-label overrides."""
    out = dict(normal)
    if sensitivity == "high":
        out.update(high)
    out.update(overrides or {})
    return out


@dataclass
class Combiner:
    weights: dict[str, list[float]] = field(default_factory=dict)  # label -> [bias, w...]
    thresholds: dict[str, float] = field(default_factory=dict)  # sensitivity "normal"
    thresholds_high: dict[str, float] = field(default_factory=dict)  # sensitivity "high"

    @classmethod
    def load(cls, path: Path | None) -> "Combiner":
        if path is None or not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(weights=data["weights"], thresholds=data["thresholds"],
                   thresholds_high=data.get("thresholds_high", {}))

    def save(self, path: Path) -> None:
        data = {"features": FEATURE_NAMES, "weights": self.weights, "thresholds": self.thresholds,
                "thresholds_high": self.thresholds_high}
        path.write_text(json.dumps(data, indent=2) + "\n")

    def for_sensitivity(self, sensitivity: str = "normal", overrides: dict[str, float] | None = None) -> "Combiner":
        """The same weights with the thresholds of a sensitivity level, then per-label overrides."""
        return Combiner(self.weights, sensitivity_thresholds(self.thresholds, self.thresholds_high, sensitivity,
                                                             overrides), self.thresholds_high)

    def score(self, label: str, rules: dict[str, float], model: dict[str, float] | None,
              rating: int | None = None, context: dict[str, float] | None = None) -> float:
        w = self.weights.get(label)
        if model is None or w is None:
            return rules[label]
        return probability(w, features(label, rules, model, rating, context))

    def threshold(self, label: str, with_model: bool = True) -> float:
        """The fitted threshold for combined scores; 0.5 for a rule score alone."""
        if not with_model:
            return RULES_ONLY_THRESHOLD
        return self.thresholds.get(label, RULES_ONLY_THRESHOLD)
