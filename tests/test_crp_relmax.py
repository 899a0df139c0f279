"""Relevance maximization: the streaming top-k equals a literal loop over the data with plain `kv.lrp`."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.testing import small_cnn, unchanged

rng = np.random.default_rng(0)
X = rng.uniform(0, 1, (23, 16, 16, 3)).astype("float32")
Y = rng.integers(0, 4, 23)
M = small_cnn()


def _literal(model, layer, target, rule, reduce, normalize, k):
    """Per image: kv.lrp's relevance at the layer, reduced per channel; then a stable sort over the images."""
    values, where = [], []
    for i in range(len(X)):
        t = target[i] if isinstance(target, np.ndarray) else target
        r = kv.lrp(model, X[i : i + 1], t, rule=rule, return_layers=True, progress=False).layers[layer][0]
        flat = r.reshape(-1, r.shape[-1])
        v = flat.sum(0) if reduce == "sum" else flat.max(0)
        values.append(v / (np.abs(v).sum() + 1e-10) if normalize else v)
        where.append(flat.argmax(0))
    values, where = np.array(values).T, np.array(where).T  # (channels, N)
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(values, order, 1), np.take_along_axis(where, order, 1)


@pytest.mark.parametrize(
    "layer, reduce, normalize, rule",
    [
        ("conv2", "sum", True, "epsilon"),
        ("conv1", "max", False, "gamma"),
    ],
)
def test_top_k_equals_a_literal_loop(layer, reduce, normalize, rule):
    with unchanged(M, X[:2]), global_state_unchanged():
        top = kv.relevance_maximization(
            M, layer, X, k=5, target=Y, rule=rule, reduce=reduce, normalize=normalize, batch_size=6, progress=False
        )
    order, values, where = _literal(M, layer, Y, rule, reduce, normalize, 5)
    np.testing.assert_array_equal(top.indices, order)
    np.testing.assert_allclose(top.values, values, rtol=1e-4, atol=1e-6 * np.abs(values).max())
    width = M.get_layer(layer).output.shape[2]
    np.testing.assert_array_equal(top.locations[..., 0] * width + top.locations[..., 1], where)
    np.testing.assert_array_equal(top.targets, Y[order])
    assert top.count == len(X) and top.k == 5 and top.reduce == reduce and top.normalize == normalize
    rf = kv.receptive_field(M, layer, input_size=(16, 16))
    np.testing.assert_array_equal(top.boxes, rf.boxes(top.locations))
    assert top.patches.shape[:2] == (M.get_layer(layer).output.shape[-1], 5)


def test_labels_target_streams_and_predicted_class():
    by_labels = kv.relevance_maximization(M, "conv2", (X, Y), k=4, target="labels", batch_size=8, progress=False)
    by_array = kv.relevance_maximization(M, "conv2", X, k=4, target=Y, batch_size=8, progress=False)
    np.testing.assert_array_equal(by_labels.indices, by_array.indices)
    np.testing.assert_array_equal(by_labels.labels, Y[by_labels.indices])

    def stream():
        for s in range(0, len(X), 5):
            yield X[s : s + 5], Y[s : s + 5]

    streamed = kv.relevance_maximization(M, "conv2", stream(), k=4, target="labels", progress=False)
    np.testing.assert_array_equal(streamed.indices, by_labels.indices)
    np.testing.assert_allclose(streamed.values, by_labels.values, rtol=1e-5)
    np.testing.assert_array_equal(streamed.patches, by_labels.patches)  # kept host copies of the top images
    predicted = kv.relevance_maximization(M, "conv2", X, k=4, progress=False)
    order, _, _ = _literal(M, "conv2", None, "epsilon", "sum", True, 4)
    np.testing.assert_array_equal(predicted.indices, order)


def test_dense_units_callable_target_and_plot():
    import matplotlib.pyplot as plt

    keras.utils.set_random_seed(5)
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", name="fc")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    score = lambda out: out[:, 2] - out[:, 0]
    top = kv.relevance_maximization(model, "fc", X, k=3, target=score, progress=False)
    order, values, _ = _literal(model, "fc", score, "epsilon", "sum", True, 3)
    np.testing.assert_array_equal(top.indices, order)
    assert top.field_method == "whole image" and top.patches.shape == (6, 3, 16, 16, 3) and (top.targets == -1).all()
    with pytest.warns(UserWarning, match="keeping the top 23"):
        many = kv.relevance_maximization(M, "conv2", X, k=40, progress=False)
    assert many.k == 23
    fig = kv.plot_relevance_maximization(
        many, filters=[0, 2], activating=kv.top_activating(M, "conv2", X, k=4, progress=False)
    )
    assert len(fig.axes) == 2
    plt.close(fig)
    fig = kv.plot_top_activating(top)  # a TopRelevant is a TopActivating
    plt.close(fig)


def test_ranking_step_stops_at_the_layer():
    """The compiled scan differentiates only down to the layer: no op below it in the backward graph."""
    from kerasviz.lrp import layer_lrp

    step = layer_lrp(M, "conv2")
    specs = tf.TensorSpec((None, 16, 16, 3), tf.float32), tf.TensorSpec((None,), tf.int32)
    ops = lambda fn: [op.type for op in tf.function(fn).get_concrete_function(*specs).graph.get_operations()]
    to_layer = ops(step.layer_relevance)
    to_pixels = ops(lambda x, t: step.conditional_relevance(x, t, tf.ones((tf.shape(x)[0], 16))))
    assert "Conv2DBackpropInput" not in to_layer and "MaxPoolGrad" not in to_layer and "MatMul" in to_layer
    assert "Conv2DBackpropInput" in to_pixels and "MaxPoolGrad" in to_pixels
