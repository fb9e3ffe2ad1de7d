"""Classify a batch so that one bad comment cannot stop the rest.

A batch is classified in one call; if that call raises, each comment is tried
on its own, and the ones that still fail come back as the exception, for the
caller to report (`nurserywatch classify`) or mark for a human (the pipeline,
monitor/judging.py). No database or alert imports: `classify` starts without them.
"""
from __future__ import annotations

import logging
from typing import Sequence

from monitor.core.types import Classification
from monitor.long_text import classify_long_aware

log = logging.getLogger("monitor.judging")

Input = tuple  # (text, platform[, rating[, thread[, is_setting[, author]]]]), as classify_batch takes them


def classify_each(classifier, items: Sequence[Input]) -> list[Classification | Exception]:
    """Classifications in order; a text over 1,000,000 characters is read by its start and end
    (`monitor.long_text`); an item the classifier still fails on comes back as its exception."""
    if not items:
        return []
    try:
        return classify_long_aware(classifier.classify_batch, list(items))
    except Exception:
        log.warning("classifier failed on a batch of %s; retrying one by one", len(items))
    out: list[Classification | Exception] = []
    for item in items:
        try:
            out.append(classify_long_aware(classifier.classify_batch, [item])[0])
        except Exception as err:  # noqa: BLE001 - reported per item by the caller
            out.append(err)
    return out
