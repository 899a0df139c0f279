"""Score-CAM, Ablation-CAM, RISE and occlusion in bfloat16: the float32 ranking, float32 scores, nothing changed."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv
from kerasviz.core import precision as P
from kerasviz.core.graph import tap_model
from kerasviz.core.layers import is_model, iter_layers
from kerasviz.testing import nested_model, small_cnn, spearman, unchanged

X = np.random.default_rng(3).uniform(0, 1, (3, 16, 16, 3)).astype("float32")


@pytest.fixture(scope="module")
def net():
    return small_cnn(name="precision_cams")


METHODS = {
    "score_cam": lambda m, x, **kw: kv.score_cam(m, x, layer="conv2", progress=False, **kw),
    "ablation_cam": lambda m, x, **kw: kv.ablation_cam(m, x, layer="conv2", progress=False, **kw),
    "rise": lambda m, x, **kw: kv.rise(m, x, samples=256, grid_size=4, mask_batch_size=64, progress=False, **kw),
    "occlusion": lambda m, x, **kw: kv.occlusion(m, x, patch=4, stride=2, mask_batch_size=16, progress=False, **kw),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_bfloat16_maps_rank_like_float32(net, name):
    method = METHODS[name]
    with unchanged(net, X[:2]), global_state_unchanged():
        fast = method(net, X, precision="bfloat16")
    exact = method(net, X, precision="float32")
    assert fast.dtype == np.float32 and fast.shape == exact.shape == (3, 16, 16)
    for f, e in zip(fast, exact):
        assert spearman(f, e) >= 0.98
    assert not np.array_equal(fast, exact)  # the bfloat16 passes did run
    single = method(net, X[0], precision="bfloat16")
    np.testing.assert_allclose(single, fast[0], atol=1e-6)  # one image in, one map out; chunking changes nothing


def test_auto_follows_the_hardware(net, monkeypatch):
    expected = METHODS["score_cam"](net, X[:1], precision="float32")
    if not P.bfloat16_support()[0]:
        np.testing.assert_array_equal(METHODS["score_cam"](net, X[:1]), expected)
    monkeypatch.setattr(P, "bfloat16_support", lambda: (True, "test"))
    score_cam = METHODS["score_cam"]
    np.testing.assert_array_equal(score_cam(net, X[:1]), score_cam(net, X[:1], precision="bfloat16"))
    ablation = METHODS["ablation_cam"]  # its weights are differences of nearly equal scores: auto stays float32
    np.testing.assert_array_equal(ablation(net, X[:1]), ablation(net, X[:1], precision="float32"))


def _dtypes(variant):
    return {
        layer.name: layer.compute_dtype
        for _, layer in iter_layers(variant)
        if not is_model(layer) and not isinstance(layer, keras.layers.InputLayer)
    }


def test_rebuilt_graphs_of_a_variant_compute_in_bfloat16():
    """Rebuilt graphs explain a user's mixed-precision layers in float32, but a compute variant's run as they are."""
    model = small_cnn(name="variant_taps")
    variant = P.compute_variant(model, "bfloat16", float32_head=True)
    tap, _ = tap_model(variant, ["conv1", "conv2"], pre_activation=True)
    out = tap(X)
    assert out["conv1"].dtype == out["conv2"].dtype == tf.bfloat16 and out["__output__"].dtype == tf.float32
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        mixed = small_cnn(name="user_mixed")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    tap, _ = tap_model(mixed, ["conv2"])
    assert tap(X)["conv2"].dtype == tf.float32


def test_the_head_of_a_perturbation_variant_stays_float32():
    model = small_cnn(name="head_float32")
    with unchanged(model, X[:2]), global_state_unchanged():
        variant = P.compute_variant(model, "bfloat16", float32_head=True)
        out = variant(X)
    assert _dtypes(variant) == {
        "conv1": "bfloat16",
        "pool1": "bfloat16",
        "conv2": "bfloat16",
        "gap": "bfloat16",
        "head": "float32",
    }
    assert out.dtype == tf.float32 and variant is not P.compute_variant(model, "bfloat16")
    assert {id(v) for v in variant.weights} == {id(v) for v in model.weights}
    np.testing.assert_allclose(out.numpy(), model.predict(X, verbose=0), atol=2e-2)
    assert P.compute_variant(model, "float32", float32_head=True) is model
    # a weightless softmax after a linear Dense, global pooling after a 1x1 conv: covered back to the weights
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c")(inputs)
    logits = keras.layers.Conv2D(3, 1, name="score")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(logits)
    probs = keras.layers.Activation("softmax", name="probs")(pooled)
    fcn = keras.Model(inputs, [probs, keras.layers.Dense(2, name="aux")(keras.layers.Flatten(name="flat")(x))])
    dtypes = _dtypes(P.compute_variant(fcn, "bfloat16", float32_head=True))
    assert dtypes == {
        "c": "bfloat16",
        "score": "float32",
        "pool": "float32",
        "probs": "float32",
        "flat": "bfloat16",
        "aux": "float32",
    }
    nested = nested_model(sequential=False)
    dtypes = _dtypes(P.compute_variant(nested, "bfloat16", float32_head=True))
    assert dtypes["outer_head"] == "float32" and dtypes["conv2"] == "bfloat16"


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("value", ["float16", "half", None, 32])
def test_bad_precision_is_refused_before_any_work(net, name, value):
    assert_clear_error(lambda: METHODS[name](net, X[:1], precision=value), "precision")


def test_occlusion_of_a_subclassed_model_stays_float32_under_auto(monkeypatch):
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed_occlusion")
            self.conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
            self.gap = keras.layers.GlobalAveragePooling2D()
            self.head = keras.layers.Dense(3)

        def call(self, x):
            return self.head(self.gap(self.conv(x)))

    net = Net()
    net(X)
    monkeypatch.setattr(P, "bfloat16_support", lambda: (True, "test"))
    auto = METHODS["occlusion"](net, X[:1])
    np.testing.assert_array_equal(auto, METHODS["occlusion"](net, X[:1], precision="float32"))
    assert_clear_error(lambda: METHODS["occlusion"](net, X[:1], precision="bfloat16"), match="precision='float32'")
