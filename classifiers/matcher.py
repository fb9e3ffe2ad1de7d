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

# Words too common to file a pattern under: English function words first, then the words found in
# more than 1 in 100 comments of the training corpus. Only speed depends on these lists, never a result.
_FUNCTION = frozenset(STOP_WORDS) | {"not", "do", "can", "will", ".", ",", "?", "!", "'", "-", '"', "(", ")", ":"}
_FREQUENT = frozenset(
    "nursery staff son kids home day room thank little mum know got today told came daughter week time new baby "
    "lovely year said pick like car morning miss dad love good going parents garden child come tell school door "
    "gate left says park best children asked thanks saw kid old happy photos want went hi sorry night saying man "
    "work manager drop let look lunch member need found girl boy month phone ask years ok big photo road lane "
    "christmas asking lol place keeps outside bit team great months crying police weeks hope round stop open fees "
    "days family apparently times office help lost right".split())


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
        # global variant number -> (matcher number, key, first step's words, remaining steps,
        # the word sets of its other required steps: the comment must hold a word of each)
        self.variants = []
        self.by_anchor: dict[str, list[int]] = {}
        for m_i, m in enumerate(self.matchers):
            for key, first, rest in m.variants:
                required = [st[0] for st in rest if st[0] is not None and st[1] >= 1]
                anchor = _anchor(first, required)
                needs = tuple(sorted({ws for ws in required if ws is not anchor}, key=len))
                for word in anchor:
                    self.by_anchor.setdefault(word, []).append(len(self.variants))
                self.variants.append((m_i, key, first, rest, needs))
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
        variants = self.variants
        for v in cands:
            _m, _key, first, rest, needs = variants[v]
            for ws in needs:
                if ws.isdisjoint(words):
                    break
            else:
                starts = first.intersection(words)
                if not starts:
                    continue
                if positions is None:
                    positions = {}
                    for i, w in enumerate(norms):
                        if w in positions:
                            positions[w].append(i)
                        else:
                            positions[w] = [i]
                for w in starts:
                    for i in positions[w]:
                        end = _walk(norms, rest, 0, i + 1, n) if rest else i + 1
                        if end > 0:
                            hits.append((i, v, end))
        if not hits:
            return out
        hits.sort()
        found: list[dict[tuple[str, int], int]] = [{} for _ in self.matchers]
        for i, v, end in hits:
            m_i, key = variants[v][0], variants[v][1]
            f = found[m_i]
            if end > f.get((key, i), 0):
                f[(key, i)] = end
        for matcher, f in zip(self.matchers, found):
            out[matcher] = [(key, start, end) for (key, start), end in f.items()]
        return out


def _anchor(first: frozenset[str], required: list[frozenset[str]]) -> frozenset[str]:
    """The words of the pattern's rarest required step (the first or one of `required`, the others):
    one of them must be in the comment."""
    return min([first, *required], key=lambda ws: (len(ws & _FUNCTION), len(ws & _FREQUENT), len(ws)))


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
