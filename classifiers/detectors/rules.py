"""A detector driven entirely by a lexicon file (safeguarding.toml, criticism.toml)."""
from __future__ import annotations

from spacy.language import Language

from ..lexicon import Rule, build_matcher, load_rules
from .base import Analysis, Hit, hit_from_span


class LexiconDetector:
    """Runs every pattern of one lexicon file; the rule id names each match."""

    def __init__(self, name: str, filename: str, nlp: Language, classes: dict[str, list[str]]):
        self.name = name
        self.rules: dict[str, Rule] = {r.id: r for r in load_rules(filename)}
        self.labels = tuple(sorted({r.label for r in self.rules.values()}))
        self.matcher = build_matcher(nlp, list(self.rules.values()), classes)

    def detect(self, analysis: Analysis) -> list[Hit]:
        hits: list[Hit] = []
        for rule_id, start, end in analysis.match(self.matcher):
            rule = self.rules[rule_id]
            hits.append(hit_from_span(self.name, rule, analysis, start, end))
        return hits
