"""The trained text classifier: spaCy textcat_multilabel with a bag-of-n-grams model.

spaCy's TextCatBOW hashes ORTH n-grams, so "BRUISE" and "bruise" are different
features. `nurserywatch.TextCatBOWNorm.v1` is the same linear model over NORM
n-grams (lower case, "didn't" -> "do not") plus word-start features (the first
five letters of longer words) that tolerate typos and inflection ("siniakami" /
"siniaki", "bruised" / "bruising"), and "relations": who did what to whom
(`relations.py`: an act done to a child, by staff, by an adult at home, by a
child). Importing this module registers it, which spacy.load() of the shipped
model needs.
"""
from __future__ import annotations

from functools import partial

import numpy
import spacy
from spacy.attrs import NORM
from spacy.ml.models.textcat import resize_and_set_ref, resize_linear_weighted
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.tokens import Doc
from thinc.api import Logistic, Model, SparseLinear_v2, chain, with_cpu
from thinc.layers.resizable import resizable
from thinc.types import Floats2d

from . import relations as _relations

STEM_LEN = 5
_STEM_SALT = 0x5EED


def _stem_keys(model: Model, docs: list[Doc], is_train: bool):
    """Per doc: NORM n-gram keys (from extract_ngrams) plus hashed word starts and relations.

    Empty docs get no features (extract_ngrams fails on them).
    """
    ngrams = model.layers[0]
    nonempty = [d for d in docs if len(d)]
    if nonempty:
        (keys, _vals, lengths), _bp = ngrams(nonempty, is_train)
        keys_np = model.ops.to_numpy(keys)
        lens_np = model.ops.to_numpy(lengths)
    else:
        keys_np, lens_np = numpy.zeros((0,), dtype="uint64"), []
    use_stems = model.attrs["stems"]
    relations = _relations.shared() if model.attrs.get("relations") else None
    out_keys, out_lens = [], []
    start, j = 0, 0
    for doc in docs:
        if not len(doc):
            out_lens.append(0)
            continue
        n = int(lens_np[j])
        j += 1
        out_keys.append(keys_np[start:start + n])
        start += n
        ks = []
        if use_stems:
            strings = doc.vocab.strings
            ks = [strings.add("§" + t.norm_[:STEM_LEN]) ^ _STEM_SALT
                  for t in doc if len(t.norm_) > STEM_LEN and t.is_alpha]
            out_keys.append(numpy.asarray(ks, dtype="uint64"))
        rel = relations(doc) if relations is not None else ()
        if len(rel):
            out_keys.append(rel)
        out_lens.append(n + len(ks) + len(rel))
    all_keys = numpy.concatenate(out_keys) if out_keys else numpy.zeros((0,), dtype="uint64")
    xp = model.ops.xp
    result = (xp.asarray(all_keys, dtype="uint64"), xp.ones((len(all_keys),), dtype="float32"),
              xp.asarray(out_lens, dtype="int32"))
    return result, lambda d_out: []


@spacy.registry.architectures("nurserywatch.TextCatBOWNorm.v1")
def build_bow_norm(exclusive_classes: bool, ngram_size: int, no_output_layer: bool, length: int = 262144,
                   stems: bool = True, relations: bool = False, nO: int | None = None) -> Model[list[Doc], Floats2d]:
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": 0, "W": 0}
    output_layer = None
    if not no_output_layer:
        fill_defaults["b"] = -10
        output_layer = Logistic()
    resizable_layer = resizable(sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults))
    features = Model("norm_ngrams_and_stems", _stem_keys, layers=[extract_ngrams(ngram_size, attr=NORM)],
                     attrs={"stems": stems, "relations": relations})
    model = chain(features, resizable_layer)
    model = with_cpu(model, model.ops)
    if output_layer:
        model = chain(model, with_cpu(output_layer, output_layer.ops))
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model
