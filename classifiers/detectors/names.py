"""Find the people a comment names: roster names, nicknames, titles, and names
the roster lacks.

Sources, strongest first:
  roster    full names, first names, surnames after a title, rooms, the setting
  nickname  a short form of a roster first name ("Becky" for Rebecca)
  title     "Miss Sarah", "Mrs Patel" - a staff member, in the roster or not
  intro     "my son Jack" - a child, in the roster or not
  list      a capitalised common first name ("Jack bit him"), or one followed by a
            capitalised surname ("Poppy Smith") - a full name
The only finding this module emits itself is a child's full name; the other
mentions feed the confidentiality and criticism detectors.
"""
from __future__ import annotations

import re

from spacy.language import Language
from spacy.matcher import PhraseMatcher

from monitor.core.settings import RosterConfig, SettingConfig

from ..lexicon import Rule, load_toml
from .base import Analysis, Hit, Mention

FULL_CHILD_NAME = Rule(
    id="child_full_name", label="confidentiality", score=0.85, severity="medium",
    note="a child's full name",
)
_WORDY = re.compile(r"^[^\W\d_][\w'’-]*$")


class NameFinder:
    name = "names"
    labels = ("confidentiality",)

    def __init__(self, nlp: Language, setting: SettingConfig, roster: RosterConfig):
        data = load_toml("names.toml")
        self.titles = set(data["titles"])
        self.child_intro = set(data["child_intro"])
        self.not_names = set(data["words"]["not_names"])
        self.first_names = set(data["first"]["names"])
        # a word that can start or announce a name _unknown looks for ("miss." too; "miss.." needs "..")
        self.name_cues = frozenset(self.first_names | self.child_intro | self.titles | {t + "." for t in self.titles})
        nick = data["nicknames"]
        self.nicknames: dict[str, set[str]] = {}
        for formal, shorts in nick.items():
            group = {formal, *shorts}
            for n in group:
                self.nicknames.setdefault(n, set()).update(group - {n})

        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.entries: dict[str, tuple[str, bool, str]] = {}  # key -> (kind, full, source)
        self.phrase_words: set[str] = set()  # every word of every phrase: a comment with none has no match
        self._strings = nlp.vocab.strings
        self._nlp = nlp
        self.roster_first: set[str] = set()
        self.child_first: set[str] = set()
        self.staff_words: set[str] = set()

        people = [("child", n) for n in roster.children] + [("staff", n) for n in roster.staff] + [
            ("parent", n) for n in roster.parents
        ]
        firsts: dict[str, set[str]] = {}
        for kind, full in people:
            parts = full.split()
            if len(parts) >= 2:
                self._add(full, kind, True, "roster")
            first = parts[0].lower()
            firsts.setdefault(first, set()).add(kind)
            for alt in self.nicknames.get(first, ()):
                firsts.setdefault(alt, set()).add(kind + ":nick")
            if kind == "staff":
                self.staff_words.add(first)
                for title in ("miss", "mrs", "mr", "ms"):
                    self._add(f"{title} {parts[0]}", "staff", False, "roster")
                    if len(parts) >= 2:
                        self._add(f"{title} {parts[-1]}", "staff", False, "roster")
                for alt in self.nicknames.get(first, ()):
                    for title in ("miss", "mrs", "mr", "ms"):
                        self._add(f"{title} {alt}", "staff", False, "nickname")
        for first, kinds in firsts.items():
            plain = {k.split(":")[0] for k in kinds}
            kind = plain.pop() if len(plain) == 1 else "person"
            source = "roster" if any(":" not in k for k in kinds) else "nickname"
            self._add(first, kind, False, source)
            self.roster_first.add(first)
            if kind == "child":
                self.child_first.add(first)
        for room in roster.rooms:
            self._add(room, "room", False, "roster")
        for name in [setting.name, *setting.aliases]:
            self._add(name, "setting", False, "roster")

    def _add(self, phrase: str, kind: str, full: bool, source: str) -> None:
        key = f"{kind}|{phrase.lower()}"
        if key in self.entries:
            return
        self.entries[key] = (kind, full, source)
        doc = self._nlp.make_doc(phrase)
        self.phrase_words.update(t.lower_ for t in doc)
        self.matcher.add(key, [doc])

    # -- mentions -----------------------------------------------------------
    def find(self, a: Analysis) -> list[Mention]:
        found: list[Mention] = []
        taken: set[int] = set()
        matches = () if self.phrase_words.isdisjoint(a.lowers) else self.matcher(a.doc)
        for match_id, start, end in sorted(matches, key=lambda m: (m[1], -(m[2] - m[1]))):
            if any(i in taken for i in range(start, end)):
                continue
            kind, full, source = self.entries[self._strings[match_id]]
            if end - start == 1 and kind not in ("room", "setting"):
                tok = a.tokens[start]
                if not tok.is_title and not tok.is_upper and tok.lower_ in self.not_names:
                    continue  # "poppy" the flower, "will" the verb
            if kind in ("room", "setting") and end - start == 1 and not a.tokens[start].text[:1].isupper():
                continue  # "acorns" as a word, not the Acorns room
            found.append(Mention(start, end, kind, full, source, *a.chars(start, end)))
            taken.update(range(start, end))
        found.extend(self._unknown(a, taken))
        found.sort(key=lambda m: m.start)
        return found

    def _unknown(self, a: Analysis, taken: set[int]) -> list[Mention]:
        out: list[Mention] = []
        toks, lowers = a.tokens, a.lowers
        if self.name_cues.isdisjoint(lowers) and ".." not in a.text:
            return out  # most comments: no common first name, title or "my son"
        n = len(toks)
        # the positions worth a look: a common first name, or a word after a title or "my son"
        first_names, titles, intro = self.first_names, self.titles, self.child_intro
        looks = sorted({i for i, w in enumerate(lowers) if w in first_names}
                       | {i + 1 for i, w in enumerate(lowers[:-1]) if w in intro or w.rstrip(".") in titles})
        resume = 0  # after a mention, the scan goes on after it
        for i in looks:
            if i < resume or i in taken:
                continue
            low = lowers[i]
            prev = lowers[i - 1] if i > 0 else ""
            tok = toks[i]
            cap = tok.is_title or (tok.is_upper and len(tok) > 2)
            kind = None
            source = "list"
            if prev.rstrip(".") in self.titles and _WORDY.match(tok.text) and (cap or low in self.first_names):
                kind, source = "staff", "title"
            elif prev in self.child_intro and cap and _WORDY.match(tok.text) and low not in self.not_names:
                kind, source = "child", "intro"
            elif low in self.first_names and low not in self.not_names and (cap or len(low) >= 4):
                kind = "person"
            if kind is None:
                continue
            end = i + 1
            full = False
            if end < n and end not in taken:
                nxt = toks[end]
                if nxt.is_title and _WORDY.match(nxt.text) and nxt.lower_ not in self.not_names \
                        and not nxt.is_stop and len(nxt) > 1 and (cap or source != "list"):
                    end += 1
                    full = True
            out.append(Mention(i, end, kind, full, source, *a.chars(i, end)))
            taken.update(range(i, end))
            resume = end
        return out

    # -- detector -----------------------------------------------------------
    def detect(self, analysis: Analysis) -> list[Hit]:
        hits = []
        for m in analysis.mentions:
            if m.full and m.kind == "child":
                score = FULL_CHILD_NAME.score if m.source == "roster" else 0.7
                hits.append(Hit(self.name, FULL_CHILD_NAME.id, "confidentiality", m.start_char, m.end_char,
                                score, FULL_CHILD_NAME.severity, FULL_CHILD_NAME.note, m.start, m.end))
        return hits
