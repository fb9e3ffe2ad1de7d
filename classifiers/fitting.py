"""The small fits `nurserywatch train` makes on out-of-fold scores: a logistic regression and the
thresholds (train.py's combiner, semantic_fit.py's semantic stage)."""
from __future__ import annotations

import numpy

# Thresholds on the out-of-fold scores: safeguarding is recall first - the highest
# threshold that still keeps SAFEGUARDING_MIN_RECALL (a margin above the 0.90
# target, because rules written while reading train look better on train than on
# new comments); the others maximise F-beta. Criticism leans to precision (beta
# 0.8): its out-of-fold F1 is flat around the optimum, and most benign false
# alarms on comments from a new nursery were criticism raised by the model alone.
SAFEGUARDING_MIN_RECALL = 0.94
THRESHOLD_BETA = {"confidentiality": 1.0, "criticism": 0.8}
# [classifier] sensitivity = "high": recall first for every label (more alerts, more false alarms)
HIGH_SAFEGUARDING_MIN_RECALL = 0.98
HIGH_THRESHOLD_BETA = {"confidentiality": 2.0, "criticism": 2.0}


def fit_logistic(x: numpy.ndarray, y: numpy.ndarray, l2: float = 1e-2, iters: int = 50) -> list[float]:
    """Newton's method for a small L2-regularised logistic regression. Returns [bias, w...]."""
    X = numpy.hstack([numpy.ones((len(x), 1)), x])
    w = numpy.zeros(X.shape[1])
    reg = numpy.full(X.shape[1], l2)
    reg[0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + numpy.exp(-(X @ w)))
        grad = X.T @ (p - y) + reg * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + numpy.diag(reg) + 1e-9 * numpy.eye(len(w))
        step = numpy.linalg.solve(hess, grad)
        w -= step
        if numpy.abs(step).max() < 1e-8:
            break
    return [float(v) for v in w]


def recall_threshold(scores: numpy.ndarray, y: numpy.ndarray, min_recall: float) -> float:
    """The highest threshold (step 0.01) whose recall is still at least `min_recall`."""
    positives = max(1.0, float((y == 1).sum()))
    for t in numpy.arange(0.95, 0.049, -0.01):
        if float(((scores >= t) & (y == 1)).sum()) / positives >= min_recall:
            return round(float(t), 2)
    return 0.05


def best_threshold(scores: numpy.ndarray, y: numpy.ndarray, beta: float) -> float:
    best_t, best_f = 0.5, -1.0
    for t in numpy.arange(0.05, 0.951, 0.01):
        pred = scores >= t
        tp = float((pred & (y == 1)).sum())
        fp = float((pred & (y == 0)).sum())
        fn = float((~pred & (y == 1)).sum())
        denom = (1 + beta**2) * tp + beta**2 * fn + fp
        f = (1 + beta**2) * tp / denom if denom else 0.0
        if f > best_f + 1e-9:
            best_t, best_f = float(t), f
    return round(best_t, 2)
