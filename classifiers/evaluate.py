"""Per-label precision, recall and F1, macro F1 and the benign false-alarm rate."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.core.types import CATEGORIES as LABELS  # the one definition of the label names


def score(gold: Sequence[Iterable[str]], pred: Sequence[Iterable[str]]) -> dict:
    gold = [set(g) for g in gold]
    pred = [set(p) for p in pred]
    out: dict = {"n": len(gold), "labels": {}}
    f1s = []
    for label in LABELS:
        tp = sum(label in g and label in p for g, p in zip(gold, pred))
        fp = sum(label not in g and label in p for g, p in zip(gold, pred))
        fn = sum(label in g and label not in p for g, p in zip(gold, pred))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out["labels"][label] = {"precision": precision, "recall": recall, "f1": f1,
                                "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}
        f1s.append(f1)
    out["macro_f1"] = sum(f1s) / len(f1s)
    benign = [p for g, p in zip(gold, pred) if not g]
    out["benign"] = len(benign)
    out["benign_false_alarm_rate"] = sum(bool(p) for p in benign) / len(benign) if benign else 0.0
    return out


def format_table(results: dict[str, dict]) -> str:
    """Systems side by side: one row per label and metric."""
    names = list(results)
    width = max(14, *(len(n) + 2 for n in names))
    lines = [f"{'':<34}" + "".join(f"{n:>{width}}" for n in names)]
    for label in LABELS:
        for metric in ("precision", "recall", "f1"):
            row = f"{label + ' ' + metric:<34}"
            row += "".join(f"{results[n]['labels'][label][metric]:>{width}.3f}" for n in names)
            lines.append(row)
    lines.append(f"{'macro F1':<34}" + "".join(f"{results[n]['macro_f1']:>{width}.3f}" for n in names))
    lines.append(f"{'benign false-alarm rate':<34}"
                 + "".join(f"{results[n]['benign_false_alarm_rate']:>{width}.1%}" for n in names))
    any_r = results[names[0]]
    lines.append(f"({any_r['n']} comments, {any_r['benign']} benign; support: "
                 + ", ".join(f"{lab} {any_r['labels'][lab]['support']}" for lab in LABELS) + ")")
    return "\n".join(lines)


RELIABILITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def reliability(gold: Sequence[Iterable[str]], scores: Sequence[dict[str, float]]) -> dict:
    """Per label and score band: how many comments, their mean score, and how many really had the label.
    Calibrated scores have mean score ~ observed rate in every band."""
    gold = [set(g) for g in gold]
    out: dict = {}
    for label in LABELS:
        rows = []
        for lo, hi in zip(RELIABILITY_BINS, RELIABILITY_BINS[1:]):
            idx = [i for i, s in enumerate(scores) if lo <= s[label] < hi]
            rows.append({"band": f"{lo:.1f}-{min(hi, 1.0):.1f}", "n": len(idx),
                         "mean_score": sum(scores[i][label] for i in idx) / len(idx) if idx else None,
                         "observed": sum(label in gold[i] for i in idx) / len(idx) if idx else None})
        out[label] = rows
    return out


def format_reliability(table: dict) -> str:
    lines = [f"{'reliability (score band)':<26}" + "".join(f"{r['band']:>16}" for r in table[LABELS[0]])]
    for label in LABELS:
        cells = "".join(f"{'-':>16}" if r["n"] == 0 else f"{r['mean_score']:>6.2f}/{r['observed']:.2f} n{r['n']:<4}"
                        for r in table[label])
        lines.append(f"{label:<26}{cells}")
    lines.append("(each cell: mean score / share that really had the label, and how many comments)")
    return "\n".join(lines)


def format_levels(levels: dict[str, dict]) -> str:
    """Precision and recall of each sensitivity level, per label."""
    lines = [f"{'sensitivity':<14}" + "".join(f"{lab:>30}" for lab in LABELS) + f"{'benign false alarms':>22}"]
    for level, res in levels.items():
        cells = "".join(f"{'P %.3f R %.3f (t %.2f)' % (res['labels'][lab]['precision'], res['labels'][lab]['recall'], res['thresholds'][lab]):>30}"
                        for lab in LABELS)
        lines.append(f"{level:<14}{cells}{res['benign_false_alarm_rate']:>22.1%}")
    return "\n".join(lines)
