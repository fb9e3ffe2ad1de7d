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
