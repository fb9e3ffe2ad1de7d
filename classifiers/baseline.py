"""The keyword-list baseline (lexicons/baseline.toml): any keyword that starts a word -> label."""
from __future__ import annotations

import re

from monitor.core.types import CATEGORIES, Classification, Evidence, Finding

from .lexicon import load_toml

class KeywordBaseline:
    def __init__(self) -> None:
        data = load_toml("baseline.toml")
        self.patterns = {}
        for label in CATEGORIES:
            words = sorted(data[label], key=len, reverse=True)
            alts = "|".join(re.escape(w) for w in words)
            # a keyword must start a word (or start with a space/emoji); its end is open: "bruis" -> bruised
            self.patterns[label] = re.compile(rf"(?:(?<!\w)|(?<=\w)(?=\W))(?:{alts})", re.IGNORECASE)

    def classify(self, text: str, platform: str | None = None, rating: int | None = None) -> Classification:
        labels, findings = [], []
        for label, rx in self.patterns.items():
            m = rx.search(text)
            if m:
                labels.append(label)
                ev = Evidence(m.start(), m.end(), m.group(), "a listed keyword", "keyword_baseline", m.group().lower())
                findings.append(Finding(label, "medium", 1.0, (ev,), "keyword_baseline"))
        return Classification(tuple(labels), tuple(findings))
