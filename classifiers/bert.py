"""BERT's encoder layers in numpy, for classifiers/semantic.py: the arithmetic, nothing else.

A layer is Hugging Face's BertLayer in eval mode: one matmul for the query, key and
value projections, masked multi-head self-attention, the output projection, residual
and LayerNorm, then the erf-GELU feed-forward, residual and LayerNorm. All float32.
Every intermediate is written into buffers that one encode call allocates once
(`Work`): a fresh multi-megabyte array per operation faults its pages in, which cost
more than the arithmetic (with masked ufuncs on top, GELU alone took longer than the
layer's three matmuls).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy

F32 = numpy.float32


@dataclass(frozen=True)
class Layer:
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


def norm(t: dict, name: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """A LayerNorm's (weight, bias)."""
    return numpy.asarray(t[name + ".weight"], F32), numpy.asarray(t[name + ".bias"], F32)


def dense(t: dict, name: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """A linear layer's weight as (in, out), contiguous for `x @ w`, and its bias."""
    return numpy.ascontiguousarray(t[name + ".weight"].T, dtype=F32), numpy.asarray(t[name + ".bias"], F32)


def build_layer(t: dict, p: str, heads: int) -> Layer:
    """The layer whose tensors are named `p` + "attention.self.query.weight" and so on (`t` by name)."""
    q, k, v = (dense(t, p + "attention.self." + part) for part in ("query", "key", "value"))
    scale = F32(1.0 / (q[0].shape[1] // heads) ** 0.5)
    q = (q[0] * scale, q[1] * scale)                 # attention scores come out already divided by sqrt(width)
    out, up, down = (dense(t, p + name) for name in ("attention.output.dense", "intermediate.dense", "output.dense"))
    return Layer(
        qkv=numpy.concatenate([q[0], k[0], v[0]], axis=1), qkv_bias=numpy.concatenate([q[1], k[1], v[1]]),
        out=out[0], out_bias=out[1], norm1=norm(t, p + "attention.output.LayerNorm"),
        up=up[0], up_bias=up[1], down=down[0], down_bias=down[1], norm2=norm(t, p + "output.LayerNorm"),
    )


def layer_norm(x: numpy.ndarray, params: tuple[numpy.ndarray, numpy.ndarray], eps: float) -> numpy.ndarray:
    """LayerNorm over the last axis of a (tokens, hidden) array, in place."""
    weight, bias = params
    x -= x.mean(axis=-1, keepdims=True)
    var = numpy.einsum("ij,ij->i", x, x) / F32(x.shape[-1])
    x *= (1.0 / numpy.sqrt(var + F32(eps)))[:, None]
    x *= weight
    x += bias
    return x


# Abramowitz & Stegun 7.1.26: erfc(z) = t * poly(t) * exp(-z^2), t = 1 / (1 + P z), within
# 1.5e-7 for z >= 0, so GELU as BERT computes it (x * Phi(x), with erf) to float32's precision.
_P, _A = 0.3275911, (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def gelu(x: numpy.ndarray, t: numpy.ndarray, out: numpy.ndarray) -> numpy.ndarray:
    """x * Phi(x) into `out`, with `t` as scratch (both shaped like x): no allocation, no masks."""
    numpy.abs(x, out=t)
    t *= F32(_P * 0.7071067811865476)               # P * |x| / sqrt 2
    t += F32(1.0)
    numpy.reciprocal(t, out=t)
    numpy.multiply(t, F32(_A[0]), out=out)
    for a in _A[1:]:
        out += F32(a)
        out *= t                                     # out = t * poly(t)
    numpy.square(x, out=t)
    numpy.minimum(t, F32(160.0), out=t)              # exp(-80) is still a normal float32: no denormals
    t *= F32(-0.5)
    numpy.exp(t, out=t)
    out *= t                                         # erfc(|x| / sqrt 2) = 1 - erf
    numpy.subtract(F32(1.0), out, out=out)           # erf(|x| / sqrt 2)
    numpy.copysign(out, x, out=out)                  # erf(x / sqrt 2)
    out += F32(1.0)
    out *= x
    out *= F32(0.5)
    return out


class Work:
    """One encode call's buffers, sized for its largest batch and reused by every batch and layer:
    allocating them afresh each time costs more than the arithmetic (fresh pages fault in)."""

    def __init__(self, tokens: int, cells: int, dim: int, inner: int, heads: int):
        widths = {"x": dim, "y": dim, "joined": dim, "heads": dim, "qkv": 3 * dim,
                  "hidden": inner, "scratch": inner, "act": inner}
        self._arrays = {name: numpy.empty((tokens, width), F32) for name, width in widths.items()}
        self._arrays["words"] = numpy.empty((tokens, dim), numpy.float16)
        self._scores = numpy.empty(cells * heads, F32)
        self._heads = heads

    def take(self, name: str, n: int, length: int) -> numpy.ndarray:
        return self._arrays[name][:n * length]

    def scores(self, n: int, length: int) -> numpy.ndarray:
        return self._scores[:n * self._heads * length * length].reshape(n, self._heads, length, length)


def forward(x, layer: Layer, masked, work: Work, n: int, length: int, heads: int, eps: float) -> None:
    """One layer over a batch of n texts padded to `length` tokens, `x` ((n * length, hidden))
    in place; `masked` ((n, 1, 1, length)) is added to the attention scores (a large negative
    number at padding); every intermediate lives in `work`."""
    width = x.shape[1] // heads
    qkv = numpy.matmul(x, layer.qkv, out=work.take("qkv", n, length))
    qkv += layer.qkv_bias                               # the query part is pre-scaled by 1/sqrt(width)
    q, k, v = qkv.reshape(n, length, 3, heads, width).transpose(2, 0, 3, 1, 4)
    scores = numpy.matmul(q, k.transpose(0, 1, 3, 2), out=work.scores(n, length))
    scores += masked
    scores -= scores.max(axis=-1, keepdims=True)
    numpy.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    context = numpy.matmul(scores, v, out=work.take("heads", n, length).reshape(n, heads, length, width))
    joined = work.take("joined", n, length)
    joined.reshape(n, length, heads, width)[...] = context.transpose(0, 2, 1, 3)
    y = numpy.matmul(joined, layer.out, out=work.take("y", n, length))
    y += layer.out_bias
    y += x
    layer_norm(y, layer.norm1, eps)
    hidden = numpy.matmul(y, layer.up, out=work.take("hidden", n, length))
    hidden += layer.up_bias
    act = gelu(hidden, work.take("scratch", n, length), work.take("act", n, length))
    numpy.matmul(act, layer.down, out=x)
    x += layer.down_bias
    x += y
    layer_norm(x, layer.norm2, eps)
