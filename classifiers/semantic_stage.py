"""The semantic stage: a second look, by meaning, at what the fast first stage flags or nearly flags.

The first stage (rules + bag-of-words textcat + combiner) reads words; it cannot
tell "a child came to harm" from "a complaint about a named family" when both
use the same words. This stage reads the comment's meaning with a sentence
encoder (semantic.py, all-MiniLM-L6-v2 in numpy) and re-scores a label only
where the first stage's score for it reached the label's *floor* (a fraction
of its threshold): so it runs on what the first stage flags or nearly flags,
never on every comment, and the fast path's speed is kept for the rest.

For a label above its floor the new score is a logistic over the first
stage's combiner features (combine.py) plus two more: the probability a small
logistic *head* over the sentence vector gives the label, and its log-odds / 5.
Below the floor a label is never raised. `nurserywatch train` fits the head and
the combiner out-of-fold on the train split (semantic_fit.py) and writes
model/semantic.json; the encoder itself is the installed base model, with the
fine-tuned tensors of model/semantic_layers.safetensors over it when present.

Every label the stage changes says so in plain words in the evidence: raised
(the first stage alone would not have) or lowered (the finding is kept, without
the label, and says why), as corrections.py does for a setting's lessons.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy

from monitor.core.types import CATEGORIES as LABELS
from monitor.core.types import Evidence, Finding

from .combine import features, logit, probability, sensitivity_thresholds

SEMANTIC_FILE = "semantic.json"
OVERRIDES_FILE = "semantic_layers.safetensors"
HEAD_SCALE = 10.0  # the head reads 10 x the unit-length sentence vector (its entries are ~0.05)
DETECTOR = "semantic"
RAISED = "read as a whole, the comment's meaning is close to the {what} in training (second look by meaning)"
LOWERED = "read as a whole, the comment's meaning is not close enough to the {what} in training: not raised (second look by meaning)"
WHAT = {
    "safeguarding": "safeguarding concerns",
    "confidentiality": "comments that share personal details",
    "criticism": "complaints",
}


def unavailable(options, model_dir: Path) -> str | None:
    """Why `[classifier] semantic = true` in `options` cannot run with the model in `model_dir`: the
    sentence model is not installed (semantic.unavailable), or the model has no fitted stage; None
    when the stage is off or can run."""
    from .semantic import unavailable as not_installed

    if why := not_installed(options):
        return why
    if getattr(options, "semantic", False) and not (Path(model_dir) / SEMANTIC_FILE).exists():
        return (f"classifier.semantic: is true, but the classifier model ({model_dir}) has no fitted semantic "
                f"stage ({SEMANTIC_FILE}); train one with `nurserywatch train` (the sentence model installed), "
                "or set semantic = false")
    return None


def stage_features(label: str, rules: dict[str, float], model: dict[str, float], rating: int | None,
                   context: dict[str, float] | None, head_p: float) -> list[float]:
    """The first stage's combiner features for `label`, then the head's probability and its log-odds / 5."""
    return features(label, rules, model, rating, context) + [head_p, logit(head_p) / 5]


def head_probs(head: dict[str, list[float]], vectors: numpy.ndarray) -> numpy.ndarray:
    """(n, 3) probabilities of the per-label logistic heads over the (n, 384) sentence vectors."""
    out = numpy.zeros((len(vectors), len(LABELS)))
    for j, label in enumerate(LABELS):
        w = numpy.asarray(head[label], dtype=numpy.float64)
        out[:, j] = 1 / (1 + numpy.exp(-(w[0] + (vectors.astype(numpy.float64) * HEAD_SCALE) @ w[1:])))
    return out


@dataclass
class SemanticStage:
    head: dict[str, list[float]] = field(default_factory=dict)  # label -> [bias, w1..w384]
    weights: dict[str, list[float]] = field(default_factory=dict)  # label -> [bias, w...] over stage_features
    thresholds: dict[str, float] = field(default_factory=dict)  # on the stage's score, sensitivity "normal"
    thresholds_high: dict[str, float] = field(default_factory=dict)  # sensitivity "high"
    floor: float = 0.5  # a label is re-read when its first-stage score reaches floor x its threshold
    encoder: object | None = None  # semantic.Encoder, loaded by `load`

    @classmethod
    def load(cls, model_dir: Path) -> "SemanticStage":
        """The fitted stage and its encoder; a clear error when either is missing."""
        from .semantic import Encoder, SemanticUnavailable

        path = Path(model_dir) / SEMANTIC_FILE
        if not path.exists():
            raise SemanticUnavailable(f"the semantic stage is on but {path} is missing; "
                                      "run `nurserywatch train` with the semantic model installed")
        stage = cls.from_json(json.loads(path.read_text()))
        overrides = Path(model_dir) / OVERRIDES_FILE
        stage.encoder = Encoder.load(overrides=overrides if overrides.exists() else None)
        return stage

    @classmethod
    def from_json(cls, data: dict) -> "SemanticStage":
        return cls(head=data["head"], weights=data["weights"], thresholds=data["thresholds"],
                   thresholds_high=data.get("thresholds_high", {}), floor=data["floor"])

    def save(self, path: Path) -> None:
        data = {"features": "combine.FEATURE_NAMES + head, head_logit/5", "floor": self.floor,
                "thresholds": self.thresholds, "thresholds_high": self.thresholds_high,
                "weights": self.weights, "head": self.head}
        path.write_text(json.dumps(data) + "\n")

    def for_sensitivity(self, sensitivity: str = "normal", overrides: dict[str, float] | None = None) -> dict[str, float]:
        """The stage's thresholds for a sensitivity level, then the setting's per-label overrides."""
        return sensitivity_thresholds(self.thresholds, self.thresholds_high, sensitivity, overrides)

    def labels_to_read(self, scores: dict[str, float], first_thresholds: dict[str, float]) -> list[str]:
        """The labels whose first-stage score reached floor x the first stage's threshold."""
        return [lab for lab in LABELS if scores[lab] >= self.floor * first_thresholds[lab]]

    def score(self, label: str, rules: dict[str, float], model: dict[str, float], rating: int | None,
              context: dict[str, float] | None, head_p: float) -> float:
        return probability(self.weights[label], stage_features(label, rules, model, rating, context, head_p))

    def vectors(self, texts: list[str]) -> numpy.ndarray:
        return self.encoder.encode(texts) if texts else numpy.zeros((0, 384), dtype=numpy.float32)


def second_look(finding: Finding, raised: bool, score: float, thresholds: dict[str, float]) -> Finding:
    """`finding` with a plain-words note that the semantic stage raised its label (the first stage
    alone would not have) or lowered it (the finding is kept for the record, without the label)."""
    label = finding.category
    reason = (RAISED if raised else LOWERED).format(what=WHAT[label])
    ev = Evidence(0, 0, "", reason, DETECTOR, "raised" if raised else "lowered",
                  scores={"semantic": round(score, 4), "threshold": thresholds[label]})
    detector = f"{finding.detector}+{DETECTOR}" if raised else finding.detector
    return replace(finding, evidence=finding.evidence + (ev,), detector=detector)
