"""LRP cost vs the bare forward+backward floor, on untrained VGG16 and MobileNetV2 (weights=None) at 128 px.

Target: one LRP pass <= 3x one forward+backward pass. Both are timed in this
run on the same batch, compiled and warmed up; the floor is the plain input
gradient of the same score (`core.gradients.score_gradients`). iNNvestigate,
the Keras LRP library, needs TF < 2.15 with eager execution off, so it cannot
be timed beside kerasviz here: the floor ratio is the figure reported.
"""
from __future__ import annotations

import numpy as np
from _timing import best_time, row

BATCH = 4
SIZE = 128
PHOTOS = ("cat", "coffee", "astronaut", "rocket")


def _photos():
    import kerasviz as kv

    return np.stack([kv.sample_image(name, size=SIZE) for name in PHOTOS][:BATCH]).astype("float32")


def _ratios(model, x, target, rules, note):
    import kerasviz as kv
    from kerasviz.core.gradients import score_gradients

    floor = best_time(lambda: score_gradients(model, x, target, batch_size=BATCH), repeat=3)
    rows = [row("forward+backward (input gradient)", floor * 1e3 / BATCH, "ms", note=f"per image, batch {BATCH}, {SIZE} px, {note}")]
    for rule in rules:
        t = best_time(lambda: kv.lrp(model, x, target, rule=rule, batch_size=BATCH, progress=False), repeat=3)
        rows.append(row(f"lrp rule={rule!r} / forward+backward", t / floor, "x", target="<= 3", note=f"{t * 1e3 / BATCH:.0f} ms per image"))
    return rows


def bench_lrp_vgg16():
    import kerasviz as kv

    model = kv.load_vgg16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    x = kv.preprocess(_photos())
    # target 0: one flattened feature-map unit, as the model has no classifier at 128 px
    rows = _ratios(model, x, 0, ("epsilon", "vgg", "zplus"), "untrained VGG16")
    rows.append(row("anchor (iNNvestigate)", 0.0, "", note="not timed: needs TF < 2.15 in graph mode"))
    return rows


def bench_lrp_mobilenet_v2():
    import keras

    import kerasviz as kv

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(SIZE, SIZE, 3), classes=1000)
    x = kv.preprocess(_photos(), "tf")
    return _ratios(model, x, 0, ("epsilon", "mobilenet"), "untrained MobileNetV2")


BENCHMARKS = {"lrp_vgg16_128px": bench_lrp_vgg16, "lrp_mobilenet_v2_128px": bench_lrp_mobilenet_v2}
