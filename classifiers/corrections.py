"""A setting's corrections: what its people taught, applied on top of the shared model.

People label comments in the web app: "not a concern" (a label it should not
have carried) and "this needed a human" (a label it should have had). Mixing
those into the shared train split and retraining moved everything: 50 look-alike
comments reshuffle a 4,580-comment model and its thresholds (dev macro F1 fell
from 0.837 to 0.821 in the measurement that made us stop). Instead a setting
keeps its lessons beside the shared model, as a nearest-neighbour layer that
only touches comments very like the ones it was taught on:

- **suppress** a raised label when the comment is like (cosine >= SUPPRESS_AT
  over content words and word pairs) a taught comment that carried the same
  label wrongly, AND every piece of evidence for it (detector, rule, words) was
  also evidence on those taught comments. A new reason ("bruise" where the
  taught comment only had "Bruiser's Field") keeps the label: the layer
  forgets only false alarms for the reasons already judged harmless.
- **add** a label when the comment is nearly the same (cosine >= ADD_AT) as a
  taught comment that needed a human for it and the model missed it.

A suppressed label keeps its finding, not alerting, with one more piece of
evidence saying why, so nothing is lost. The layer stores no words: hashes of
the taught comments' words (spaCy's own hashes) and of their evidence, and the
labels, in `corrections.json` (`Corrections.save`/`load`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from spacy.strings import get_string_id
from spacy.tokens import Doc

from monitor.core.types import CATEGORIES, Classification, Comment, Evidence, Finding

SUPPRESS_AT = 0.3  # similarity to a taught false alarm, with no new reason, that silences its label
ADD_AT = 0.8  # similarity to a taught miss that raises its label (near-duplicates only)
DETECTOR = "setting_feedback"
SUPPRESS_REASON = "very like a comment your setting marked not a concern, for the same reasons"
ADD_REASON = "very like a comment your setting said needed a human"
VERSION = 1

Key = tuple[str, str, int]  # (detector, rule, hash of the evidence's words, lower-cased)


@dataclass(frozen=True)
class Taught:
    """One lesson: a comment's word hashes, the labels it was wrongly given (with the hashed
    evidence for each), and the labels it should have had but did not get."""

    words: frozenset
    wrong: dict[str, frozenset[Key]]
    missed: tuple[str, ...]


def words_of(doc: Doc) -> frozenset:
    """Content words (NORM hashes) and pairs of neighbouring content words."""
    norms = [t.norm for t in doc if t.is_alpha and not t.is_stop and len(t) > 1]
    return frozenset(norms) | frozenset(zip(norms, norms[1:]))


def similarity(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def evidence_keys(finding: Finding) -> frozenset[Key]:
    return frozenset((e.detector, e.rule, get_string_id(e.text.lower())) for e in finding.evidence
                     if e.detector != DETECTOR)


class Corrections:
    def __init__(self, taught: Sequence[Taught] = ()):
        self.taught = tuple(taught)

    def __bool__(self) -> bool:
        return bool(self.taught)

    def __len__(self) -> int:
        return len(self.taught)

    @classmethod
    def learn(cls, docs: Iterable[Doc], comments: Sequence[Comment], results: Sequence[Classification],
              labels: Sequence[frozenset[str]]) -> "Corrections":
        """From each taught comment's doc, what the shared classifier said, and what people said."""
        taught = []
        for doc, result, gold in zip(docs, results, labels):
            found = {f.category: f for f in result.findings}
            wrong = {lab: evidence_keys(found[lab]) for lab in result.labels if lab not in gold}
            missed = tuple(lab for lab in CATEGORIES if lab in gold and lab not in result.labels)
            if wrong or missed:
                taught.append(Taught(words_of(doc), wrong, missed))
        return cls(taught)

    def apply(self, doc: Doc, result: Classification, scores: dict[str, float]) -> Classification:
        if not self.taught:
            return result
        words = words_of(doc)
        near = [(similarity(words, t.words), t) for t in self.taught]
        labels = list(result.labels)
        findings = list(result.findings)
        for i, f in enumerate(findings):
            if f.category not in labels:
                continue
            like = [t for s, t in near if s >= SUPPRESS_AT and f.category in t.wrong]
            if like and evidence_keys(f) <= frozenset().union(*(t.wrong[f.category] for t in like)):
                labels.remove(f.category)
                best = max(s for s, t in near if t in like)
                findings[i] = replace(f, evidence=f.evidence + (
                    Evidence(0, 0, "", SUPPRESS_REASON, DETECTOR, "not_a_concern", scores={"similarity": round(best, 3)}),))
        for cat in CATEGORIES:
            sims = [s for s, t in near if cat in t.missed and s >= ADD_AT]
            if cat in labels or not sims:
                continue
            labels.append(cat)
            findings = [f for f in findings if f.category != cat]
            findings.append(Finding(cat, "medium", min(1.0, scores.get(cat, 0.0)), (
                Evidence(0, 0, "", ADD_REASON, DETECTOR, "needed_human", scores={"similarity": round(max(sims), 3)}),),
                DETECTOR))
        if labels == list(result.labels) and findings == list(result.findings):
            return result
        order = {c: k for k, c in enumerate(CATEGORIES)}
        return replace(result, labels=tuple(sorted(labels, key=order.get)),
                       findings=tuple(sorted(findings, key=lambda f: order[f.category])))

    # -- the file the setting keeps (no words, only hashes) -------------------
    def save(self, path: Path) -> None:
        data = {"version": VERSION, "taught": [
            {"words": sorted(w for w in t.words if isinstance(w, int)),
             "pairs": sorted([a, b] for w in t.words if isinstance(w, tuple) for a, b in [w]),
             "wrong": {lab: sorted([d, r, h] for d, r, h in keys) for lab, keys in t.wrong.items()},
             "missed": list(t.missed)} for t in self.taught]}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path | None) -> "Corrections":
        if path is None or not Path(path).exists():
            return cls()
        try:
            data = json.loads(Path(path).read_text())
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
            return cls([Taught(frozenset(t["words"]) | frozenset(tuple(p) for p in t["pairs"]),
                               {lab: frozenset((d, r, h) for d, r, h in keys) for lab, keys in t["wrong"].items()},
                               tuple(t["missed"])) for t in data["taught"]])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: not a corrections file nurserywatch can read ({err}); "
                             "run `nurserywatch train --with-feedback` again") from None
