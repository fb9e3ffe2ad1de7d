"""Train the shipped model from the train split: `nurserywatch train`.

1. Out-of-fold (5 folds over train): train the textcat on 4/5, predict the held
   out 1/5; compute the rule scores for every train comment.
2. Fit the combiner (a small logistic per label, combine.py) on those
   out-of-fold predictions and pick each label's threshold there
   (safeguarding: recall first, see SAFEGUARDING_MIN_RECALL; others: best F1).
3. Train the final textcat on all of train; save it with the combiner to
   classifiers/model/. The dev split is never read.
Deterministic: one seed drives shuffling, dropout and initialisation.
"""
from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path
from typing import Sequence

import numpy
import spacy
from spacy.language import Language
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed, minibatch

from monitor.core.progress import track

from . import textcat as _arch  # noqa: F401  (registers the architecture)
from . import normalise as _normalise  # noqa: F401  (registers the normaliser)
from .classifier import MODEL_DIR, NORMALISER, Classifier
from .combine import Combiner, features
from .fitting import (HIGH_SAFEGUARDING_MIN_RECALL, HIGH_THRESHOLD_BETA, SAFEGUARDING_MIN_RECALL, THRESHOLD_BETA,
                      best_threshold, fit_logistic, recall_threshold)
from .corpus import LABELS, Example, load_split, setting_configs
from .nameswap import NameSwapper
from .semantic_fit import fit_stage
from .semantic_stage import OVERRIDES_FILE, SEMANTIC_FILE

log = logging.getLogger("nurserywatch.train")

SEED = 20240611
EPOCHS = 12
FOLDS = 5
DROPOUT = 0.2
TEXTCAT_CONFIG = {
    "threshold": 0.5,
    "model": {
        "@architectures": "nurserywatch.TextCatBOWNorm.v1",
        "exclusive_classes": False,
        "ngram_size": 1,
        "no_output_layer": False,
        "length": 262144,
        "stems": False,
        # who did what to whom (relations.py): out-of-fold safeguarding precision at 94% recall
        # 0.648 -> 0.671 on round 4's train split, the other labels unchanged (docs/classifier.md, Round 5)
        "relations": True,
    },
}
def new_pipeline() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe(NORMALISER)
    tc = nlp.add_pipe("textcat_multilabel", config=TEXTCAT_CONFIG)
    for label in LABELS:
        tc.add_label(label)
    return nlp


def train_textcat(examples: list[Example], seed: int = SEED, epochs: int = EPOCHS,
                  texts: list[str] | None = None) -> Language:
    """`texts` (default: the examples' own) are what the model reads: names swapped (nameswap.py)."""
    fix_random_seed(seed)
    rng = random.Random(seed)
    nlp = new_pipeline()
    texts = texts or [e.text for e in examples]
    normalise = nlp.get_pipe(NORMALISER)  # update() runs no components: normalise the docs here
    data = [SpacyExample.from_dict(normalise(nlp.make_doc(t)), {"cats": {lab: float(lab in e.labels) for lab in LABELS}})
            for e, t in zip(examples, texts)]
    optimizer = nlp.initialize(lambda: data)
    for epoch in track(range(epochs), "training: epochs"):
        rng.shuffle(data)
        losses: dict = {}
        for batch in minibatch(data, size=16):
            nlp.update(batch, sgd=optimizer, drop=DROPOUT, losses=losses)
        log.debug("epoch %d loss %.3f", epoch, losses.get("textcat_multilabel", 0.0))
    return nlp


def predict(nlp: Language, texts: list[str]) -> numpy.ndarray:
    return numpy.array([[d.cats[lab] for lab in LABELS] for d in nlp.pipe(texts, batch_size=256)])


def rule_matrix(examples: list[Example], configs: dict | None = None) -> tuple[numpy.ndarray, list[dict[str, float]]]:
    """Rule scores (after context, with the thread) per example and label, and each example's
    combiner signals (Classifier.judge_parts), from a rules-only classifier with the example's
    own setting and roster."""
    configs = configs or setting_configs()
    judges: dict[str, Classifier] = {}
    out, contexts = [], []
    for e in track(examples, "rules over the examples"):
        if e.setting not in judges:
            cfg = configs[e.setting]
            judges[e.setting] = Classifier(cfg.setting, cfg.roster, use_model=False)
        rules = judges[e.setting]
        doc = rules.nlp.get_pipe(NORMALISER)(rules.nlp.make_doc(e.text))
        _a, _hits, s, signals = rules.judge_parts(doc, e.comment())
        out.append([s[lab] for lab in LABELS])
        contexts.append(signals)
    return numpy.array(out), contexts


def out_of_fold(examples: list[Example], folds: int = FOLDS, seed: int = SEED,
                texts: list[str] | None = None) -> numpy.ndarray:
    """Each example scored (on its real text) by a model trained without it (on `texts`)."""
    texts = texts or [e.text for e in examples]
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    preds = numpy.zeros((len(examples), len(LABELS)))
    for k in track(range(folds), "out-of-fold models"):
        held = idx[k::folds]
        held_set = set(held)
        keep = [i for i in idx if i not in held_set]
        nlp = train_textcat([examples[i] for i in keep], seed=seed + k, texts=[texts[i] for i in keep])
        preds[held] = predict(nlp, [examples[i].text for i in held])
        log.info("fold %d/%d done", k + 1, folds)
    return preds


def fit_combiner(rules: numpy.ndarray, model: numpy.ndarray, gold: numpy.ndarray,
                 ratings: list[int | None], contexts: list[dict[str, float]] | None = None) -> Combiner:
    comb = Combiner()
    contexts = contexts or [{} for _ in range(len(gold))]
    rows = [({lab: float(rules[i, j]) for j, lab in enumerate(LABELS)},
             {lab: float(model[i, j]) for j, lab in enumerate(LABELS)}, ratings[i], contexts[i])
            for i in range(len(gold))]
    for j, lab in enumerate(LABELS):
        x = numpy.array([features(lab, r, m, rating, ctx) for r, m, rating, ctx in rows])
        comb.weights[lab] = fit_logistic(x, gold[:, j])
        scores = numpy.array([comb.score(lab, r, m, rating, ctx) for r, m, rating, ctx in rows])
        if lab == "safeguarding":
            comb.thresholds[lab] = recall_threshold(scores, gold[:, j], SAFEGUARDING_MIN_RECALL)
            comb.thresholds_high[lab] = recall_threshold(scores, gold[:, j], HIGH_SAFEGUARDING_MIN_RECALL)
        else:
            comb.thresholds[lab] = best_threshold(scores, gold[:, j], THRESHOLD_BETA[lab])
            comb.thresholds_high[lab] = best_threshold(scores, gold[:, j], HIGH_THRESHOLD_BETA[lab])
        comb.thresholds_high[lab] = min(comb.thresholds_high[lab], comb.thresholds[lab])
    return comb


def oof_report(rules: numpy.ndarray, model: numpy.ndarray, gold: numpy.ndarray, combiner: Combiner,
               ratings: list[int | None], contexts: list[dict[str, float]] | None = None) -> dict:
    """Per-label precision/recall of the combined system on the out-of-fold train predictions."""
    from .evaluate import score

    contexts = contexts or [{} for _ in range(len(gold))]
    preds = []
    for i in range(len(gold)):
        r = {lab: float(rules[i, j]) for j, lab in enumerate(LABELS)}
        m = {lab: float(model[i, j]) for j, lab in enumerate(LABELS)}
        preds.append({lab for lab in LABELS
                      if combiner.score(lab, r, m, ratings[i], contexts[i]) >= combiner.threshold(lab)
                      and not (lab == "criticism" and contexts[i].get("is_setting"))})
    gold_sets = [{lab for j, lab in enumerate(LABELS) if gold[i, j]} for i in range(len(gold))]
    return score(gold_sets, preds)


def _encoder(semantic: bool | None, overrides: Path | None):
    """The sentence encoder for the semantic stage: None when `semantic` is False, or when it is None
    (the default: fit the stage when the model is installed) and the model is not installed."""
    if semantic is False:
        return None
    from .semantic import Encoder, SemanticUnavailable

    try:
        return Encoder.load(overrides=overrides if overrides is not None and overrides.exists() else None)
    except SemanticUnavailable:
        if semantic:
            raise
        log.warning("semantic model not installed: training without the semantic stage")
        return None


def train(output: Path = MODEL_DIR, seed: int = SEED, without: set[str] | None = None,
          extra: Sequence[Example] = (), semantic: bool | None = None) -> dict:
    """Train on the train split of every setting (but those in `without`), plus
    `extra` examples (a setting's own feedback), and write the model; with the
    semantic stage (semantic_fit.py) when `semantic` is True, or None and the
    sentence model is installed. Fine-tuned encoder layers already in `output`
    (semantic_layers.safetensors) are kept and used."""
    logging.getLogger("spacy").setLevel(logging.WARNING)
    configs = setting_configs()
    examples = [e for e in load_split("train") if e.setting not in (without or set())] + list(extra)
    if not examples:
        raise SystemExit("train: no examples in the train split")
    texts = NameSwapper(configs, seed).swap_all((e.text, e.setting) for e in examples)
    gold = numpy.array([[float(lab in e.labels) for lab in LABELS] for e in examples])
    rules, contexts = rule_matrix(examples, configs)
    oof = out_of_fold(examples, seed=seed, texts=texts)
    ratings = [e.rating for e in examples]
    combiner = fit_combiner(rules, oof, gold, ratings, contexts)
    report = oof_report(rules, oof, gold, combiner, ratings, contexts)
    layers = output / OVERRIDES_FILE
    encoder = _encoder(semantic, layers)
    stage, stage_report = None, None
    if encoder is not None:
        stage, stage_report = fit_stage(examples, texts, rules, oof, gold, contexts, combiner, encoder, FOLDS, seed)
    nlp = train_textcat(examples, seed=seed, texts=texts)
    tmp = output.with_name(output.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    nlp.to_disk(tmp)
    combiner.save(tmp / "combiner.json")
    if stage is not None:
        stage.save(tmp / SEMANTIC_FILE)
        if layers.exists():
            shutil.copy2(layers, tmp / OVERRIDES_FILE)
    if output.exists():
        shutil.rmtree(output)
    tmp.rename(output)
    return {"examples": len(examples), "thresholds": combiner.thresholds,
            "thresholds_high": combiner.thresholds_high, "weights": combiner.weights,
            "out_of_fold": report, "semantic": None if stage is None else {
                "thresholds": stage.thresholds, "floor": stage.floor, "out_of_fold": stage_report}}
