"""Lexicon matching: the fast paths (patterns filed under their rarest word, several lexicons
in one pass, the textcat read from NORM ids) give exactly what the plain algorithm gives."""
from __future__ import annotations

import numpy
import pytest
import spacy

from classifiers.corpus import load_split
from classifiers.fastcat import FastTextcat
from classifiers.matcher import _walk


def every_match(matcher, norms):
    """The plain algorithm: every pattern tried at every position; the longest end per rule and
    start, in the order of start, then of the patterns as they were added."""
    found = {}
    for i in range(len(norms)):
        for key, first, rest in matcher.variants:
            if norms[i] not in first:
                continue
            end = _walk(norms, rest, 0, i + 1, len(norms)) if rest else i + 1
            if end > 0 and end > found.get((key, i), 0):
                found[(key, i)] = end
    return [(key, start, end) for (key, start), end in found.items()]


@pytest.fixture(scope="module")
def norms_of_corpus(rules_clf):
    texts = [e.text for e in load_split("dev")] + [
        "", "!!!", "not not not", "my son my son came home with a bruise and a bruise", "the the the"]
    return [[t.norm_ for t in rules_clf.nlp.make_doc(t)] for t in texts]


def test_one_pass_over_all_lexicons_finds_what_trying_every_pattern_everywhere_finds(rules_clf, norms_of_corpus):
    group = rules_clf.matchers
    assert len(group.matchers) == 5  # safeguarding, criticism, personal details, benign, hypothetical
    found_any = 0
    for norms in norms_of_corpus:
        together = group(norms)
        for matcher in group.matchers:
            assert together[matcher] == every_match(matcher, norms) == matcher(norms)
            found_any += bool(together[matcher])
    assert found_any > 100  # the dev comments do match: the comparison is not between empty lists


def test_the_textcat_read_from_norm_ids_scores_exactly_as_spacy_does(clf):
    texts = [e.text for e in load_split("dev")][:300] + ["", "   ", "!!!", "😡😡", "Miss Sarah SHOUTED at him " * 200]
    fast = [dict(d.cats) for d in clf.docs(texts)]
    textcat = clf.nlp.get_pipe("textcat_multilabel")
    normalise = clf.nlp.get_pipe("nurserywatch_normalise")
    slow = [dict(d.cats) for d in textcat.pipe(normalise.apply(clf.nlp.make_doc(t), t) for t in texts)]
    assert clf.fastcat is not None
    assert fast == slow


@pytest.mark.parametrize("model", [
    {"@architectures": "nurserywatch.TextCatBOWNorm.v1", "exclusive_classes": False, "ngram_size": 1,
     "no_output_layer": False, "stems": True},
    {"@architectures": "nurserywatch.TextCatBOWNorm.v1", "exclusive_classes": False, "ngram_size": 2,
     "no_output_layer": False, "stems": False},
    {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": False, "ngram_size": 1, "no_output_layer": False},
])
def test_a_model_with_other_features_is_left_to_spacy(model):
    import classifiers.textcat  # noqa: F401  (registers the architecture)

    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat_multilabel", config={"model": model})
    textcat.add_label("safeguarding")
    nlp.initialize()
    assert not FastTextcat(textcat).applies
    assert numpy.isfinite(textcat.predict([nlp("hello there")])).all()
