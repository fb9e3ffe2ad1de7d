"""Personal details linked to an identifiable person.

A sensitive topic (health, SEND, behaviour, family circumstances, an allegation
against staff; confidentiality.toml) becomes a finding when a named person is
near it: same sentence and at most `WINDOW` words apart. Health and SEND
details about an unnamed child ("my son has autism") score lower.
"""
from __future__ import annotations

from spacy.language import Language

from ..lexicon import build_matcher, load_rules
from .base import Analysis, Hit, Mention, hit_from_span

WINDOW = 14
_POSSESSIVE = frozenset({"my", "our", "his", "her", "their", "me", "mi"})
_WHO = {"child": "child", "staff": "member of staff", "parent": "parent", "person": "person"}
_ABOUT = {
    "child": {"child", "person"},
    "staff": {"staff", "person"},
    "any": {"child", "staff", "parent", "person"},
}


class SensitiveLinkDetector:
    name = "personal_details"
    labels = ("confidentiality",)

    def __init__(self, nlp: Language, classes: dict[str, list[str]]):
        self.rules = {r.id: r for r in load_rules("confidentiality.toml")}
        self.matcher = build_matcher(nlp, list(self.rules.values()), classes)
        self.child_words = {w.lower() for w in classes.get("my_child", [])}

    def _nearest(self, a: Analysis, start: int, end: int, kinds: set[str]) -> Mention | None:
        best, best_d = None, WINDOW + 1
        sent = a.sent_of(start)
        for m in a.mentions:
            if m.kind not in kinds:
                continue
            d = max(m.start - end, start - m.end, 0)
            if d <= WINDOW and d < best_d and (a.sent_of(m.start) == sent or d <= 4):
                best, best_d = m, d
        return best

    def _child_ref(self, a: Analysis, start: int) -> bool:
        """A particular child nearby: "my son", "her daughter", "our little one"."""
        lo = max(0, start - WINDOW)
        words = a.lowers[lo:start + 3]
        return any(w in _POSSESSIVE and nxt in self.child_words for w, nxt in zip(words, words[1:]))

    def detect(self, analysis: Analysis) -> list[Hit]:
        hits: list[Hit] = []
        named = [m for m in analysis.mentions if m.kind not in ("room", "setting")]
        for rule_id, start, end in analysis.match(self.matcher):
            rule = self.rules[rule_id]
            kinds = _ABOUT[rule.extra.get("about", "any")]
            who = self._nearest(analysis, start, end, kinds) if named else None
            if who is not None:
                score = rule.score if who.source != "list" else rule.score * 0.85
                hit = hit_from_span(self.name, rule, analysis, start, end, score)
                hit.link(who)
                hits.append(hit)
            elif rule.extra.get("unnamed_score", 0) and self._child_ref(analysis, start):
                hits.append(hit_from_span(self.name, rule, analysis, start, end, float(rule.extra["unnamed_score"])))
        return hits


class NamedConcernLinker:
    """A named person in a comment that raises a concern is itself a confidentiality issue.

    Runs after context: a safeguarding hit that survived context, with a named
    child, parent or person in the same comment, or a criticism hit with a named
    staff member, adds a confidentiality hit that shows both spans.
    """

    name = "named_concern"
    labels = ("confidentiality",)
    SCORES = {"safeguarding": 0.8, "criticism": 0.6}
    KINDS = {"safeguarding": {"child", "staff", "parent", "person"}, "criticism": {"staff"}}
    REASONS = {"safeguarding": "a named {who} linked to a safeguarding concern",
               "criticism": "a named {who} linked to a complaint"}

    def link(self, analysis: Analysis, hits: list[Hit]) -> list[Hit]:
        people = [m for m in analysis.mentions if m.kind not in ("room", "setting")]
        if not people:
            return []
        out: list[Hit] = []
        for label, score in self.SCORES.items():
            concern = max((h for h in hits if h.label == label and h.detector != "rating"),
                          key=lambda h: h.value, default=None)
            if concern is None or concern.value < 0.5:
                continue
            who = min((m for m in people if m.kind in self.KINDS[label]),
                      key=lambda m: abs(m.start - concern.start_tok), default=None)
            if who is None:
                continue
            hit = Hit(self.name, f"named_{who.kind}_{label}", "confidentiality", concern.start_char,
                      concern.end_char, score * (0.85 if who.source == "list" else 1.0), "medium",
                      self.REASONS[label].format(who=_WHO.get(who.kind, "person")), concern.start_tok,
                      concern.end_tok)
            hit.final = hit.score
            hit.link(who)
            out.append(hit)
        return out
