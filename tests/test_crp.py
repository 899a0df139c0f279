"""Concept relevance (`kv.crp`): conditional heatmaps compared as maps with plain LRP and a literal loop."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.testing import nested_model, small_cnn, unchanged

X = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 3)).astype("float32")
M = small_cnn()


def _close(a, b, tol=1e-5):
    """Maps equal up to `tol` of the larger map's peak."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(np.abs(a).max(), np.abs(b).max(), 1e-12))


def _bias_free(seed=1):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=False, name="conv1")(x)
    x = keras.layers.Conv2D(10, 3, padding="same", activation="relu", use_bias=False, name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(12, activation="relu", use_bias=False, name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(4, use_bias=False, name="head")(x), name="bias_free")


@pytest.mark.parametrize("rule", ["epsilon", "gamma", "zb", "alpha_beta", "small"])
def test_all_channels_add_up_to_the_lrp_heatmap(rule):
    full = kv.lrp(M, X, rule=rule, progress=False)
    with unchanged(M, X), global_state_unchanged():
        r = kv.crp(M, X, layer="conv2", rule=rule, filter_batch_size=7, progress=False)
    assert r.heatmaps.shape == (3, 16, 16, 16, 3) and r.filters.shape == (3, 16)
    _close(r.heatmaps.sum(axis=1), full)
    assert r.rule == (rule if rule != "small" else "small") and r.layer == "conv2"


def test_each_map_conserves_its_channel_relevance_and_matches_lrp_layers():
    model = _bias_free()
    full = kv.lrp(model, X, rule="zero", return_layers=True, progress=False)
    layer_relevance = full.layers["conv2"].sum(axis=(1, 2))  # (N, channels), from kv.lrp's own pass
    r = kv.crp(model, X, layer="conv2", rule="zero", progress=False)
    np.testing.assert_allclose(r.relevance, layer_relevance, rtol=1e-4, atol=1e-6 * np.abs(layer_relevance).max())
    sums = r.heatmaps.reshape(3, 10, -1).sum(-1)
    np.testing.assert_allclose(sums, r.filter_relevance, rtol=1e-4, atol=1e-5 * np.abs(sums).max())
    np.testing.assert_allclose(r.relevance.sum(-1), full.scores, rtol=1e-4)  # bias-free LRP-0 conserves exactly
    # ε → 0 keeps conservation
    eps = kv.crp(model, X, layer="fc", filters=[0, 3, 5], rule="epsilon", epsilon=1e-9, progress=False)
    np.testing.assert_allclose(eps.heatmaps.reshape(3, 3, -1).sum(-1), eps.filter_relevance, rtol=1e-4)


def test_batched_equals_a_literal_loop_over_channels():
    """One masked propagation per (image, channel): LRP of the truncated model from a channel's relevance alone."""
    model = _bias_free(2)
    rule, layer, channels = "gamma", "conv2", [7, 0, 4]
    r = kv.crp(model, X, layer=layer, filters=channels, rule=rule, filter_batch_size=4, progress=False)
    full = kv.lrp(model, X, rule=rule, return_layers=True, progress=False)
    lower = keras.Model(model.inputs, model.get_layer(layer).output)
    activation = kv.activations(model, X, [layer])[layer]
    per_unit = np.where(activation > 0, full.layers[layer] / np.where(activation > 0, activation, 1), 0.0)
    for i in range(len(X)):
        for j, channel in enumerate(channels):
            upper = np.zeros_like(per_unit[i : i + 1])
            upper[..., channel] = per_unit[i : i + 1, ..., channel]  # the channel's relevance per unit only
            start = tf.constant(upper, tf.float32)
            score = lambda out, start=start: tf.reduce_sum(out * start, axis=[1, 2, 3])
            literal = kv.lrp(lower, X[i : i + 1], score, rule=rule, progress=False)
            _close(r.heatmaps[i, j], literal[0], 1e-4)
    np.testing.assert_array_equal(r.filters, np.broadcast_to(channels, (3, 3)))


def test_top_picks_the_most_relevant_channels_per_image():
    r = kv.crp(M, X, layer="conv2", top=4, progress=False)
    expected = np.argsort(-r.relevance, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(r.filters, expected)
    every = kv.crp(M, X, layer="conv2", progress=False)
    _close(r.heatmaps, np.take_along_axis(every.heatmaps, expected[:, :, None, None, None], axis=1))
    np.testing.assert_allclose(r.relevance, every.relevance, rtol=1e-5, atol=1e-9)
    assert np.all(np.diff(r.filter_relevance, axis=1) <= 0)
    np.testing.assert_allclose(np.abs(r.share).sum(-1), 1.0, rtol=1e-5)
    # `top` ranks among the given filters only
    some = kv.crp(M, X, layer="conv2", filters=[1, 2, 3], top=2, progress=False)
    assert set(some.filters.ravel()) <= {1, 2, 3} and some.filters.shape == (3, 2)


def test_one_image_drops_the_batch_axis_and_negative_filters_count_from_the_end():
    one = kv.crp(M, X[1], 2, layer="conv1", filters=[-1, 0], progress=False)
    batch = kv.crp(M, X, [0, 2, 1], layer="conv1", filters=[7, 0], progress=False)
    assert one.heatmaps.shape == (2, 16, 16, 3) and one.relevance.shape == (8,) and one.filters.tolist() == [7, 0]
    _close(one.heatmaps, batch.heatmaps[1])
    assert int(one.targets) == 2 and np.shape(one.scores) == ()
    assert np.asarray(one).shape == one.heatmaps.shape


def test_dense_units_nested_models_and_callable_targets():
    model = _bias_free(3)
    r = kv.crp(model, X, 1, layer="fc", rule="epsilon", progress=False)  # (N, units) layer
    _close(r.heatmaps.sum(axis=1), kv.lrp(model, X, 1, rule="epsilon", progress=False))
    nested = nested_model(sequential=True)
    r = kv.crp(nested, X, layer="conv2", rule="epsilon", progress=False)  # inside the nested base
    _close(r.heatmaps.sum(axis=1), kv.lrp(nested, X, rule="epsilon", progress=False))
    score = lambda out: out[:, 0] - out[:, 1]
    r = kv.crp(M, X, score, layer="conv2", rule="epsilon", progress=False)
    _close(r.heatmaps.sum(axis=1), kv.lrp(M, X, score, rule="epsilon", progress=False))
    assert (r.targets == -1).all()


def test_output_of_a_multi_output_model():
    keras.utils.set_random_seed(4)
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(5, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, {"a": keras.layers.Dense(3, name="a")(x), "b": keras.layers.Dense(2, name="b")(x)})
    r = kv.crp(model, X, layer="conv", output="b", progress=False)
    _close(r.heatmaps.sum(axis=1), kv.lrp(model, X, output="b", progress=False))
    assert r.targets.max() < 2


def test_plot_crp():
    import matplotlib.pyplot as plt

    r = kv.crp(M, X[:2], layer="conv2", top=3, progress=False)
    fig = kv.plot_crp(r, X[:2])
    assert len(fig.axes) == 2 * 4
    plt.close(fig)
    fig = kv.plot_crp(kv.crp(M, X[0], layer="conv2", filters=[1], progress=False), X[0])
    assert len(fig.axes) == 2
    plt.close(fig)


def test_cached_steps_do_not_keep_the_model_alive():
    import gc
    import weakref

    model = small_cnn(seed=3)
    ref = weakref.ref(model)
    kv.crp(model, X[:1], layer="conv2", top=2, progress=False)
    kv.relevance_maximization(model, "conv2", X, k=2, progress=False)
    del model
    gc.collect()
    assert ref() is None


def _modern(policy=None):
    """Folded input Rescaling and BatchNorm, depthwise conv with swish, LayerNorm, a squeeze-excite gate."""
    L = keras.layers
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy or previous)
    try:
        keras.utils.set_random_seed(6)
        x = inputs = keras.Input((12, 12, 3))
        x = L.Rescaling(1 / 255.0, name="rescale")(x)
        x = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
        x = L.BatchNormalization(name="bn")(x)
        x = L.ReLU(name="relu")(x)
        x = L.DepthwiseConv2D(3, name="dw", activation="swish")(x)
        x = L.LayerNormalization(name="ln")(x)
        s = L.Conv2D(8, 1, activation="sigmoid", name="gate")(L.GlobalAveragePooling2D(keepdims=True, name="pool")(x))
        x = L.GlobalAveragePooling2D(name="gap")(L.Multiply(name="mul")([x, s]))
        return keras.Model(inputs, L.Dense(4, activation="softmax", name="head")(x), name=f"modern_{policy}")
    finally:
        keras.config.set_dtype_policy(previous)


def test_modern_layers_and_mixed_precision():
    from _checks import assert_clear_error

    plain, mixed = _modern(), _modern("mixed_float16")
    mixed.set_weights(plain.get_weights())
    images = np.random.default_rng(1).uniform(0, 255, (2, 12, 12, 3)).astype("float32")
    full = kv.lrp(plain, images, rule="mobilenet_v3", progress=False)
    for layer in ("relu", "dw", "ln"):
        r = kv.crp(plain, images, layer=layer, rule="mobilenet_v3", progress=False)
        _close(r.heatmaps.sum(axis=1), full, 1e-4)
    with global_state_unchanged(), unchanged(mixed, images):
        low = kv.crp(mixed, images, layer="dw", filters=[0, 5], rule="mobilenet_v3", progress=False)
    assert low.heatmaps.dtype == np.float32
    _close(
        low.heatmaps,
        kv.crp(plain, images, layer="dw", filters=[0, 5], rule="mobilenet_v3", progress=False).heatmaps,
        1e-3,
    )
    for layer in ("bn", "rescale", "gate"):  # folded into the conv, into the pixel layer; a gate gets no relevance
        assert_clear_error(lambda: kv.crp(plain, images, layer=layer, progress=False), "layer")
