"""Activations: all 13 conv layers of a nested VGG16 from one call vs one plain forward pass."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from _timing import best_time, row

import kerasviz as kv


def nested_vgg16(size: int = 224):
    base = kv.load_vgg16(weights=None, include_top=False, input_shape=(size, size, 3))
    return base, keras.Sequential(
        [
            keras.Input((size, size, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def all_conv_activations(batch: int = 4, size: int = 224, repeat: int = 3):
    base, model = nested_vgg16(size)
    x = kv.preprocess(np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)))
    convs = kv.conv_layers(model)
    forward = tf.function(lambda t: model(t, training=False))
    plain = best_time(lambda: forward(x).numpy(), repeat)
    ours = best_time(lambda: kv.activations(model, x, convs, batch_size=batch), repeat)
    acts = kv.activations(model, x, convs, batch_size=batch)
    direct = keras.Model(base.inputs[0], [base.get_layer(p.split("/")[-1]).output for p in convs])(x)
    err = max(float(np.abs(acts[p] - np.asarray(d)).max()) for p, d in zip(convs, direct))
    separate = [tf.function(keras.Model(base.inputs[0], base.get_layer(p.split("/")[-1]).output)) for p in convs]
    naive = best_time(lambda: [f(x).numpy() for f in separate], 1)
    return [
        row("conv layers returned by one kv.activations call", len(acts)),
        row("max |ours - direct inner sub-model|", err),
        row(
            "plain compiled forward pass (whole model)", plain, "s", note=f"batch {batch} at {size} px, untrained VGG16"
        ),
        row("kv.activations, 13 convs incl. host copy", ours, "s"),
        row("ratio ours / plain forward", ours / plain, "x", target="<= 1.3"),
        row("ratio 13 separate sub-models (keras-io style) / plain", naive / plain, "x", note="for reference"),
    ]


BENCHMARKS = {"activations: 13 convs of a nested VGG16": all_conv_activations}
