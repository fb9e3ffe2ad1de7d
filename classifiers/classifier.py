"""The classifier: parse once, run the detectors, post-process in a fixed order.

Post-processing order (documented in docs/classifier.md):
  1. detect   every detector reads the same Analysis and returns raw hits
  2. context  negation, hypotheticals, benign events lower hit scores (context.py);
              then a named person in a comment with a surviving concern adds a
              confidentiality hit (NamedConcernLinker)
  3. merge    per label, the best hit of each rule combine by noisy-or -> rule score
  4. model    the trained textcat_multilabel gives a probability per label
  5. combine  rule score and model probability -> one score per label (combiner.json)
  6. threshold  labels whose score reaches the label's threshold are raised
  6b. semantic  with the semantic stage on, labels whose score reached a floor are re-read by
              meaning (semantic_stage.py), raised or lowered against its own thresholds, saying so
  7. review   non-English or too-short comments with no label are marked for a human
  8. correct  the setting's own lessons ("not a concern", "needed a human") adjust the
              labels of comments very like the taught ones (corrections.py)
"""
from __future__ import annotations

import gc
import threading
from bisect import bisect_right
from itertools import islice
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from monitor.core.settings import ClassifierConfig, RosterConfig, SettingConfig
from monitor.core.types import CATEGORIES, Classification, Comment, Evidence, Finding, ThreadEntry

from .context import ContextRules
from .detectors.base import Analysis, Hit, is_content_word as _is_content_word
from .detectors.confidentiality import NamedConcernLinker, SensitiveLinkDetector
from .detectors.criticism import RatingDetector
from .detectors.names import NameFinder
from .detectors.pii import PiiDetector
from .detectors.rules import LexiconDetector
from .combine import RULES_ONLY_THRESHOLD, Combiner
from .corrections import Corrections
from .fastcat import FastTextcat
from .language import LanguageGuesser
from .lexicon import MatcherGroup, word_classes
from .semantic_stage import head_probs, second_look
from .thread import ThreadReader
from .thread_input import bound

MODEL_DIR = Path(__file__).parent / "model"
NORMALISER = "nurserywatch_normalise"
MIN_EVIDENCE = 0.15  # hits below this after context are not shown as evidence
WEIGHT_CACHE_SIZE = 100_000  # words whose textcat weights are kept (a few MB)
SAFEGUARDING = "safeguarding"
# The combiner learned that the setting's own replies are never safeguarding (no corpus example is):
# they are raised anyway when the rules fire and the text model reads a concern this strongly. Of the
# corpus's 540 replies by settings, 27 fire the rules ("all our staff are DBS checked"), with the text
# model at 0.22 at most; a reply disclosing "her dad hits her" reads 0.64, "smacked a child" 0.48.
OWN_CONCERN = 0.4


def make_nlp(model_dir: Path | None = MODEL_DIR) -> Language:
    """The shipped pipeline (normaliser + tokenizer + textcat) or, without one, a blank English one;
    either way obfuscation is undone first (normalise.py)."""
    from . import normalise  # noqa: F401  (registers the normaliser)

    if model_dir is not None and (Path(model_dir) / "config.cfg").exists():
        from . import textcat  # noqa: F401  (registers the model architecture)

        nlp = spacy.load(model_dir, exclude=["sentencizer"])
    else:
        nlp = spacy.blank("en")
    if NORMALISER not in nlp.pipe_names:
        nlp.add_pipe(NORMALISER, first=True)
    return nlp


_PIPELINES: dict[tuple, Language] = {}
_PIPELINES_LOCK = threading.Lock()


def shared_nlp(model_dir: Path | None = MODEL_DIR) -> Language:
    """One loaded pipeline per model on disk, shared by every setting's classifier in the
    process (it is ~10 MB; what differs per setting, its names and rules, is built beside it).
    A model replaced on disk (a new `train`) is loaded afresh: the key holds its files' times."""
    path = Path(model_dir) if model_dir is not None else None
    stamp = tuple(sorted((f.name, f.stat().st_mtime_ns) for f in path.rglob("*") if f.is_file())) \
        if path is not None and path.is_dir() else ()
    key = (str(path.resolve()) if path is not None else None, stamp)
    with _PIPELINES_LOCK:
        if key not in _PIPELINES:
            for old in [k for k in _PIPELINES if k[0] == key[0]]:
                del _PIPELINES[old]  # the model it was loaded from has been replaced
            _PIPELINES[key] = make_nlp(model_dir)
        return _PIPELINES[key]


class Classifier:
    """Judges comments for safeguarding, confidentiality and criticism.

    Build it once per process with `build_classifier`; `classify` and
    `classify_batch` are then cheap and thread-compatible for reading.
    """

    def __init__(self, setting: SettingConfig, roster: RosterConfig, model_dir: Path | None = MODEL_DIR,
                 use_model: bool = True, options: ClassifierConfig | None = None,
                 corrections: Corrections | None = None, semantic: bool | None = None):
        """`semantic`: the semantic stage on or off (default: the config's `[classifier] semantic`)."""
        self.nlp = shared_nlp(model_dir if use_model else None)
        self.has_model = "textcat_multilabel" in self.nlp.pipe_names
        self.names = NameFinder(self.nlp, setting, roster)
        classes = word_classes({
            "child": sorted(self.names.child_first),
            "staff": sorted(self.names.staff_words),
        })
        self.language = LanguageGuesser()
        self.context = ContextRules(self.nlp, classes)
        self.detectors = [
            LexiconDetector("safeguarding_rules", "safeguarding.toml", self.nlp, classes),
            LexiconDetector("criticism_rules", "criticism.toml", self.nlp, classes),
            PiiDetector(setting),
            self.names,
            SensitiveLinkDetector(self.nlp, classes),
            RatingDetector(),
        ]
        self.foreign = LexiconDetector("foreign_rules", "foreign.toml", self.nlp, classes)
        self.linker = NamedConcernLinker()
        # the lexicons every comment needs, matched in one pass (lexicon.MatcherGroup)
        self.matchers = MatcherGroup([d.matcher for d in self.detectors if isinstance(d, (LexiconDetector, SensitiveLinkDetector))]
                                     + [self.context.benign_matcher, self.context.hyp])
        self.thread = ThreadReader(self.nlp, classes, [setting.name, *setting.aliases], self._rules_alone)
        combiner_path = Path(model_dir) / "combiner.json" if model_dir else None
        options = options or ClassifierConfig()
        self.fitted = Combiner.load(combiner_path if (self.has_model and combiner_path) else None)
        self.combiner = self.fitted.for_sensitivity(options.sensitivity, options.thresholds)
        self.corrections = corrections or Corrections()
        self.semantic = self._semantic_stage(model_dir, options, semantic)
        self._weights_cache: dict[int, tuple[float, ...]] = {}
        fastcat = FastTextcat(self.nlp.get_pipe("textcat_multilabel")) if self.has_model else None
        # the shipped model's scores without spaCy's feature layer; only the textcat may follow the normaliser
        self.fastcat = fastcat if fastcat is not None and fastcat.applies \
            and self.nlp.pipe_names == [NORMALISER, "textcat_multilabel"] else None
        self._label_index = {lab: j for j, lab in enumerate(self.nlp.get_pipe("textcat_multilabel").labels)} \
            if self.has_model else {}

    # -- public API ---------------------------------------------------------
    def classify(self, text: str, platform: str | None = None, rating: int | None = None, *,
                 thread: Sequence[ThreadEntry | str] = (), is_setting: bool = False,
                 author: str | None = None) -> Classification:
        """Judge one comment; `thread` is the conversation before it, oldest first, the post first."""
        c = Comment(text or "", platform, rating, bound(thread), is_setting, author)
        if self.semantic is not None:
            return self.classify_batch([c])[0]
        return self._judge(next(self.docs([c.text])), c)

    def classify_batch(self, items: Sequence[Comment | tuple]) -> list[Classification]:
        """`items` are `Comment`s, or (text, platform[, rating[, thread[, is_setting[, author]]]]) tuples."""
        comments = [as_comment(it) for it in items]
        with gc_paused():
            docs = self.docs([c.text for c in comments])
            if self.semantic is not None:
                return self._judge_semantic(list(docs), comments)
            return [self._judge(doc, c) for doc, c in zip(docs, comments)]

    def docs(self, texts: Sequence[str]) -> Iterator[Doc]:
        """The pipeline, run by hand: tokenise, normalise with the raw text at hand (the
        normaliser's first look reads the string; rebuilding it from the Doc costs more than
        tokenising), then the textcat in batches (fastcat.py when the model allows)."""
        normalise = self.nlp.get_pipe(NORMALISER)
        docs: Iterable[Doc] = (normalise.apply(self.nlp.make_doc(t), t) for t in texts)
        if self.fastcat is not None:
            return self._fast_docs(docs)
        for name, proc in self.nlp.pipeline:
            if name != NORMALISER:
                docs = proc.pipe(docs, batch_size=256) if hasattr(proc, "pipe") else map(proc, docs)
        return iter(docs)

    def _fast_docs(self, docs: Iterable[Doc]) -> Iterator[Doc]:
        it = iter(docs)
        while batch := list(islice(it, 256)):
            self.fastcat.set_cats(batch)
            yield from batch

    def learn(self, comments: Sequence[Comment | tuple], labels: Sequence[Iterable[str]]) -> Corrections:
        """The setting's corrections (corrections.py) from comments people labelled with the labels
        they should carry, judged by this classifier without any corrections."""
        comments = [as_comment(c) for c in comments]
        docs = list(self.docs([c.text for c in comments]))
        saved, self.corrections = self.corrections, Corrections()
        try:
            results = [self._judge(d, c) for d, c in zip(docs, comments)]
        finally:
            self.corrections = saved
        return Corrections.learn(docs, comments, results, [frozenset(lab) for lab in labels])

    # -- the fixed order ----------------------------------------------------
    def analyse(self, doc: Doc, text: str, platform: str | None, rating: int | None) -> tuple[Analysis, list[Hit]]:
        a = Analysis(text=text, doc=doc, platform=platform, rating=rating)
        a.tokens = toks = list(doc)  # Token objects are made once per comment, then shared
        a.norms = [t.norm_ for t in toks]
        a.lowers = lowers = [t.lower_ for t in toks]
        a.alpha = [w for w in lowers if w.isalpha()]
        a.matches = self.matchers(a.norms)
        a.lang = self.language.guess(a)
        a.mentions = self.names.find(a)
        hits: list[Hit] = []
        for det in self.detectors:  # 1. detect
            hits.extend(det.detect(a))
        if a.lang not in ("en", "und"):
            hits.extend(self.foreign.detect(a))
        self.context.apply(a, hits)  # 2. context
        hits.extend(self.linker.link(a, hits))  # 2b. a named person + a concern that survived context
        return a, hits

    def rule_scores(self, hits: list[Hit]) -> dict[str, float]:
        """3. merge: noisy-or over the best hit of each rule, per label."""
        best: dict[tuple[str, str], float] = {}
        for h in hits:
            key = (h.label, h.rule)
            best[key] = max(best.get(key, 0.0), h.value)
        scores = {c: 0.0 for c in CATEGORIES}
        for (label, _rule), v in best.items():
            scores[label] = 1 - (1 - scores[label]) * (1 - v)
        return scores

    def context_signals(self, a: Analysis) -> dict[str, float]:
        """What the combiner reads besides scores: benign-context damping per label, "foreign", "short"."""
        out = self.context.damping(a)
        out["foreign"] = 0.0 if a.lang in ("en", "und") else 1.0
        out["short"] = 1.0 if len(a.alpha) <= 3 else 0.0
        return out

    def judge_parts(self, doc: Doc, c: Comment) -> tuple[Analysis, list[Hit], dict[str, float], dict[str, float]]:
        """Steps 1-3 with the thread: (analysis, hits, rule scores, combiner signals)."""
        a, hits = self.analyse(doc, c.text, c.platform, c.rating)
        signals = self.context_signals(a)
        if c.thread:
            echoes, thread_signals = self.thread.read(a, c.thread)
            hits.extend(echoes)
            signals.update(thread_signals)
        if c.is_setting or self.thread.is_setting(c.author):
            signals["is_setting"] = 1.0
        return a, hits, self.rule_scores(hits), signals

    def _rules_alone(self, text: str) -> dict[str, float]:
        """An earlier message of a thread, judged by the rules alone: score / rules-only threshold."""
        doc = self.nlp.get_pipe(NORMALISER).apply(self.nlp.make_doc(text), text)
        _a, _hits, rules, _signals = self.judge_parts(doc, Comment(text))
        return {c: v / RULES_ONLY_THRESHOLD for c, v in rules.items()}

    def scores_batch(self, items: Sequence[Comment | tuple]) -> list[tuple[dict[str, float], dict[str, float]]]:
        """(combined score of every label, raised or not; combiner signals) per item, for evaluate."""
        comments = [as_comment(it) for it in items]
        with gc_paused():
            docs = self.docs([c.text for c in comments])
            return [self._score(doc, c)[4:] for doc, c in zip(docs, comments)]

    def raises(self, label: str, score: float, signals: dict[str, float], with_model: bool = True,
               thresholds: dict[str, float] | None = None) -> bool:
        """6. threshold (the combiner's, or the semantic stage's `thresholds`); the setting's own
        replies are never criticism of itself."""
        if label == "criticism" and signals.get("is_setting"):
            return False
        return score >= (thresholds[label] if thresholds else self.combiner.threshold(label, with_model))

    def _score(self, doc: Doc, c: Comment):
        a, hits, rules, signals = self.judge_parts(doc, c)
        # 4. model (not for text without a single word: its output would be the label prior)
        model = {lab: float(doc.cats.get(lab, 0.0)) for lab in CATEGORIES} if self.has_model and a.alpha else None
        scores = {lab: self.combiner.score(lab, rules, model, c.rating, signals) for lab in CATEGORIES}  # 5. combine
        if own_concern(signals, rules, model):
            # the setting's own account cannot silence what the rules and the text model both read as a concern
            scores[SAFEGUARDING] = max(scores[SAFEGUARDING], self.combiner.score(
                SAFEGUARDING, rules, model, c.rating, {**signals, "is_setting": 0.0}))
        return a, hits, rules, model, scores, signals

    def _judge(self, doc: Doc, c: Comment, parts: tuple | None = None,
               second: dict[str, float] | None = None) -> Classification:
        """`second`: the semantic stage's scores of the labels it re-read (6b)."""
        a, hits, rules, model, scores, signals = parts or self._score(doc, c)
        labels, findings = [], []
        for cat in CATEGORIES:
            raised = self.raises(cat, scores[cat], signals, model is not None)
            if second and cat in second:
                now = self.raises(cat, second[cat], signals, thresholds=self.semantic_thresholds)
                if now or raised:
                    f = self._finding(a, cat, second[cat] if now else scores[cat], rules[cat], model[cat], hits)
                    findings.append(f if now == raised else second_look(f, now, second[cat], self.semantic_thresholds))
                if now:
                    labels.append(cat)
                continue
            if not raised:
                continue
            labels.append(cat)
            findings.append(self._finding(a, cat, scores[cat], rules[cat], model[cat] if model else None, hits))
        needs_review, note = False, None
        if not labels:  # 7. review
            if a.lang not in ("en", "und"):
                needs_review = True
                note = f"written in {self.language.names.get(a.lang, a.lang)}; no concern found by keywords or model, a human should read it"
            elif self.language.too_short(a) and not c.thread:  # a short reply was read with its thread
                needs_review = True
                note = "too short to judge"
        elif a.lang not in ("en", "und"):
            needs_review = True
            note = f"written in {self.language.names.get(a.lang, a.lang)}; judged by keywords and model only"
        result = Classification(tuple(labels), tuple(findings), needs_review, note)
        scores = {**scores, **(second or {})}
        return self.corrections.apply(doc, result, scores) if self.corrections else result  # 8. correct

    # -- 6b. the semantic stage (semantic_stage.py) -----------------------------
    def _semantic_stage(self, model_dir: Path | None, options: ClassifierConfig, on: bool | None):
        if not (on if on is not None else options.semantic):
            return None
        from .semantic import SemanticUnavailable
        from .semantic_stage import SemanticStage

        if not self.has_model or model_dir is None:
            raise SemanticUnavailable("the semantic stage re-reads the trained model's scores, and no trained "
                                      "model was found; run `nurserywatch train`")
        stage = SemanticStage.load(Path(model_dir))
        self.semantic_thresholds = stage.for_sensitivity(options.sensitivity, options.thresholds)
        return stage

    def _judge_semantic(self, docs: list[Doc], comments: list[Comment]) -> list[Classification]:
        """The first stage for every comment; then one batch through the encoder for the comments
        with a label at or above its floor, whose labels the stage re-scores."""
        parts = [self._score(doc, c) for doc, c in zip(docs, comments)]
        first = {cat: self.combiner.threshold(cat) for cat in CATEGORIES}
        todo = {i: labs for i, p in enumerate(parts) if p[3] is not None
                and (labs := self.semantic.labels_to_read(p[4], first))}
        heads = dict(zip(todo, head_probs(self.semantic.head, self.semantic.vectors([comments[i].text for i in todo]))))
        out = []
        for i, (doc, c) in enumerate(zip(docs, comments)):
            _a, _hits, rules, model, _scores, signals = parts[i]
            own = own_concern(signals, rules, model)  # read as if not the setting's, as _score does
            second = {cat: self.semantic.score(cat, rules, model, c.rating,
                                               {**signals, "is_setting": 0.0} if own and cat == SAFEGUARDING else signals,
                                               heads[i][CATEGORIES.index(cat)])
                      for cat in todo.get(i, ())}
            out.append(self._judge(doc, c, parts[i], second))
        return out

    def _finding(self, a: Analysis, cat: str, score: float, rule_score: float, model_p: float | None,
                 hits: list[Hit]) -> Finding:
        mine = sorted((h for h in hits if h.label == cat and h.value >= MIN_EVIDENCE), key=lambda h: -h.value)
        evidence: list[Evidence] = []
        seen: set[tuple[int, int]] = set()  # merge: a span inside a shown one is dropped
        for h in mine:
            for ev in _hit_evidence(a, h):
                if ev.end > ev.start and any(s <= ev.start and ev.end <= e for s, e in seen):
                    continue  # merged into a longer span already shown
                if not _has_content(a, ev.start, ev.end):
                    continue  # never highlight function words alone
                seen.add((ev.start, ev.end))
                evidence.append(ev)
        detectors = sorted({h.detector for h in mine})
        if model_p is not None and (not mine or model_p >= 0.5):
            detectors.append("model")
            if not mine:
                evidence.extend(self._model_evidence(a, cat, model_p))
        severity = _severity(cat, score, mine, a)
        return Finding(cat, severity, min(1.0, score), tuple(evidence), "+".join(detectors) or "model")

    def _word_weights(self, keys: list[int]) -> list[tuple[float, ...]]:
        """Each word's own weights (per label, bias removed) in the linear textcat, looked up once per
        word and kept: the model's weights do not change while it is loaded. Kept as tuples of Python
        floats (each the float32 weight exactly): indexing a tuple costs a tenth of a numpy row's."""
        cache = self._weights_cache
        missing = list(dict.fromkeys(k for k in keys if k not in cache))
        if missing:
            if len(cache) > WEIGHT_CACHE_SIZE:
                cache.clear()
            linear = self.nlp.get_pipe("textcat_multilabel").model.get_ref("output_layer")
            n = len(missing)
            rows = linear.predict((numpy.array(missing, dtype="uint64"), numpy.ones(n, dtype="float32"),
                                   numpy.ones(n, dtype="int32"))) - linear.get_param("b")
            cache.update(zip(missing, map(tuple, rows.tolist())))
        return [cache[k] for k in keys]

    def _model_evidence(self, a: Analysis, cat: str, base: float) -> list[Evidence]:
        """The words the model leaned on: each word's weight for this label in the linear model.

        The textcat is a linear model over hashed word (NORM) features, so a word's
        contribution is its own row of weights; one small batched lookup, no re-scoring.
        Function words ("was", "they") are never shown, whatever their weight. The three
        heaviest words above MODEL_WORD_MIN, heaviest first.
        """
        reason = MODEL_REASONS[cat]
        cands = a.content_words()
        out = []
        if cands:
            j = self._label_index[cat]
            weights = [row[j] for row in self._word_weights([t.norm for t in cands])]
            if len(set(weights)) == len(weights):  # no two alike: any sort gives the same order
                order = sorted(range(len(weights)), key=weights.__getitem__, reverse=True)[:3]
            else:  # equal weights (a word said twice) in numpy's order, as the evidence always had them
                order = numpy.argsort(-numpy.array(weights, dtype="float32"))[:3].tolist()
            for k in order:
                if weights[k] <= MODEL_WORD_MIN:
                    break
                t = cands[k]
                out.append(Evidence(t.idx, t.idx + len(t.text), t.text, reason, "model", MODEL_NAME,
                                    scores={"model": round(base, 4), "word_log_odds": round(weights[k], 4)}))
        # no word stood out: the reason alone, with no span to highlight
        return out or [Evidence(0, 0, "", reason, "model", MODEL_NAME, scores={"model": round(base, 4)})]


MODEL_NAME = "textcat_multilabel"
# A word is shown as the model's evidence when its weight for the label is above 0.2, compared in the
# weights' own float32 (as numpy 2 compares a float32 with a Python float).
MODEL_WORD_MIN = float(numpy.float32(0.2))
# What a manager reads when only the trained model saw a concern.
MODEL_REASONS = {
    "safeguarding": "wording often seen in safeguarding concerns",
    "confidentiality": "wording often seen when personal details are shared",
    "criticism": "wording often seen in complaints",
}


def own_concern(signals: dict[str, float], rules: dict[str, float], model: dict[str, float] | None) -> bool:
    """A reply by the setting's own account that the rules and the text model both read as a safeguarding concern."""
    return bool(signals.get("is_setting") and model and rules[SAFEGUARDING] >= 0.5 and model[SAFEGUARDING] >= OWN_CONCERN)


def _hit_evidence(a: Analysis, h: Hit) -> list[Evidence]:
    """A hit as evidence: its own span, then the spans it links to (a name)."""
    scores = {"before": round(h.score, 4), "after": round(h.value, 4)}
    if h.cues:
        scores["context"] = list(h.cues)
    out = [Evidence(h.start_char, h.end_char, a.text[h.start_char:h.end_char], h.note or "flagged words",
                    h.detector, h.rule, h.about, scores)]
    for sp in h.also:
        out.append(Evidence(sp.start, sp.end, a.text[sp.start:sp.end], sp.reason, h.detector, h.rule, sp.about,
                            {"name_found_by": sp.source} if sp.source else {}))
    return out


def _has_content(a: Analysis, start: int, end: int) -> bool:
    """False when every word in the span is a function word: such a span is never highlighted."""
    if end <= start:
        return True  # no span to highlight (a star rating)
    # the tokens a.doc.char_span(start, end, alignment_mode="expand") would hold, without making the Span
    if not a.tokens or start < 0 or end > len(a.text):
        return True  # no such span
    starts = a.token_starts()
    first, last = bisect_right(starts, start) - 1, bisect_right(starts, end - 1) - 1
    tok = a.tokens[first]
    if start == tok.idx + len(tok):
        first += 1  # the span starts in the whitespace after a token
    return first > last or any(_is_content_word(t) for t in a.tokens[first:last + 1])


def _severity(cat: str, score: float, hits: list[Hit], a: Analysis) -> str:
    if cat == "safeguarding":
        strong = any(h.severity == "high" and h.value >= 0.5 for h in hits)
        return "high" if strong or score >= 0.7 else "medium"
    if cat == "confidentiality":
        if any(h.detector == "pii" and h.rule in ("street_address", "lives_at", "date_of_birth", "nhs_number", "uk_mobile")
               for h in hits) or sum(1 for h in hits if h.value >= 0.5) >= 2:
            return "high"
        return "medium"
    if (a.rating is not None and a.rating <= 2) or score >= 0.85:
        return "medium"
    return "low"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a batch is judged, as `timeit` does.

    A batch makes a few hundred thousand short-lived objects (tokens, hits, evidence), nearly all
    freed by their reference counts the moment they are done with; the collector's rounds over
    them, and over the ~120,000 objects of the loaded pipeline, cost about 8% of the time. The
    collector runs again as soon as the batch is done (if it was on), and catches up then.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def as_comment(item: Comment | tuple) -> Comment:
    """A Comment from a Comment or a (text, platform[, rating[, thread[, is_setting[, author]]]]) tuple;
    the thread bounded."""
    if isinstance(item, Comment):
        if item.text is not None and not item.thread:
            return item  # frozen, and nothing to bound: no copy
        return replace(item, text=item.text or "", thread=bound(item.thread))
    text, platform, rating, thread, is_setting, author = (tuple(item) + (None,) * 6)[:6]
    return Comment(text or "", platform, rating, bound(thread), bool(is_setting), author)


def build_classifier(setting: SettingConfig, roster: RosterConfig, model_dir: Path | None = MODEL_DIR,
                     options: ClassifierConfig | None = None, corrections: Corrections | Path | None = None,
                     semantic: bool | None = None) -> Classifier:
    """Build once per process: loads the shipped model from the package (no downloads).
    `options` is the config's [classifier] section (sensitivity, threshold overrides);
    `corrections` the setting's lessons (corrections.py), or the file they were saved to; `semantic`
    the semantic stage on or off (default: `options.semantic`)."""
    if not isinstance(corrections, Corrections):
        corrections = Corrections.load(corrections)
    return Classifier(setting, roster, model_dir=model_dir, options=options, corrections=corrections,
                      semantic=semantic)
