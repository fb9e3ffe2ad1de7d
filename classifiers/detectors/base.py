"""What every detector reads and returns.

The classifier parses each comment once into an `Analysis` (the spaCy `Doc`
plus facts several detectors share: name mentions, language, rating). A
detector is small: a name, the labels it can emit, and `detect(analysis)`
returning `Hit`s - raw matches with a score *before* context. The classifier
then applies context and thresholds in one fixed order (see classifier.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from spacy.tokens import Doc


# How a person named in a comment is described to a manager.
NAME_REASONS = {
    "child": "a child's name",
    "staff": "a staff member's name",
    "parent": "a parent's name",
    "person": "a person's name",
}


class Span(NamedTuple):
    """An extra evidence span a hit shows (the name a concern is linked to)."""

    start: int
    end: int
    reason: str  # plain words for a nursery manager
    about: str | None = None  # child | staff | parent | person
    source: str = ""  # for engineers: how the name was found (roster, title, list...)


@dataclass
class Hit:
    """One rule match: which detector and rule, where, and how sure (before context)."""

    detector: str
    rule: str
    label: str
    start_char: int
    end_char: int
    score: float
    severity: str = "medium"
    note: str = ""  # the plain-language reason a manager reads
    start_tok: int = 0
    end_tok: int = 0
    also: list[Span] = field(default_factory=list)  # extra evidence spans
    about: str | None = None  # who the hit is about, when it names or points at a person
    # set by context handling
    final: float | None = None
    cues: list[str] = field(default_factory=list)

    @property
    def value(self) -> float:
        return self.score if self.final is None else self.final

    def link(self, who: "Mention") -> None:
        """Show the named person this hit is about beside it."""
        self.about = who.kind
        self.also.append(Span(who.start_char, who.end_char, NAME_REASONS.get(who.kind, "a name"), who.kind,
                              who.source))


@dataclass(frozen=True)
class Mention:
    """A person (or room/setting) named in the text."""

    start: int  # token index
    end: int
    kind: str  # child | staff | parent | person | room | setting
    full: bool  # first and last name
    source: str  # roster | nickname | title | intro | list
    start_char: int = 0
    end_char: int = 0


@dataclass
class Analysis:
    text: str
    doc: Doc
    platform: str | None = None
    rating: int | None = None
    mentions: list[Mention] = field(default_factory=list)
    lang: str = "en"
    tokens: list = field(default_factory=list)  # the doc's Token objects, made once
    norms: list[str] = field(default_factory=list)  # token NORM strings, what lexicon patterns match
    lowers: list[str] = field(default_factory=list)
    sent_ids: list[int] | None = None  # sentence number of each token, made when first asked (sent_of)
    benign: dict[str, tuple[int, int]] = field(default_factory=dict)  # benign contexts found (context.py)
    matches: dict = field(default_factory=dict)  # LexiconMatcher -> its matches, run together (lexicon.MatcherGroup)
    alpha: list[str] = field(default_factory=list)  # the lower-case forms of the alphabetic tokens
    _starts: list[int] | None = None
    _content: list | None = None

    def chars(self, start: int, end: int) -> tuple[int, int]:
        """Character offsets of tokens start..end-1 (what `doc[start:end]` would give, without making a Span)."""
        if end <= start:
            return self.doc[start:end].start_char, self.doc[start:end].end_char
        last = self.tokens[end - 1]
        return self.tokens[start].idx, last.idx + len(last)

    def token_starts(self) -> list[int]:
        """Each token's first character (made once, when evidence is checked)."""
        if self._starts is None:
            self._starts = [t.idx for t in self.tokens]
        return self._starts

    def content_words(self) -> list:
        """The first 80 tokens that are not punctuation or function words (the model's evidence candidates)."""
        if self._content is None:
            self._content = [t for t in self.tokens if is_content_word(t)][:80]
        return self._content

    def span_text(self, start: int, end: int) -> str:
        s, e = self.chars(start, end)
        return self.text[s:e]

    def match(self, matcher) -> list[tuple[str, int, int]]:
        """`matcher`'s (key, start, end) matches on this comment: from the classifier's one pass, or run now."""
        found = self.matches.get(matcher)
        return matcher(self.norms) if found is None else found

    def sent_of(self, token_index: int) -> int:
        if self.sent_ids is None:
            self.sent_ids = sentence_ids(self.norms)
        if not self.sent_ids:
            return 0
        return self.sent_ids[min(token_index, len(self.sent_ids) - 1)]


def is_content_word(t) -> bool:
    """Not punctuation, not an English function word ("was", "they"), not a one- or
    two-letter word (function words of other languages: "z", "na", "ka").

    A property of the word alone (its lexeme's flags and its text), so it is worked out once per
    word and kept: the token's four attributes cost more than the look-up."""
    orth = t.orth
    found = _CONTENT.get(orth)
    if found is None:
        if len(_CONTENT) >= _CONTENT_LIMIT:
            _CONTENT.clear()
        found = _CONTENT[orth] = not (t.is_punct or t.is_space or t.is_stop) \
            and (len(t.text) > 2 or not t.text.isalpha())
    return found


# word (ORTH hash) -> is_content_word; every pipeline here is English, whose lexemes share the stop list
_CONTENT: dict[int, bool] = {}
_CONTENT_LIMIT = 200_000


_SENT_END = frozenset({".", "!", "?", "...", "..", "!!", "??", "?!", "!?", "\n", "\n\n", ";"})


def sentence_ids(norms: list[str]) -> list[int]:
    """Sentence number of each token: a new sentence follows . ! ? ; or a line break."""
    ids = []
    sid = 0
    prev_end = False
    for norm in norms:
        is_end = norm in _SENT_END or (norm[:1] in ".!?" and norm.strip(".!?") == "")
        if prev_end and not is_end:
            sid += 1
        ids.append(sid)
        prev_end = is_end
    return ids


class Detector(Protocol):
    name: str
    labels: tuple[str, ...]

    def detect(self, analysis: Analysis) -> list[Hit]: ...


def hit_from_span(detector: str, rule, analysis: Analysis, start: int, end: int, score: float | None = None,
                  label: str | None = None) -> Hit:
    start_char, end_char = analysis.chars(start, end)
    return Hit(
        detector=detector,
        rule=rule.id,
        label=label or rule.label,
        start_char=start_char,
        end_char=end_char,
        score=rule.score if score is None else score,
        severity=rule.severity,
        note=rule.note,
        start_tok=start,
        end_tok=end,
    )
