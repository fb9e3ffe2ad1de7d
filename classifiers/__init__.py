"""nurserywatch classifiers: safeguarding, confidentiality and criticism.

    clf = build_classifier(config.setting, config.roster)   # once per process
    result = clf.classify("Miss Sarah shouted at my son", platform="facebook")
    result.labels     -> ("safeguarding", "confidentiality", "criticism")
    result.findings   -> evidence spans with character offsets into the text

The classifier (and spaCy) load on first use, so commands that never classify
(`check-config`, `accounts`, `alerts`) start without them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .classifier import Classifier, build_classifier

__all__ = ["Classifier", "build_classifier"]


def __getattr__(name: str):
    if name in __all__:
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
