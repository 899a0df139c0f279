"""Compute precision: bfloat16 variants share the user's weights, change nothing, and `auto` follows the hardware."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import assert_clear_error, global_state_unchanged

from kerasviz.core import precision as P
from kerasviz.testing import nested_model, small_cnn, unchanged

X = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 3)).astype("float32")


@pytest.mark.parametrize("value", ["float16", "fp32", None, 32])
def test_precision_values_are_checked(value):
    assert_clear_error(lambda: P.check_precision(value), "precision")
    assert_clear_error(lambda: P.resolve_precision(value), "precision")


def test_auto_follows_native_support(monkeypatch):
    assert P.resolve_precision("float32") == "float32" and P.resolve_precision("bfloat16") == "bfloat16"
    native, reason = P.bfloat16_support()
    assert P.resolve_precision("auto") == ("bfloat16" if native else "float32") and reason
    monkeypatch.setattr(P, "bfloat16_support", lambda: (True, "test"))
    assert P.resolve_precision("auto", small_cnn()) == "bfloat16"

    class Custom(keras.layers.Layer):  # user code may assume float32: auto keeps it there
        def call(self, x):
            return x * 2.0

    inputs = keras.Input((4,))
    assert P.resolve_precision("auto", keras.Model(inputs, Custom()(inputs))) == "float32"


@pytest.mark.parametrize(
    "flags, onednn, native",
    [
        ({"avx2", "avx512_bf16"}, True, True),
        ({"amx_bf16"}, True, True),
        ({"bf16", "asimd"}, True, True),
        ({"avx2", "avx512f"}, True, False),
        ({"avx512_bf16"}, False, False),
        (set(), True, False),
    ],
)
def test_cpu_detection(monkeypatch, flags, onednn, native):
    monkeypatch.setattr(P, "_cpu_flags", lambda: flags)
    monkeypatch.setattr(P, "onednn_enabled", lambda: onednn)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    result, reason = P.bfloat16_support.__wrapped__()
    assert result is native and isinstance(reason, str)


@pytest.mark.parametrize(
    "make",
    [small_cnn, lambda: nested_model(sequential=True), lambda: nested_model(sequential=False)],
    ids=["functional", "nested-sequential", "nested-functional"],
)
def test_bfloat16_variant_shares_weights_and_changes_nothing(make):
    model = make()
    with unchanged(model, X), global_state_unchanged():
        variant = P.compute_variant(model, "bfloat16")
        out = variant(X)
    assert out.dtype == tf.bfloat16 and variant is not model
    assert {id(v) for v in variant.weights} == {id(v) for v in model.weights}  # the user's variables, not copies
    assert [p for p, _ in _paths(variant)] == [p for p, _ in _paths(model)]  # same names and nesting
    assert all(l.compute_dtype == "float32" for _, l in _paths(model))
    reference = model.predict(X, verbose=0)
    np.testing.assert_allclose(P.to_float32(out).numpy(), reference, atol=2e-2)
    assert P.compute_variant(model, "bfloat16") is variant  # cached per model
    assert P.compute_variant(model, "float32") is model  # nothing to change


def test_variant_sees_current_weights():
    model = small_cnn(softmax=False)
    variant = P.compute_variant(model, "bfloat16")
    before = P.to_float32(variant(X)).numpy()
    kernel = model.get_layer("head").kernel
    kernel.assign(kernel * 3.0)
    after = P.to_float32(variant(X)).numpy()
    np.testing.assert_allclose(after, model.predict(X, verbose=0), rtol=3e-2, atol=3e-2)
    assert np.abs(after - before).max() > 0.01


def test_mixed_float16_model_runs_in_float32_variant():
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        mixed = small_cnn(softmax=False, name="mixed")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert mixed.get_layer("conv1").compute_dtype == "float16"
    exact = P.compute_variant(mixed, "float32")
    out = exact(X)
    assert out.dtype == tf.float32
    # The same weights in a float32 model give the same logits.
    plain = small_cnn(softmax=False, name="plain")
    plain.set_weights(mixed.get_weights())
    np.testing.assert_allclose(out.numpy(), plain.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert keras.config.dtype_policy().name == "float32"


def test_to_float32_casts_nested_structures():
    cast = P.to_float32({"a": tf.ones(2, tf.bfloat16), "b": [tf.ones(2, tf.float16), tf.ones(2, tf.int32)]})
    assert cast["a"].dtype == tf.float32 and cast["b"][0].dtype == tf.float32 and cast["b"][1].dtype == tf.int32


def test_variant_layer_maps_layer_objects_to_paths():
    model = nested_model(sequential=False)
    variant = P.compute_variant(model, "bfloat16")
    inner = model.get_layer("base").get_layer("conv2")
    assert P.variant_layer(model, variant, inner) == "base/conv2"
    assert P.variant_layer(model, variant, "conv2") == "conv2"


def test_subclassed_model_gets_a_clear_error():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.zeros((1, 4), "float32"))
    assert_clear_error(lambda: P.compute_variant(model, "bfloat16"), "subclassed")


def _paths(model):
    from kerasviz.core.layers import iter_layers

    return list(iter_layers(model))
