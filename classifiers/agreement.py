"""How far two careful readers agree on the labels, with the classifier beside them.

Every corpus comment was labelled by the person who wrote it. A second reader
labelled the dev comments again from the label definitions alone, seeing
neither those labels nor the classifier's (`data/second/dev.jsonl`: each line
names a comment by its setting and `source`, file and line). Where two people
who read the same definitions differ, the classifier's "mistake" against
either of them may be a reading rather than an error, so their agreement is a
rough ceiling for the figures any classifier can reach on these comments.

`nurserywatch evaluate --agreement` prints:
- the second reader scored against the writer (as if the writer were right);
- Cohen's kappa per label (agreement beyond what chance would give);
- nurserywatch against the writer, against the second reader, and on the
  comments where both readers gave the same labels.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from .corpus import DATA_DIR, Example
from .evaluate import LABELS, score

SECOND_DIR = DATA_DIR / "second"

Key = tuple[str, str]  # (setting, source: "file.jsonl:line")


def load_second(split: str = "dev", path: Path | None = None) -> dict[Key, frozenset[str]]:
    """The second reader's labels, by comment. A malformed line, an unknown label or a comment labelled twice
    is an error; a line naming a comment that is not scored (another setting, a removed line) is skipped."""
    path = path or SECOND_DIR / f"{split}.jsonl"
    if not path.exists():
        raise SystemExit(f"evaluate --agreement: no second reading of the {split} split ({path} is missing)")
    out: dict[Key, frozenset[str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key, labels = (row["setting"], row["source"]), frozenset(row["labels"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: expected {{\"setting\", \"source\", \"labels\"}} ({err})") from None
        if unknown := labels - set(LABELS):
            raise ValueError(f"{path}:{n}: unknown label(s) {sorted(unknown)}")
        if key in out:
            raise ValueError(f"{path}:{n}: {key[0]} {key[1]} is labelled twice")
        out[key] = labels
    return out


def kappa(a: Sequence[Iterable[str]], b: Sequence[Iterable[str]], label: str) -> float:
    """Cohen's kappa of two readers on one label (1 = always agree, 0 = no better than chance)."""
    x = [label in set(one) for one in a]
    y = [label in set(two) for two in b]
    n = len(x)
    if not n:
        return 0.0
    observed = sum(p == q for p, q in zip(x, y)) / n
    px, py = sum(x) / n, sum(y) / n
    chance = px * py + (1 - px) * (1 - py)
    return 1.0 if chance == 1 else (observed - chance) / (1 - chance)


def agreement(examples: Sequence[Example], predicted: Sequence[Iterable[str]],
              second: dict[Key, frozenset[str]]) -> dict:
    """The two readers and the classifier on the comments the second reader labelled."""
    rows = [(e.labels, frozenset(p), second[(e.setting, e.source)])
            for e, p in zip(examples, predicted) if (e.setting, e.source) in second]
    writer = [w for w, _, _ in rows]
    clf = [c for _, c, _ in rows]
    reader = [r for _, _, r in rows]
    agreed = [i for i, (w, _, r) in enumerate(rows) if w == r]
    return {
        "labelled": len(rows),
        "of": len(examples),
        "both readers agree": len(agreed),
        "kappa": {label: kappa(writer, reader, label) for label in LABELS},
        "results": {
            "second reader vs writer": score(writer, reader),
            "nurserywatch vs writer": score(writer, clf),
            "nurserywatch vs second reader": score(reader, clf),
            "nurserywatch where both agree": score([writer[i] for i in agreed], [clf[i] for i in agreed]),
        },
    }


__all__ = ["SECOND_DIR", "agreement", "kappa", "load_second"]
