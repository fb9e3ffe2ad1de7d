"""Undo obfuscation before the detectors and the model read a comment.

"b r u i s e", "b.r.u.i.s.e", "h1t", "b@d", "sooooo", "🔪" in place of a word:
the word each one hides becomes the token's NORM, which is what every lexicon
pattern and the bag-of-words model read. The text itself is never changed, so
evidence spans still point at what was written (`text[start:end]` shows
"b r u i s e"). Spaced letters become one token; everything else keeps its
tokens.

A rewrite is kept only when it gives a word the lexicons know (or, for spaced
letters, a word of four letters or more), so "b4", "3pm" and "2nd" stay as
they are. A comment with nothing that looks obfuscated costs one regex search.
Data: lexicons/obfuscation.toml.
"""
from __future__ import annotations

import re
from functools import lru_cache

from spacy.language import Language
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc

from .lexicon import LEXICON_DIR, inflect, load_toml

_SPACED = r"(?<![\w@$])(?:[A-Za-z][ .\-_*·]){2,}[A-Za-z](?![\w@$])"
# a run of letters, digits and leet symbols; kept when it mixes them ("sh!t", "h1t"; not "you!")
_WORDISH = r"[A-Za-z0-9@$!|]{3,}"
_REPEAT = r"\b\w*([A-Za-z])\1{2,}\w*\b"
# cheap first look: a letter next to a leet symbol, a tripled letter, or spaced single letters
_LOOK_LEET = r"[A-Za-z][0-9@$!|][A-Za-z0-9]|[0-9@$][A-Za-z]"  # needs one of _LEET_CHARS
_LOOK_REST = r"([A-Za-z])\1\1|(?<![A-Za-z])[A-Za-z][ .\-_*·][A-Za-z][ .\-_*·][A-Za-z](?![A-Za-z])"
_LOOK = _LOOK_LEET + "|" + _LOOK_REST
_LEET_CHARS = frozenset("0123456789@$!|")


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Every word the lexicons mention (with endings for `word~`), and English function words."""
    words: set[str] = set(STOP_WORDS)
    for path in LEXICON_DIR.glob("*.toml"):
        for w in re.findall(r"[a-z]+~?", path.read_text(encoding="utf-8").lower()):
            words.update(inflect(w[:-1]) if w.endswith("~") else (w,))
    return frozenset(w for w in words if len(w) > 1)


class Normaliser:
    def __init__(self) -> None:
        data = load_toml("obfuscation.toml")
        self.leet = str.maketrans(data["leet"])
        self.known = known_words()
        self.emoji = {e: w for e, w in data["emoji"].items() if e not in self._pattern_text()}
        emoji_class = "|".join(re.escape(e) for e in sorted(self.emoji, key=len, reverse=True)) or "(?!)"
        self.spaced = re.compile(_SPACED)
        self.wordish = re.compile(_WORDISH)
        self.repeat = re.compile(_REPEAT)
        self.emoji_rx = re.compile(emoji_class)
        self.look_leet = re.compile(_LOOK_LEET)
        self.look_rest = re.compile(_LOOK_REST)
        self.emoji_chars = frozenset(self.emoji)

    def worth_a_look(self, text: str) -> bool:
        """The cheap first look: most comments stop here."""
        # = re.search(_LOOK, text), in parts: most comments hold no digit or symbol, so skip that part
        return (not _LEET_CHARS.isdisjoint(text) and bool(self.look_leet.search(text))) \
            or bool(self.look_rest.search(text)) \
            or (not text.isascii() and not self.emoji_chars.isdisjoint(text))

    @staticmethod
    @lru_cache(maxsize=1)
    def _pattern_text() -> str:
        """Emoji the lexicons already match as themselves keep their own NORM."""
        return "".join(p.read_text(encoding="utf-8") for p in LEXICON_DIR.glob("*.toml")
                       if p.name != "obfuscation.toml")

    def _word(self, raw: str) -> str | None:
        """The known word `raw` hides, trying repeats cut to two letters, then to one."""
        for candidate in (raw, re.sub(r"(.)\1{2,}", r"\1\1", raw), re.sub(r"(.)\1+", r"\1", raw)):
            if candidate in self.known:
                return candidate
        return None

    def edits(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, norm) for each obfuscated word in `text`, not overlapping."""
        out: list[tuple[int, int, str]] = []
        taken: list[tuple[int, int]] = []

        def add(s: int, e: int, norm: str) -> None:
            if not any(s < b and a < e for a, b in taken):
                out.append((s, e, norm))
                taken.append((s, e))

        for m in self.spaced.finditer(text):
            letters = re.sub(r"[^A-Za-z]", "", m.group()).lower()
            # "a b r u i s e": a one-letter word ("a", "I") may run into the spaced word
            for head, tail in ((0, 0), (1, 0), (0, 1), (1, 1)):
                word = self._word(letters[head:len(letters) - tail])
                if word:
                    add(m.start() + 2 * head, m.end() - 2 * tail, word)
                    break
            else:
                if len(letters) >= 4:
                    add(m.start(), m.end(), letters)
        for m in self.wordish.finditer(text):
            raw = m.group()
            if raw.isalpha() or raw.isdigit() or not _mixed(raw):
                continue
            word = self._word(raw.lower().translate(self.leet))
            if word and word != raw.lower():
                add(m.start(), m.end(), word)
        for m in self.repeat.finditer(text):
            word = self._word(m.group().lower())
            if word and word != m.group().lower():
                add(m.start(), m.end(), word)
        for m in self.emoji_rx.finditer(text):
            add(m.start(), m.end(), self.emoji[m.group()])
        return out

    def __call__(self, doc: Doc) -> Doc:
        return self.apply(doc, doc.text)

    def apply(self, doc: Doc, text: str) -> Doc:
        """Normalise `doc`, whose text is `text` (passed in: `doc.text` is rebuilt token by token)."""
        if not self.worth_a_look(text):
            return doc
        edits = self.edits(text)
        if not edits:
            return doc
        merges, used = [], set()
        for s, e, _norm in edits:
            span = doc.char_span(s, e, alignment_mode="expand")
            if span is not None and len(span) > 1 and not used & set(range(span.start, span.end)):
                merges.append(span)
                used |= set(range(span.start, span.end))
        if merges:
            with doc.retokenize() as retok:
                for span in merges:
                    retok.merge(span)
        for s, e, norm in edits:
            span = doc.char_span(s, e, alignment_mode="expand")
            if span is not None and len(span) == 1:
                span[0].norm_ = norm
        return doc


def _mixed(raw: str) -> bool:
    """Letters with a digit or leet symbol inside or at the start ("h1t", "$cared"), not only at the end ("you!")."""
    core = raw.rstrip("!|")
    return any(c.isalpha() for c in core) and any(not c.isalpha() for c in core)


@Language.factory("nurserywatch_normalise")
def make_normaliser(nlp: Language, name: str) -> Normaliser:
    return Normaliser()
