"""The shipped textcat's scores for a batch of docs, read straight from each doc's NORM ids.

The shipped model (textcat.py, `stems = false`, `ngram_size = 1`) is a linear
model over the set of a comment's NORM hashes: its feature layer turns each doc
into a numpy array, de-duplicates it (numpy.unique) and concatenates the batch,
which costs more than the sparse product itself. Here the same keys, in the
same (ascending) order, come from one `to_array` per doc and Python's own
set and sort, and go to the model's own sparse-linear and logistic layers, so
the scores are the textcat's own to the last bit. A model trained with other
features (stems, n-grams) is scored by spaCy as before (`applies` is False);
one that reads relations (relations.py) gets their keys after the words', as
its feature layer gives them.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy
from spacy.attrs import NORM
from spacy.tokens import Doc

from . import relations as _relations


def _layers(textcat):
    """(sparse linear, logistic, relations or None) when the textcat is the unigram-NORM model
    without stems, else None."""
    try:
        model = textcat.model
        features = model.layers[0].layers[0].layers[0]
        ngrams = features.layers[0]
        logistic = model.layers[1].layers[0]
    except (AttributeError, IndexError):
        return None
    if (features.name != "norm_ngrams_and_stems" or features.attrs.get("stems")
            or ngrams.attrs.get("ngram_size") != 1 or ngrams.attrs.get("attr") != NORM
            or logistic.name != "logistic"):
        return None
    return model.get_ref("output_layer"), logistic, _relations.shared() if features.attrs.get("relations") else None


class FastTextcat:
    def __init__(self, textcat) -> None:
        self.labels = tuple(textcat.labels)
        self.layers = _layers(textcat)

    @property
    def applies(self) -> bool:
        return self.layers is not None

    def set_cats(self, docs: Sequence[Doc]) -> None:
        """Score `docs` and set `doc.cats`, as the textcat's own `pipe` would."""
        linear, logistic, relations = self.layers
        keys: list[int] = []
        lengths = []
        for doc in docs:
            norms = doc.to_array(NORM).tolist()
            k = sorted(set(norms))
            if relations is not None and norms:
                k += relations.from_norms(norms, doc.vocab.strings).tolist()
            keys += k
            lengths.append(len(k))
        n = len(keys)
        scores = logistic.predict(linear.predict((numpy.array(keys, dtype="uint64"), numpy.ones(n, dtype="float32"),
                                                  numpy.array(lengths, dtype="int32"))))
        labels = self.labels
        for doc, row in zip(docs, scores.tolist()):
            doc.cats.update(zip(labels, row))
