"""nurserywatch classifiers: safeguarding, confidentiality and criticism.

    clf = build_classifier(config.setting, config.roster)   # once per process
    result = clf.classify("Miss Sarah shouted at my son", platform="facebook")
    result.labels     -> ("safeguarding", "confidentiality", "criticism")
    result.findings   -> evidence spans with character offsets into the text
"""
from .classifier import Classifier, build_classifier

__all__ = ["Classifier", "build_classifier"]
