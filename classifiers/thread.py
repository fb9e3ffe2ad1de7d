"""Thread context: read a comment with the conversation it answers.

A thread is oldest first: the post's own text, then the earlier comments and
replies (strings, or {"text", "author"?, "is_setting"?} objects in the JSON
contract; `ThreadEntry` in Python). Labels stay the comment's own; the thread
only explains it:

- an echo ("me too", "+1, exactly what happened to us", "same one shouted at
  my daughter") under a comment that raised a safeguarding concern or a
  complaint carries that concern, with evidence naming why;
- the setting's own replies (`is_setting`, or an author named like the
  setting) are never criticism, and the combiner learns how little else they
  raise ("we've passed this to our safeguarding lead");
- the rule scores of the nearest earlier comments are features the combiner
  reads (combine.py).

Bounded by thread_input.bound (the post and the last few messages, each cut
short). Data: lexicons/thread.toml.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable

from monitor.core.types import ThreadEntry

from .detectors.base import Analysis, Hit
from .lexicon import LexiconMatcher, PatternCompiler, load_toml
from .thread_input import MAX_CHARS, MAX_ENTRIES, ThreadError, bound, parse_thread  # noqa: F401  (re-exported)

READ_BACK = 2  # earlier comments (not the setting's) whose concerns an echo can carry
ECHO_SCORE = 0.8
SHORT_REPLY = 12  # words: a cue anywhere in a reply this short points back; in a longer one, only near the start
ECHO_REASONS = {
    "safeguarding": "agrees with or adds to an earlier comment that raised a safeguarding concern",
    "confidentiality": "confirms or adds to personal details shared in an earlier comment",
    "criticism": "agrees with or adds to an earlier complaint",
}
_CACHE_SIZE = 512


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


class ThreadReader:
    """Turns a comment's thread into echo hits and combiner signals.

    `judge(text)` is the classifier's judgement of one text alone: per label,
    its combined score divided by the label's threshold (>= 1 means raised).
    Results are cached, since siblings share their post and parent.
    """

    def __init__(self, nlp, classes: dict[str, list[str]], setting_names: Iterable[str],
                 judge: Callable[[str], dict[str, float]]):
        data = load_toml("thread.toml")
        compiler = PatternCompiler(nlp, classes)
        self.echo = LexiconMatcher()
        self.echo.add("echo", [compiler.compile(p) for p in data["echo"]["patterns"]])
        self.setting_keys = {_key(n) for n in setting_names if _key(n)}
        self._judge = judge
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()

    def is_setting(self, author: str | None) -> bool:
        return bool(author) and _key(author) in self.setting_keys

    def _scores(self, text: str) -> dict[str, float]:
        hit = self._cache.get(text)
        if hit is None:
            hit = self._judge(text)
            self._cache[text] = hit
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return hit

    def read(self, a: Analysis, thread: tuple[ThreadEntry, ...]) -> tuple[list[Hit], dict[str, float]]:
        """(echo hits, signals). Signals: `thread_<label>`, the strongest concern in the
        nearest earlier comments that are not the setting's (score / threshold, capped
        at 2), and `echo` (1 when the comment agrees with or points back at them)."""
        earlier = [e for e in thread[1:] if not (e.is_setting or self.is_setting(e.author))][-READ_BACK:]
        if not earlier and thread and not (thread[0].is_setting or self.is_setting(thread[0].author)):
            earlier = [thread[0]]  # a post by a parent: its concern is what the comment answers
        concern: dict[str, float] = {}
        for e in earlier:
            for label, v in self._scores(e.text).items():
                concern[label] = max(concern.get(label, 0.0), min(v, 2.0))
        signals = {f"thread_{label}": v for label, v in concern.items()}
        cue = min(self.echo(a.norms), key=lambda m: m[1], default=None)
        if cue is not None and cue[1] > 3 and len(a.alpha) > SHORT_REPLY:
            cue = None  # "this" deep inside a long comment is not pointing back
        signals["echo"] = 1.0 if cue is not None else 0.0
        if cue is None:
            return [], signals
        start_char, end_char = a.chars(cue[1], cue[2])
        hits = [Hit("thread", f"echoes_{label}", label, start_char, end_char, ECHO_SCORE,
                    "high" if label == "safeguarding" else "medium", ECHO_REASONS[label], cue[1], cue[2])
                for label, v in concern.items() if v >= 1.0]
        return hits, signals
