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
        self._act_ids: set[int] = set()  # the NORM hashes in _act_of that are acts
        self.keys = {name: _key(name) for name in ("H>C", "S>H", "S>H>C", "HOME>H>C", "C>H")}
        self.act_keys = [(_key(f"{a}>C"), _key(f"S>{a}>C")) for a in self.acts]

    def _learn(self, norms: set[int], strings) -> None:
        """Remember, for each of these new words, whether it is an act and which."""
        for norm in norms:
            word = strings[norm] if norm in strings else ""
            act = next((k for k, a in enumerate(self.acts) if len(word) > 2 and word.startswith(a)), None)
            self._act_of[norm] = act
            if act is not None:
                self._act_ids.add(norm)

    def __call__(self, doc: Doc) -> numpy.ndarray:
        if not len(doc):
            return _NONE
        return self.from_norms(doc.to_array(NORM).tolist(), doc.vocab.strings)

    def from_norms(self, norms: list[int], strings) -> numpy.ndarray:
        """The keys of a doc whose NORM hashes are `norms` (`strings`: its vocab's StringStore)."""
        act_of = self._act_of
        new = set(norms).difference(act_of)
        if new:
            if len(act_of) + len(new) > CACHE_LIMIT:  # forget all, then learn this doc's words again
                act_of.clear()
                self._act_ids.clear()
                new = set(norms)
            self._learn(new, strings)
        if self._act_ids.isdisjoint(norms):
            return _NONE  # most comments name no act: two set operations, no loop over the words
        found = [(i, act_of[norm]) for i, norm in enumerate(norms) if norm in self._act_ids]
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
