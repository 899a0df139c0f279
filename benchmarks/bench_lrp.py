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


def _ratios(model, x, target, rules, note, rounds=7):
    """Best of `rounds` interleaved runs of the floor and each rule (load drifts alike for all)."""
    import kerasviz as kv
    from kerasviz.core.gradients import score_gradients

    calls = {"floor": lambda: score_gradients(model, x, target, batch_size=BATCH)}
    for rule in rules:
        calls[rule] = lambda rule=rule: kv.lrp(model, x, target, rule=rule, batch_size=BATCH, progress=False)
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], best_time(call, repeat=1, warmup=0 if best[name] < float("inf") else 1))
    floor = best.pop("floor")
    rows = [
        row(
            "forward+backward (input gradient)",
            floor * 1e3 / BATCH,
            "ms",
            note=f"per image, batch {BATCH}, {SIZE} px, {note}",
        )
    ]
    for rule, t in best.items():
        rows.append(
            row(
                f"lrp rule={rule!r} / forward+backward",
                t / floor,
                "x",
                target="<= 3",
                note=f"{t * 1e3 / BATCH:.0f} ms per image",
            )
        )
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
