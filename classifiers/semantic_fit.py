"""Fit the semantic stage (semantic_stage.py) for `nurserywatch train`, out-of-fold on the train split.

1. Sentence vectors of every train comment: its real text (what the stage
   reads at run time) and the text with names swapped (nameswap.py: what the
   heads learn from, so they cannot lean on particular names).
2. Out-of-fold heads (the same folds as the textcat's): a small L2-regularised
   logistic per label over the vector, fitted on the swapped texts of four
   folds, scoring the real texts of the fifth.
3. The stage's combiner per label: the first stage's features plus the head's
   probability, fitted on the out-of-fold rows; a label scores only where the
   out-of-fold first stage reached FLOOR x its threshold (below, it is never
   raised), and the thresholds are picked on those gated scores with the
   first stage's own rules (train.py).
4. The final heads on every train comment's swapped vector.
The dev split is never read. Deterministic given the seed and the encoder.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import numpy

from monitor.core.progress import track

from .combine import Combiner
from .corpus import LABELS, Example
from .fitting import (HIGH_SAFEGUARDING_MIN_RECALL, HIGH_THRESHOLD_BETA, SAFEGUARDING_MIN_RECALL, THRESHOLD_BETA,
                      best_threshold, fit_logistic, recall_threshold)
from .semantic_stage import HEAD_SCALE, SemanticStage, head_probs, stage_features

# A label is re-read where the first stage's score reached FLOOR x its threshold.
# 0.5 and 0.8 were measured (docs/classifier.md, Round 7): with 0.5 all dev safeguarding recall fell
# to 0.959, with 0.8 it held at 0.970, and the stage runs on a fifth of a real Page's comments.
FLOOR = 0.8
HEAD_L2 = 1.0  # the heads' L2 penalty; 1 and 10 were measured, 1 was better on dev


def fit_heads(x: numpy.ndarray, gold: numpy.ndarray) -> dict[str, list[float]]:
    return {lab: fit_logistic(x * HEAD_SCALE, gold[:, j], l2=HEAD_L2, iters=30) for j, lab in enumerate(LABELS)}


def out_of_fold_heads(real: numpy.ndarray, swapped: numpy.ndarray, gold: numpy.ndarray,
                      folds: int, seed: int) -> numpy.ndarray:
    """Each comment's head probabilities from heads fitted without its fold (train.out_of_fold's folds)."""
    idx = list(range(len(gold)))
    random.Random(seed).shuffle(idx)
    out = numpy.zeros((len(gold), len(LABELS)))
    for k in track(range(folds), "semantic heads out-of-fold"):
        held = idx[k::folds]
        keep = numpy.setdiff1d(numpy.arange(len(gold)), held)
        out[held] = head_probs(fit_heads(swapped[keep], gold[keep]), real[held])
    return out


def fit_stage(examples: Sequence[Example], swapped_texts: Sequence[str], rules: numpy.ndarray,
              model: numpy.ndarray, gold: numpy.ndarray, contexts: list[dict[str, float]],
              combiner: Combiner, encoder, folds: int, seed: int) -> tuple[SemanticStage, dict]:
    """The fitted stage (without its encoder) and its out-of-fold report on train."""
    real = encoder.encode([e.text for e in examples])
    swapped = encoder.encode(list(swapped_texts))
    heads_oof = out_of_fold_heads(real, swapped, gold, folds, seed)
    stage = SemanticStage(head=fit_heads(swapped, gold), floor=FLOOR)
    n = len(examples)
    rows = [({lab: float(rules[i, j]) for j, lab in enumerate(LABELS)},
             {lab: float(model[i, j]) for j, lab in enumerate(LABELS)}, examples[i].rating, contexts[i]) for i in range(n)]
    gated = numpy.zeros((n, len(LABELS)))
    for j, lab in enumerate(LABELS):
        x = numpy.array([stage_features(lab, r, m, rating, ctx, heads_oof[i, j])
                         for i, (r, m, rating, ctx) in enumerate(rows)])
        stage.weights[lab] = fit_logistic(x, gold[:, j])
        w = numpy.array(stage.weights[lab])
        first = numpy.array([combiner.score(lab, r, m, rating, ctx) for r, m, rating, ctx in rows])
        read = first >= FLOOR * combiner.threshold(lab)
        gated[:, j] = numpy.where(read, 1 / (1 + numpy.exp(-(w[0] + x @ w[1:]))), 0.0)
        if lab == "safeguarding":
            stage.thresholds[lab] = recall_threshold(gated[:, j], gold[:, j], SAFEGUARDING_MIN_RECALL)
            stage.thresholds_high[lab] = recall_threshold(gated[:, j], gold[:, j], HIGH_SAFEGUARDING_MIN_RECALL)
        else:
            stage.thresholds[lab] = best_threshold(gated[:, j], gold[:, j], THRESHOLD_BETA[lab])
            stage.thresholds_high[lab] = best_threshold(gated[:, j], gold[:, j], HIGH_THRESHOLD_BETA[lab])
        stage.thresholds_high[lab] = min(stage.thresholds_high[lab], stage.thresholds[lab])
    return stage, _report(gated, gold, stage.thresholds, contexts)


def _report(scores: numpy.ndarray, gold: numpy.ndarray, thresholds: dict[str, float],
            contexts: list[dict[str, float]]) -> dict:
    from .evaluate import score

    preds = [{lab for j, lab in enumerate(LABELS) if scores[i, j] >= thresholds[lab]
              and not (lab == "criticism" and contexts[i].get("is_setting"))} for i in range(len(gold))]
    gold_sets = [{lab for j, lab in enumerate(LABELS) if gold[i, j]} for i in range(len(gold))]
    return score(gold_sets, preds)
