"""Matching compiled lexicon patterns against a comment's NORM strings, fast.

A pattern (lexicon.PatternCompiler) is a list of steps: (word set, or None for
any word; min repeats; max repeats). A comment usually holds none of a
lexicon's thousands of patterns, so the work is in ruling patterns out cheaply:

- each pattern is filed under its *anchor*, the required step whose words are
  rarest (no English function words if it can help it, then the fewest words);
  one set intersection of the comment's words with all anchor words (in C)
  leaves the few patterns that could match at all;
- only those are walked, from each position where their first step matches.

Results are (key, start, end) with the longest end per key and start, in the
order of start, then of the patterns as they were added. Several matchers run
together as a `MatcherGroup`: one pass, each matcher's own results.
(spaCy's Matcher evaluates every predicate on every token, which is ~20x
slower with a few thousand patterns.)
"""
from __future__ import annotations

from spacy.lang.en.stop_words import STOP_WORDS

Step = tuple  # (words: frozenset[str] | None for any word, min repeats, max repeats)
Match = tuple[str, int, int]  # (key, start token, end token)

_COMMON = frozenset(STOP_WORDS) | {"not", "do", "can", "will"}


class LexiconMatcher:
    """The patterns of one lexicon, each under a key (the rule id)."""

    def __init__(self) -> None:
        # (key, first step's words, remaining steps), in the order added
        self.variants: list[tuple[str, frozenset[str], tuple[Step, ...]]] = []
        self._alone: MatcherGroup | None = None

    def add(self, key: str, patterns: list[list[Step]]) -> None:
        for steps in patterns:
            for variant in _required_first(steps):
                self.variants.append((key, variant[0][0], tuple(variant[1:])))
        self._alone = None

    def __call__(self, norms: list[str], words: frozenset[str] | None = None) -> list[Match]:
        if self._alone is None:
            self._alone = MatcherGroup([self])
        return self._alone(norms, words)[self]


class MatcherGroup:
    """Several matchers run in one pass over a comment, each with its own results: the classifier
    runs its always-needed lexicons (safeguarding, criticism, personal details, benign contexts,
    hypotheticals) as one group. Built from the matchers as they are; add no patterns afterwards."""

    def __init__(self, matchers: list[LexiconMatcher]):
        self.matchers = list(matchers)
        # global variant number -> (matcher number, key, first step's words, remaining steps)
        self.variants = [(m_i, key, first, rest) for m_i, m in enumerate(self.matchers)
                         for key, first, rest in m.variants]
        self.by_anchor: dict[str, list[int]] = {}
        for v, (_m, _key, first, rest) in enumerate(self.variants):
            for word in _anchor(first, rest):
                self.by_anchor.setdefault(word, []).append(v)
        self.anchors = frozenset(self.by_anchor)

    def __call__(self, norms: list[str], words: frozenset[str] | None = None) -> dict[LexiconMatcher, list[Match]]:
        out: dict[LexiconMatcher, list[Match]] = {m: [] for m in self.matchers}
        found_anchors = self.anchors.intersection(norms)
        if not found_anchors:
            return out
        if words is None:
            words = frozenset(norms)
        by_anchor = self.by_anchor
        cands = {v for w in found_anchors for v in by_anchor[w]}
        positions: dict[str, list[int]] | None = None
        n = len(norms)
        hits = []
        for v in cands:
            m_i, key, first, rest = self.variants[v]
            starts = first.intersection(words)
            if not starts:
                continue
            if positions is None:
                positions = {}
                for i, w in enumerate(norms):
                    positions.setdefault(w, []).append(i)
            for w in starts:
                for i in positions[w]:
                    end = _walk(norms, rest, 0, i + 1, n) if rest else i + 1
                    if end > 0:
                        hits.append((i, v, end))
        if not hits:
            return out
        hits.sort()
        found: list[dict[tuple[str, int], int]] = [{} for _ in self.matchers]
        variants = self.variants
        for i, v, end in hits:
            m_i, key = variants[v][0], variants[v][1]
            f = found[m_i]
            if end > f.get((key, i), 0):
                f[(key, i)] = end
        for matcher, f in zip(self.matchers, found):
            out[matcher] = [(key, start, end) for (key, start), end in f.items()]
        return out


def _anchor(first: frozenset[str], rest: tuple[Step, ...]) -> frozenset[str]:
    """The words of the pattern's rarest required step: one of them must be in the comment."""
    required = [first] + [st[0] for st in rest if st[0] is not None and st[1] >= 1]
    return min(required, key=lambda ws: (len(ws & _COMMON), len(ws)))


def _required_first(steps: list[Step]) -> list[list[Step]]:
    if steps[0][1] >= 1:
        first = steps[0]
        return [[(first[0], 1, 1)] + ([(first[0], first[1] - 1, first[2] - 1)] if first[2] > 1 else []) + steps[1:]]
    # optional first word: with it, or without it
    return _required_first([(steps[0][0], 1, 1)] + steps[1:]) + _required_first(steps[1:])


def _walk(norms: list[str], steps: tuple[Step, ...], k: int, pos: int, n: int) -> int:
    """Longest end position matching steps[k:] from pos, or -1."""
    if k == len(steps):
        return pos
    words, lo, hi = steps[k]
    best = -1
    # take `lo` required repeats, then try 0..(hi-lo) more, longest overall wins
    p = pos
    for _ in range(lo):
        if p >= n or (words is not None and norms[p] not in words):
            return -1
        p += 1
    for extra in range(hi - lo + 1):
        if extra:
            if p >= n or (words is not None and norms[p] not in words):
                break
            p += 1
        end = _walk(norms, steps, k + 1, p, n)
        if end > best:
            best = end
    return best
