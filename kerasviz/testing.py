"""Helpers for tests (ours and users'): tiny models and the non-mutation check."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf


def small_cnn(input_shape=(16, 16, 3), classes=4, seed=0, softmax=True, name="small_cnn") -> keras.Model:
    """A tiny functional CNN: 2 conv(relu) + pool, GAP, dense (softmax head by default)."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def nested_model(input_shape=(16, 16, 3), classes=4, seed=0, sequential=True) -> keras.Model:
    """`small_cnn`'s conv base ("base") inside an outer transfer-learning model."""
    inner = small_cnn(input_shape, classes, seed)
    base = keras.Model(inner.inputs, inner.get_layer("conv2").output, name="base")
    head = [
        keras.layers.GlobalAveragePooling2D(name="outer_gap"),
        keras.layers.Dense(classes, activation="softmax", name="outer_head"),
    ]
    if sequential:
        return keras.Sequential([keras.Input(input_shape), base] + head, name="transfer_seq")
    x = inputs = keras.Input(input_shape)
    x = base(x, training=False)
    for layer in head:
        x = layer(x)
    return keras.Model(inputs, x, name="transfer_fn")


def predictions(model: keras.Model, probe) -> list:
    """The model's outputs on `probe`, flattened to a list of NumPy arrays.

    Run compiled, as `model.predict` does: some models only run that way (a
    channels-first convolution has no eager CPU kernel).
    """
    from kerasviz.core.gradients import compile_function
    from kerasviz.core.layout import compile_options

    run = compile_function(lambda x: model(x, training=False), **compile_options(model))
    outputs = run(keras.tree.map_structure(tf.convert_to_tensor, probe))  # a list / dict for a multi-input model
    return [np.asarray(o) for o in keras.tree.flatten(outputs)]


def model_state(model: keras.Model, probe: np.ndarray):
    """A snapshot of what a call must not change: weights, layer configs, predictions."""
    from kerasviz.core.errors import UnsupportedModelError
    from kerasviz.core.graph import check_model
    from kerasviz.core.inputs import as_model_batch, as_numeric_array

    check_model(model)
    try:
        as_model_batch(probe, model, name="probe")  # a probe the model cannot take: a clear error, not TensorFlow's
    except UnsupportedModelError:  # inputs without positions (vectors): numbers are all that can be checked
        if not isinstance(probe, (list, tuple, dict)):
            as_numeric_array(probe, "probe")
    return (
        [w.copy() for w in model.get_weights()],
        [
            (l.name, repr(l.get_config()), repr(getattr(l, "activation", None)), l.trainable, l.dtype_policy.name)
            for l in model.layers
        ],
        predictions(model, probe),
    )


def assert_model_unchanged(before, after) -> None:
    """Compare two `model_state` snapshots; raises AssertionError on any difference."""
    (w0, c0, p0), (w1, c1, p1) = before, after
    assert len(w0) == len(w1), "number of weights changed"
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b, err_msg="a weight changed")
    assert c0 == c1, "a layer's config, activation, trainable flag or dtype policy changed"
    assert len(p0) == len(p1), "number of outputs changed"
    for a, b in zip(p0, p1):
        np.testing.assert_array_equal(a, b, err_msg="predictions changed")


@contextlib.contextmanager
def unchanged(model: keras.Model, probe: np.ndarray):
    """`with unchanged(model, x): kv.some_call(model, ...)` asserts no mutation."""
    before = model_state(model, probe)
    yield
    assert_model_unchanged(before, model_state(model, probe))


def spearman(a, b) -> float:
    """Spearman rank correlation of two arrays of any shape (flattened; tied values share their mean rank)."""
    from scipy.stats import rankdata

    ra, rb = rankdata(np.ravel(a)), rankdata(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / scale) if scale > 0 else float(np.array_equal(np.ravel(a), np.ravel(b)))


def top_k_agreement(reference, indices, *, tie: float = 2.0**-6) -> tuple[float, float]:
    """How often a top-k scan picks the same images as a float32 reference: `(identical, identical up to near-ties)`.

    Args:
        reference: `(N, filters)` float32 score of every image for every
            filter (e.g. each image's maximum activation).
        indices: `(filters, k)` image indices a scan kept per filter.
        tie: two images are near-tied for a filter when their reference
            scores differ by at most `tie` times the filter's largest |score|.
            The default, 2^-6, is two bfloat16 steps at that scale: a
            bfloat16 layer rounds its inputs and weights (errors relative to
            the terms it sums, which can exceed the result) and its output.

    Returns:
        The fraction of filters whose kept set equals the reference top-k
        (ties in the reference broken by lower index, as the scan does), and
        the fraction where every image in which the two sets differ is
        near-tied with the reference's k-th score.
    """
    reference, indices = np.asarray(reference, np.float64), np.asarray(indices)
    k = indices.shape[1]
    exact = close = 0
    for f in range(indices.shape[0]):
        column = reference[:, f]
        best = np.argsort(-column, kind="stable")[:k]
        differ = np.array(sorted(set(best.tolist()) ^ set(indices[f].tolist())), dtype=np.int64)
        exact += differ.size == 0
        scale = tie * max(float(np.abs(column).max()), np.finfo(np.float32).tiny)
        close += bool(np.all(np.abs(column[differ] - column[best[-1]]) <= scale)) if differ.size else 1
    return exact / len(indices), close / len(indices)
