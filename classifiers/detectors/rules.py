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
        self._ids = {nlp.vocab.strings[rid]: rid for rid in self.rules}

    def detect(self, analysis: Analysis) -> list[Hit]:
        doc = analysis.doc
        best: dict[tuple[str, int], Hit] = {}
        for match_id, start, end in self.matcher(doc):
            rule = self.rules[self._ids[match_id]]
            hit = hit_from_span(self.name, rule, doc, start, end)
            # keep the longest match per (rule, start); overlapping ones are merged later
            key = (rule.id, start)
            if key not in best or (end - start) > (best[key].end_tok - best[key].start_tok):
                best[key] = hit
        return list(best.values())
