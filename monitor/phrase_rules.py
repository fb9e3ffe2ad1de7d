"""The setting's own phrase rules, applied after classification (a post-filter).

The manager or DSL keep two lists per label on the Phrases page, stored in
the database (table `phrase_rule`), never in the package's word lists:

- never flag: a phrase that made false alarms (the name of a local park that
  sounds like a surname): the label is not raised for a comment containing it.
- always flag: a phrase that must reach a person whatever the classifier
  thinks. The label is raised with the phrase as its evidence.

Order: "never" is applied first, then "always", so a phrase on both lists for
one label is flagged (a false alarm is cheaper than a miss). The pipeline
calls `PhraseRules.load` once per batch and `apply` on each classification;
rule edits therefore take effect on the next cycle, with no restart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.types import CATEGORIES, Classification, Evidence, Finding
from monitor.core.webmodels import PhraseRule

DETECTOR = "setting_phrases"
ALWAYS_REASON = "a phrase your setting asked to always flag"
ALWAYS_SEVERITY = {"safeguarding": "high", "confidentiality": "medium", "criticism": "medium"}


def phrase_pattern(phrase: str) -> re.Pattern:
    """Whole words, any case, any run of spaces between words."""
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def normalise_phrase(phrase: str) -> str:
    return " ".join(phrase.split()).lower()[:200]


@dataclass(frozen=True)
class PhraseRules:
    always: tuple[tuple[str, re.Pattern], ...] = ()  # (label, pattern)
    never: tuple[tuple[str, re.Pattern], ...] = ()

    @classmethod
    def load(cls, session: Session, setting_id: int) -> "PhraseRules":
        rows = session.scalars(select(PhraseRule).where(PhraseRule.setting_id == setting_id).order_by(PhraseRule.id))
        always, never = [], []
        for r in rows:
            if r.label in CATEGORIES and r.phrase.strip():
                (always if r.action == "always" else never).append((r.label, phrase_pattern(r.phrase)))
        return cls(tuple(always), tuple(never))

    def __bool__(self) -> bool:
        return bool(self.always or self.never)

    def apply(self, text: str, result: Classification) -> Classification:
        if not self or isinstance(result, Exception):
            return result
        labels = list(result.labels)
        for label, pattern in self.never:
            if label in labels and pattern.search(text):
                labels.remove(label)
        findings = list(result.findings)
        for label, pattern in self.always:
            m = pattern.search(text)
            if m is None or label in labels:
                continue
            labels.append(label)
            findings.append(Finding(label, ALWAYS_SEVERITY[label], 1.0,
                                    (Evidence(m.start(), m.end(), m.group(0), ALWAYS_REASON, detector=DETECTOR,
                                              rule="always"),), DETECTOR))
        labels = [c for c in CATEGORIES if c in labels]
        if tuple(labels) == result.labels and len(findings) == len(result.findings):
            return result
        return replace(result, labels=tuple(labels), findings=tuple(findings))
