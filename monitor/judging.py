"""Run the classifier so that one bad comment cannot stop the rest.

A batch is classified in one call; if that call raises, each comment is tried
on its own, and the ones that still fail come back as the exception, for the
caller to report (`classify`) or mark for a human (the pipeline).
"""
from __future__ import annotations

import logging
from typing import Sequence

from monitor.core.types import Classification

log = logging.getLogger(__name__)

Input = tuple  # (text, platform) or (text, platform, rating)


def classify_each(classifier, items: Sequence[Input]) -> list[Classification | Exception]:
    if not items:
        return []
    try:
        return list(classifier.classify_batch(list(items)))
    except Exception:
        log.warning("classifier failed on a batch of %s; retrying one by one", len(items))
    out: list[Classification | Exception] = []
    for item in items:
        try:
            out.append(classifier.classify_batch([item])[0])
        except Exception as err:  # noqa: BLE001 - reported per item by the caller
            out.append(err)
    return out


def unjudged(err: Exception) -> Classification:
    """What a comment the classifier failed on becomes: a human must look."""
    return Classification(needs_review=True, note=f"the classifier failed on this comment ({type(err).__name__})")
