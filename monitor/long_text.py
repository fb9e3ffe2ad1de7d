"""Texts too long to classify whole: read their start and their end, and say so.

spaCy refuses a text over `nlp.max_length` (1,000,000 characters), so such a
comment used to come back from the classifier as an error and became only
"needs review", which reaches nobody but the digest, even when it held a
safeguarding disclosure. Instead the classifier reads a window from the start
and one from the end (cut at a space where there is one, joined by a marked
gap), its evidence offsets are moved back onto the whole text, every finding
carries one more piece of evidence saying how much was read, and the comment
is marked for review (with that note) because its middle was not read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from monitor.core.types import Classification, Comment, Evidence

LIMIT = 1_000_000  # characters: spaCy's default nlp.max_length
GAP = "\n\n[...]\n\n"  # between the two windows, so no sentence runs across the cut
WINDOW = (LIMIT - len(GAP)) // 2
SNAP = 200  # look this far back (or on) for a space to cut at, so no word is split


@dataclass(frozen=True)
class Cut:
    """Where a long text was cut: text[:head] + GAP + text[tail:] was read."""

    length: int
    head: int
    tail: int

    def where(self, pos: int) -> int:
        """An offset into the text read, as an offset into the whole text."""
        if pos <= self.head:
            return pos
        return max(self.tail, pos - self.head - len(GAP) + self.tail)

    @property
    def note(self) -> str:
        return (f"This comment is {self.length:,} characters long: only its first {self.head:,} and last "
                f"{self.length - self.tail:,} characters were read automatically; a person must read the rest.")


def _space_before(text: str, pos: int) -> int:
    i = text.rfind(" ", pos - SNAP, pos)
    return i if i > 0 else pos


def _space_after(text: str, pos: int) -> int:
    i = text.find(" ", pos, pos + SNAP)
    return i + 1 if i >= 0 else pos


def shorten(text: str) -> tuple[str, Cut | None]:
    """The text to classify: the text itself, or its two windows when it is over LIMIT."""
    if len(text) <= LIMIT:
        return text, None
    head = _space_before(text, WINDOW)
    tail = _space_after(text, len(text) - WINDOW)
    return text[:head] + GAP + text[tail:], Cut(len(text), head, tail)


def shorten_item(item: Comment | tuple) -> tuple[Comment | tuple, Cut | None]:
    """`shorten` for a classifier input: a Comment or a (text, platform, ...) tuple."""
    text = item.text if isinstance(item, Comment) else item[0]
    short, cut = shorten(text or "")
    if cut is None:
        return item, None
    return (replace(item, text=short) if isinstance(item, Comment) else (short, *item[1:])), cut


def restore(result: Classification, cut: Cut) -> Classification:
    """The classification of the windows, as one of the whole text (see the module's docstring)."""
    told = Evidence(0, 0, "", cut.note, detector="long_text", rule="head_and_tail_read")
    findings = tuple(
        replace(f, evidence=tuple(replace(e, start=cut.where(e.start), end=cut.where(e.end)) for e in f.evidence)
                + (told,))
        for f in result.findings
    )
    note = cut.note if not result.note else f"{cut.note} {result.note}"
    return replace(result, findings=findings, needs_review=True, note=note)


def classify_long_aware(classify, items: Sequence[Comment | tuple]) -> list[Classification]:
    """`classify(items)` (a classifier's classify_batch), with over-long texts read by their windows."""
    shortened = [shorten_item(it) for it in items]
    results = classify([it for it, _ in shortened])
    return [r if cut is None else restore(r, cut) for r, (_, cut) in zip(results, shortened)]
