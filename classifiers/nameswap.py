"""Swap the names in training text so the model cannot lean on particular names.

Every corpus comment was written against one setting's roster, so "Oliver" or
"Miss Sarah" would otherwise become words the bag-of-words model associates
with concerns. Before the model trains, each roster name in a comment
(full names, first names, surnames, room names) is replaced by a name drawn,
with a fixed seed, from the pooled rosters of every setting plus a list of
common first names. The rules still read the real text with its real roster.
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterable

from monitor.core.settings import Config

from .lexicon import load_toml



def _not_names() -> frozenset[str]:
    """First names that are also common words: swapping them would rewrite sentences."""
    return frozenset(load_toml("names.toml")["words"]["not_names"])


class NameSwapper:
    def __init__(self, configs: dict[str, Config], seed: int):
        self.rng = random.Random(seed)
        not_names = _not_names()
        firsts: set[str] = set()
        lasts: set[str] = set()
        rooms: set[str] = set()
        self.patterns: dict[str, re.Pattern | None] = {}
        self.kinds: dict[str, dict[str, str]] = {}
        for key, cfg in configs.items():
            kinds: dict[str, str] = {}
            r = cfg.roster
            for name in [*r.children, *r.staff, *r.parents]:
                parts = name.split()
                if len(parts) >= 2:
                    kinds[name.lower()] = "full"
                    lasts.add(parts[-1])
                    kinds.setdefault(parts[-1].lower(), "last")
                if parts and parts[0].lower() not in not_names:
                    kinds.setdefault(parts[0].lower(), "first")
                    firsts.add(parts[0])
            for room in r.rooms:
                kinds.setdefault(room.lower(), "room")
                rooms.add(room)
            self.kinds[key] = kinds
            words = sorted(kinds, key=len, reverse=True)
            self.patterns[key] = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)",
                                            re.IGNORECASE) if words else None
        common = load_toml("names.toml")["first"]["names"]
        self.firsts = sorted(firsts | {n.title() for n in common if n not in not_names})
        self.lasts = sorted(lasts)
        self.rooms = sorted(rooms)

    def _new(self, kind: str, old: str) -> str:
        pool = {"first": self.firsts, "last": self.lasts, "room": self.rooms}[kind]
        return self.rng.choice(pool) if pool else old

    def swap(self, text: str, setting: str) -> str:
        """`text` with its setting's roster names replaced; the same name gets the same new name."""
        pattern = self.patterns.get(setting)
        if pattern is None:
            return text
        kinds = self.kinds[setting]
        chosen: dict[str, str] = {}

        def pick(low: str, kind: str) -> str:
            if low not in chosen:
                chosen[low] = self._new(kind, low)
            return chosen[low]

        def repl(m: re.Match) -> str:
            old = m.group(0)
            low = old.lower()
            if kinds[low] == "full":  # "Oliver Brown" and a later "Oliver" become the same person
                parts = low.split()
                new = f"{pick(parts[0], 'first')} {pick(parts[-1], 'last')}"
            else:
                new = pick(low, kinds[low])
            return new.upper() if old.isupper() and len(old) > 1 else new

        return pattern.sub(repl, text)

    def swap_all(self, items: Iterable[tuple[str, str]]) -> list[str]:
        return [self.swap(text, setting) for text, setting in items]
