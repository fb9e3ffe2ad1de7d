"""Is a new model, or a setting's new corrections, no worse than what runs now?

Both `nurserywatch train` (a retrained model) and `train --with-feedback` (a
setting's corrections, monitor/feedback_training.py) score the current and the
candidate classifier on the guard sets and install the candidate only when
`regressions` finds nothing: macro F1 down by at most MAX_DROP on each split,
and not one safeguarding concern missed that the current one finds. Macro F1
alone does not see lost concerns: five of the test sets' 147 are worth 0.005
of it (docs/classifier.md, Round 8).
"""
from __future__ import annotations

from collections.abc import Callable

from .corpus import HOME_TEST

MAX_DROP = 0.01  # macro F1 may fall by at most this much on each guard split
SPLITS = ("dev", "test")
# Which settings' comments the guard scores per split (None: all of them). Every dev split,
# but of the test splits only the project's own (Little Meadows): a test set written for
# another setting (incoming/<KEY>/test, e.g. g) is held out, scored once per shipped model,
# and must never decide anything.
GUARD_SETTINGS: dict[str, set[str] | None] = {"dev": None, "test": {HOME_TEST}}

Evaluator = Callable[[str, object], dict]  # (split, corrections) -> score() dict for nurserywatch


def concerns_found(figures: dict) -> int:
    """How many of a split's safeguarding concerns were raised (a score() dict)."""
    return figures["labels"]["safeguarding"]["tp"]


def regressions(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """Why `after` is worse than `before` (score() dicts per split); empty when it is not."""
    why = [f"macro F1 fell by more than {MAX_DROP} on {s}" for s in SPLITS
           if after[s]["macro_f1"] < before[s]["macro_f1"] - MAX_DROP]
    why += [f"it would miss {concerns_found(before[s]) - concerns_found(after[s])} safeguarding concern(s) on {s} "
            "that the current one finds" for s in SPLITS if concerns_found(after[s]) < concerns_found(before[s])]
    return why


def comparison_lines(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """The guard's figures, before and after, one row each."""
    out = [f"{'':<34}{'before':>10}{'after':>10}"]
    for split in SPLITS:
        b, a = before[split], after[split]
        out.append(f"{split + ' macro F1':<34}{b['macro_f1']:>10.3f}{a['macro_f1']:>10.3f}")
        out.append(f"{split + ' benign false-alarm rate':<34}{b['benign_false_alarm_rate']:>10.1%}"
                   f"{a['benign_false_alarm_rate']:>10.1%}")
        out.append(f"{split + ' safeguarding concerns found':<34}{concerns_found(b):>10}{concerns_found(a):>10}")
    return out
