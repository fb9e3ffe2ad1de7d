"""A cheap language guess (marker letters and words; lexicons/language.toml).

Good enough to say "this is probably Polish, a human should read it"; not a
general language identifier.
"""
from __future__ import annotations

import re

from spacy.lang.en.stop_words import STOP_WORDS
from .detectors.base import Analysis
from .lexicon import load_toml

_EN_STOP = frozenset(STOP_WORDS) - {"a", "i", "to", "na", "do", "on", "ma", "ca"}


class LanguageGuesser:
    def __init__(self) -> None:
        data = load_toml("language.toml")
        self.langs = []
        for code, spec in data["languages"].items():
            script = re.compile(f"[{spec['script']}]") if "script" in spec else None
            self.langs.append((code, spec["name"], set(spec.get("letters", "")), set(spec["words"]), script))
        self.names = {code: name for code, name, *_ in self.langs}
        # what any language could score on, so most comments skip the per-language counts
        self.any_marker = frozenset().union(*(markers for _c, _n, _l, markers, _s in self.langs))
        self.any_letter = frozenset().union(*(letters for _c, _n, letters, _m, _s in self.langs))
        scripts = [spec["script"] for spec in data["languages"].values() if "script" in spec]
        self.any_script = re.compile(f"[{''.join(scripts)}]") if scripts else None
        short = data["short"]
        self.short_max = int(short["max_words"])
        self.short_benign = set(short["benign"])

    def guess(self, a: Analysis) -> str:
        """'en', 'pl', 'ro', 'ur' or 'und' (no words to judge)."""
        words = a.alpha
        if not words:
            return "und"
        en = sum(map(_EN_STOP.__contains__, words))
        if en >= 2 and en * 4 >= len(words) and a.text.isascii():
            return "en"  # the common case, decided without the per-language counts
        text = a.text.lower()
        best, best_score = "en", en * 1.0
        if self.any_marker.isdisjoint(words) and self.any_letter.isdisjoint(text) \
                and (self.any_script is None or not self.any_script.search(text)):
            return best  # no language scores above 0 (English with emoji or a curly quote, mostly)
        for code, _name, letters, markers, script in self.langs:
            score = sum(map(markers.__contains__, words)) * 1.0
            if letters and not letters.isdisjoint(text):
                score += 1.5 * sum(text.count(c) for c in letters)  # str.count: no Python loop per character
            if script is not None and script.search(text):
                score += 5 * len(words)
            if score > best_score:
                best, best_score = code, score
        if best != "en" and best_score < 2:
            return "en"
        return best

    def too_short(self, a: Analysis) -> bool:
        """At most `max_words` words (emoji count) and none of them plainly benign."""
        if len(a.alpha) > self.short_max:
            return False  # alphabetic words alone are too many (every one of them is counted below)
        toks = [t for t in a.tokens if not t.is_punct and not t.is_space]
        if len(toks) > self.short_max:
            return False
        return not any(t.lower_ in self.short_benign or t.text in self.short_benign for t in toks)
