"""The rule language: word lists and phrase patterns kept in TOML data files.

A safeguarding lead can read and extend `classifiers/lexicons/*.toml` without
touching Python. Each pattern is a line of words, matched token by token on the
token's normalised lower-case form (spaCy NORM: "didn't" -> "do", "not"):

    word          that word (written as you would type it; "didn't" is fine)
    a|b|c         any one of the alternatives
    word~         the word and its usual endings: bruise~ = bruise, bruises,
                  bruised, bruising
    {class}       any word of a word class from classes.toml ({child} = son,
                  daughter, kid, ... and every child name in the roster)
    word?         the word is optional
    _             exactly one word of any kind
    ..            up to three words of any kind

Rules are tables with `id`, `label`, `score` (0..1, how sure the pattern alone
makes us), optional `severity` and `patterns`. Loading compiles them into one
`LexiconMatcher` (matcher.py) per file; the match key is the rule id, so every finding names
the rule that produced it.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from spacy.language import Language

from .matcher import LexiconMatcher, MatcherGroup, Step  # noqa: F401  (re-exported: the matcher of these rules)

LEXICON_DIR = Path(__file__).parent / "lexicons"


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    score: float
    severity: str = "medium"
    patterns: tuple[str, ...] = ()
    note: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)


@lru_cache(maxsize=None)
def load_toml(name: str) -> dict:
    with open(LEXICON_DIR / name, "rb") as fh:
        return tomllib.load(fh)


def load_rules(name: str) -> list[Rule]:
    rules = []
    for raw in load_toml(name).get("rule", []):
        known = {"id", "label", "score", "severity", "patterns", "note"}
        rules.append(
            Rule(
                id=raw["id"],
                label=raw.get("label", ""),
                score=float(raw.get("score", 0.5)),
                severity=raw.get("severity", "medium"),
                patterns=tuple(raw.get("patterns", ())),
                note=raw.get("note", ""),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        )
    return rules


def word_classes(extra: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    classes = {k: list(v) for k, v in load_toml("classes.toml").items()}
    for k, v in (extra or {}).items():
        classes.setdefault(k, []).extend(v)
    return classes


_VOWELS = set("aeiou")

# spaCy's NORM of a contraction depends on context ("did" alone -> "did", in
# "didn't" -> "do"); pattern words written apart ("did n't") match both forms.
_NORM_ALIASES = {"n't": ("not",), "nt": ("not",), "did": ("did", "do"), "ca": ("can",), "wo": ("will",)}


def inflect(word: str) -> list[str]:
    """A word and its common English endings (generous: extra forms do no harm)."""
    forms = {word, word + "s", word + "es", word + "ed", word + "ing", word + "er", word + "ers"}
    if word.endswith("e"):
        stem = word[:-1]
        forms |= {word + "d", stem + "ing", word + "r", word + "rs"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in _VOWELS:
        stem = word[:-1]
        forms |= {stem + "ies", stem + "ied"}
    if len(word) >= 3 and word[-1] not in _VOWELS | {"w", "x", "y"} and word[-2] in _VOWELS and word[-3] not in _VOWELS:
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing", word + word[-1] + "er"}
    return sorted(forms)




class PatternCompiler:
    """Turns pattern lines into steps: (word set or None for any word, min, max)."""

    def __init__(self, nlp: Language, classes: dict[str, list[str]]):
        self.nlp = nlp
        self.classes = classes
        self._norm_cache: dict[str, list[str]] = {}

    def norms(self, text: str) -> list[str]:
        if text not in self._norm_cache:
            self._norm_cache[text] = [t.norm_ for t in self.nlp.make_doc(text)]
        return self._norm_cache[text]

    @staticmethod
    def _aliases(norm: str) -> frozenset[str]:
        return frozenset(_NORM_ALIASES.get(norm, (norm,)))

    def _alternatives(self, item: str) -> frozenset[str]:
        words: list[str] = []
        for alt in item.split("|"):
            if alt.endswith("~"):
                words.extend(inflect(alt[:-1].lower()))
            else:
                words.append(alt)
        out: set[str] = set()
        for w in words:
            toks = self.norms(w)
            if len(toks) == 1:
                out |= self._aliases(toks[0])
            else:  # "n't" style splits inside an alternative: keep the raw lower form
                out.add(w.lower())
        return frozenset(out)

    def compile(self, line: str) -> list[Step]:
        steps: list[Step] = []
        for item in line.split():
            optional = item.endswith("?") and len(item) > 1
            if optional:
                item = item[:-1]
            if item == "_":
                spec: list[Step] = [(None, 1, 1)]
            elif item == "..":
                spec = [(None, 0, 3)]
            elif item.startswith("{") and item.endswith("}"):
                name = item[1:-1]
                if name not in self.classes:
                    raise ValueError(f"pattern {line!r}: unknown word class {{{name}}}")
                # classes hold single words; multi-word entries belong in patterns
                words = frozenset(self.norms(w)[0] for w in self.classes[name] if len(self.norms(w)) == 1)
                spec = [(words, 1, 1)]
            elif "|" in item or item.endswith("~"):
                spec = [(self._alternatives(item), 1, 1)]
            else:
                spec = [(self._aliases(n), 1, 1) for n in self.norms(item)]
            if optional:
                if len(spec) != 1:
                    raise ValueError(f"pattern {line!r}: only single words can be optional")
                spec = [(spec[0][0], 0, 1)]
            steps.extend(spec)
        if not steps or all(st[1] == 0 for st in steps):
            raise ValueError(f"pattern {line!r}: needs at least one required word")
        if steps[0][0] is None:
            raise ValueError(f"pattern {line!r}: cannot start with _ or ..")
        return steps


def build_matcher(nlp: Language, rules: list[Rule], classes: dict[str, list[str]]) -> LexiconMatcher:
    compiler = PatternCompiler(nlp, classes)
    matcher = LexiconMatcher()
    for rule in rules:
        try:
            matcher.add(rule.id, [compiler.compile(p) for p in rule.patterns])
        except ValueError as err:
            raise ValueError(f"rule {rule.id!r}: {err}") from None
    return matcher
