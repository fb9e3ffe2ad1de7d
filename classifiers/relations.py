"""Who did what to whom, as extra features of the trained text model.

Nearly every safeguarding concern in the corpus mentions a child, so a bag of
words learns "son", "kids" and "daughter" as safeguarding words, and a comment
that merely mentions a child looks like a concern (48 of the 59 wrong
safeguarding labels on dev in round 4 were the model alone). These features
say what the words around an act are: an act done to a child, by someone at the
setting, by an adult at home, or by a child. The word lists are data
(`lexicons/relations.toml`, with the roles from `classes.toml`); the model
learns their weights like any word's.

`RelationFeatures(vocab)(doc)` returns the feature keys (uint64 hashes, salted
apart from the word features) for one doc. It reads the doc's NORM array once
and caches, per word, whether it is an act and which role it names.
"""
from __future__ import annotations

from functools import lru_cache

import numpy
from spacy.attrs import NORM
from spacy.strings import get_string_id
from spacy.tokens import Doc

from .lexicon import load_toml, word_classes

SALT = 0x4E1  # keeps these keys apart from the word features' hashes
_NONE = numpy.zeros((0,), dtype="uint64")
_UNSEEN = object()
CACHE_LIMIT = 200_000  # words remembered as act / not an act (a daemon meets new words forever)
ROLES = {"child": "C", "staff": "S", "adult_home": "HOME"}


def _key(name: str) -> int:
    return get_string_id("§rel:" + name) ^ SALT


class RelationFeatures:
    def __init__(self, data: dict | None = None, classes: dict[str, list[str]] | None = None):
        data = data or load_toml("relations.toml")
        classes = classes or word_classes()
        self.window = int(data["window"])
        self.acts = tuple(sorted(set(data["acts"]), key=lambda a: (-len(a), a)))  # longest start first
        self.roles = {role: frozenset(get_string_id(w) for w in classes[cls]) for cls, role in ROLES.items()}
        self._act_of: dict[int, int | None] = {}  # NORM hash -> index of its act, or None
        self.keys = {name: _key(name) for name in ("H>C", "S>H", "S>H>C", "HOME>H>C", "C>H")}
        self.act_keys = [(_key(f"{a}>C"), _key(f"S>{a}>C")) for a in self.acts]

    def _act(self, norm: int, strings) -> int | None:
        if norm not in self._act_of:
            if len(self._act_of) >= CACHE_LIMIT:
                self._act_of.clear()
            word = strings[norm] if norm in strings else ""
            self._act_of[norm] = next((k for k, a in enumerate(self.acts) if len(word) > 2 and word.startswith(a)),
                                      None)
        return self._act_of[norm]

    def __call__(self, doc: Doc) -> numpy.ndarray:
        if not len(doc):
            return _NONE
        norms = doc.to_array(NORM).tolist()
        act_of, strings = self._act_of, doc.vocab.strings
        found = []
        for i, norm in enumerate(norms):  # most comments name no act: one dict look-up per word
            act = act_of.get(norm, _UNSEEN)
            if act is _UNSEEN:
                act = self._act(norm, strings)
            if act is not None:
                found.append((i, act))
        if not found:
            return _NONE
        child, staff, home = self.roles["C"], self.roles["S"], self.roles["HOME"]
        out: list[int] = []
        for i, act in found:
            before = norms[max(0, i - self.window):i]
            after = norms[i + 1:i + 1 + self.window]
            to_child = any(n in child for n in after)
            by_staff = any(n in staff for n in before)
            if to_child:
                out += [self.keys["H>C"], self.act_keys[act][0]]
                if by_staff:
                    out += [self.keys["S>H>C"], self.act_keys[act][1]]
                if any(n in home for n in before):
                    out.append(self.keys["HOME>H>C"])
            elif any(n in child for n in before):
                out.append(self.keys["C>H"])
            if by_staff:
                out.append(self.keys["S>H"])
        return numpy.asarray(out, dtype="uint64")


@lru_cache(maxsize=1)
def shared() -> RelationFeatures:
    """The process's one instance (its word cache is shared by every model that reads relations)."""
    return RelationFeatures()
