"""Feature visualization: 16 VGG16 block3_conv1 filters x 30 steps at 96 px.

Ratios measured in one run:
- kerasviz vs a bare compiled gradient-ascent loop on the same truncated model
  (pixels, no transforms: the floor of one forward+backward per step);
- kerasviz vs tf-keras-vis's ActivationMaximization with its defaults (eager
  loop, scipy rotate on the host), if tf-keras-vis is installed.
VGG16 is untrained (weights=None): timing does not depend on the weights.
"""
from __future__ import annotations

import os

import numpy as np

from _timing import best_time, row

LAYER, FILTERS, STEPS, SIZE = "block3_conv1", 16, 30, 96


def _vgg():
    import kerasviz as kv

    return kv.load_vgg16(weights=None, include_top=False)


def _bare_loop(model):
    import keras
    import tensorflow as tf

    truncated = keras.Model(model.input, model.get_layer(LAYER).output)
    ids = tf.range(FILTERS)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(tf.reduce_mean(tf.gather(truncated(x), ids, axis=-1, batch_dims=1), axis=(1, 2)))
        grad = tape.gradient(score, x)
        return x + 10.0 * tf.math.l2_normalize(grad, axis=(1, 2, 3))

    def run():
        x = tf.random.uniform((FILTERS, SIZE, SIZE, 3), -0.125, 0.125, seed=0)
        for _ in range(STEPS):
            x = step(x)
        return x.numpy()

    return run


def _tf_keras_vis(model):
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
        from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer
        from tf_keras_vis.utils.scores import CategoricalScore
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    import tensorflow as tf

    am = ActivationMaximization(model, model_modifier=ExtractIntermediateLayer(LAYER), clone=True)
    score = CategoricalScore(list(range(FILTERS)))
    seed_input = tf.random.uniform((FILTERS, SIZE, SIZE, 3), 0, 255, seed=0)

    def run():
        return am(score, seed_input=seed_input, steps=STEPS)

    return run


def featurevis():
    os.environ.pop("KERASVIZ_QUICK", None)  # the benchmark needs the real step count
    import kerasviz as kv

    model = _vgg()

    def ours():
        return kv.visualize_filters(model, LAYER, filters=range(FILTERS), steps=STEPS, size=SIZE, progress=False)

    t_ours = best_time(ours, repeat=2)
    t_bare = best_time(_bare_loop(model), repeat=2)
    rows = [
        row("kerasviz visualize_filters (fourier+transforms)", t_ours, "s", note=f"{FILTERS} filters x {STEPS} steps, {SIZE}px"),
        row("bare compiled gradient-ascent loop", t_bare, "s"),
        row("ratio kerasviz / bare loop", t_ours / t_bare, "x", target="<= 1.2"),
    ]
    anchor = _tf_keras_vis(model)
    if anchor is None:
        rows.append(row("tf-keras-vis ActivationMaximization", float("nan"), "", note="anchor not installed"))
    else:
        t_anchor = best_time(anchor, repeat=1)
        rows += [
            row("tf-keras-vis ActivationMaximization (defaults)", t_anchor, "s"),
            row("speed-up vs tf-keras-vis", t_anchor / t_ours, "x", target=">= 2"),
        ]
    return rows


BENCHMARKS = {"featurevis": featurevis}
