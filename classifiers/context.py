"""Context: lower a hit's score when the words around it say it is not a concern.

Order (fixed): negation, hypothetical, benign events. Each step multiplies the
score by the factor in context.toml and records the cue, so the evidence shows
"0.75 -> 0.08 (negation 'no')". Data: lexicons/context.toml.
"""
from __future__ import annotations

from spacy.language import Language

from .detectors.base import Analysis, Hit
from .lexicon import LexiconMatcher, PatternCompiler, load_toml


class ContextRules:
    def __init__(self, nlp: Language, classes: dict[str, list[str]]):
        data = load_toml("context.toml")
        compiler = PatternCompiler(nlp, classes)
        neg = data["negation"]
        self.neg_factor = float(neg["factor"])
        self.neg_window = int(neg["window"])
        self.neg_cues = {compiler.norms(c)[-1] for c in neg["cues"]} | {"not"}
        self.neg_breakers = {n for b in neg["breakers"] for n in compiler.norms(b)}

        hyp = data["hypothetical"]
        self.hyp_factor = float(hyp["factor"])
        self.hyp_labels = set(hyp["labels"])
        self.hyp = LexiconMatcher()
        self.hyp.add("hyp", [compiler.compile(c) for c in hyp["cues"]])

        self.benign = {b["id"]: b for b in data["benign"]}
        self.benign_matcher = LexiconMatcher()
        for b in data["benign"]:
            self.benign_matcher.add(b["id"], [compiler.compile(p) for p in b["patterns"]])

    def apply(self, analysis: Analysis, hits: list[Hit]) -> list[str]:
        """Adjust `hits` in place; return the ids of benign contexts found.

        The benign contexts are also kept on the analysis (`analysis.benign`):
        the combiner reads them to damp the model too, which no rule hit shows.
        """
        benign_found: dict[str, tuple[int, int]] = {}
        for bid, s, e in sorted(analysis.match(self.benign_matcher), key=lambda m: m[1]):
            if not self._negated(analysis, s):  # "no accident form" is not a handled accident
                benign_found.setdefault(bid, (s, e))
        analysis.benign = benign_found
        if not hits:
            return list(benign_found)
        hyp_starts = sorted({s for _, s, _ in analysis.match(self.hyp)})
        for h in hits:  # negation and hypotheticals first: they decide which rules really fired
            h.final = h.score
            if h.detector == "pii":
                continue  # a phone number is a phone number, whatever surrounds it
            self._negation(analysis, h)
            if h.label in self.hyp_labels:
                sent = analysis.sent_of(h.start_tok)
                for s in hyp_starts:
                    if s < h.start_tok and analysis.sent_of(s) == sent:
                        h.final *= self.hyp_factor
                        h.cues.append(f"hypothetical '{analysis.tokens[s].text}'")
                        break
        fired = {h.rule for h in hits if h.value >= 0.5}
        for h in hits:
            if h.detector == "pii":
                continue
            for bid, (s, e) in benign_found.items():
                b = self.benign[bid]
                if h.label not in b["labels"]:
                    continue
                if "rules" in b and h.rule not in b["rules"]:
                    continue
                if h.rule in b.get("exempt_rules", ()):
                    continue
                if fired & set(b.get("unless_rules", ())):
                    continue  # "bruise ... nobody told me": the handled-accident reading is out
                h.final *= float(b["factor"])
                h.cues.append(f"{bid} '{analysis.span_text(s, e)}'")
        return list(benign_found)

    def damping(self, analysis: Analysis) -> dict[str, float]:
        """Per label, how strongly the benign contexts found damp it: 1 - the smallest factor, or 0."""
        out = {}
        for bid in analysis.benign:
            b = self.benign[bid]
            for label in b["labels"]:
                out[label] = max(out.get(label, 0.0), 1.0 - float(b["factor"]))
        return out

    def _negated(self, analysis: Analysis, start: int) -> int | None:
        """Index of a negation cue governing the word at `start`, if any."""
        norms, toks = analysis.norms, analysis.tokens
        lo = max(0, start - self.neg_window)
        # a negation inside the match itself ("not fed") is part of the pattern
        for i in range(start - 1, lo - 1, -1):
            norm = norms[i]
            if norm in self.neg_breakers or toks[i].is_punct:
                return None
            if norm in self.neg_cues:
                return i
        return None

    def _negation(self, analysis: Analysis, h: Hit) -> None:
        i = self._negated(analysis, h.start_tok)
        if i is not None:
            h.final *= self.neg_factor
            h.cues.append(f"negation '{analysis.tokens[i].text}'")
