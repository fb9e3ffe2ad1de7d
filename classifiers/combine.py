"""Combine the rule score and the model probability for each label.

Without a trained model the rule score is the score and the threshold is 0.5.
With one, `nurserywatch train` fits a tiny logistic combiner per label on
out-of-fold predictions over the *train* split and picks the threshold there;
both are stored in model/combiner.json so the figures are reproducible.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

RULES_ONLY_THRESHOLD = 0.5


def features(rule: float, model: float) -> list[float]:
    return [rule, model, rule * model, 1.0 if rule >= 0.5 else 0.0]


@dataclass
class Combiner:
    weights: dict[str, list[float]] = field(default_factory=dict)  # label -> [bias, w...]
    thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> "Combiner":
        if path is None or not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(weights=data["weights"], thresholds=data["thresholds"])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"weights": self.weights, "thresholds": self.thresholds}, indent=2) + "\n")

    def score(self, label: str, rule: float, model: float | None) -> float:
        w = self.weights.get(label)
        if model is None or w is None:
            return rule
        z = w[0] + sum(wi * xi for wi, xi in zip(w[1:], features(rule, model)))
        return 1 / (1 + math.exp(-z))

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, RULES_ONLY_THRESHOLD)
