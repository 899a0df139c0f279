"""LRP cost vs the bare forward+backward floor on VGG16 (weights=None) at 128 px.

Target (issue 7): one LRP pass <= 3x one forward+backward pass. Both are timed
in this run on the same batch, compiled and warmed up; the floor is the plain
input gradient of the same score (`core.gradients.score_gradients`).
iNNvestigate, the only Keras LRP anchor, needs TF < 2.15 with eager execution
off, so it cannot be timed beside us: the floor ratio is the figure reported.
"""
from __future__ import annotations

import numpy as np
from _timing import best_time, row

BATCH = 4
SIZE = 128


def _vgg_inputs():
    import kerasviz as kv

    model = kv.load_vgg16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    x = kv.preprocess(np.stack([kv.sample_image(name, size=SIZE) for name in ("cat", "coffee", "astronaut", "rocket")][:BATCH]))
    return model, x


def bench_lrp_vgg16():
    import kerasviz as kv
    from kerasviz.core.gradients import score_gradients

    model, x = _vgg_inputs()
    target = 0  # one flattened feature-map unit: the model has no classifier at 128 px
    floor = best_time(lambda: score_gradients(model, x, target, batch_size=BATCH), repeat=3)
    rows = [row("forward+backward (input gradient)", floor * 1e3 / BATCH, "ms", note=f"per image, batch {BATCH}, {SIZE} px")]
    for rule in ("epsilon", "vgg", "zplus"):
        t = best_time(lambda: kv.lrp(model, x, target, rule=rule, batch_size=BATCH, progress=False), repeat=3)
        rows.append(row(f"lrp rule={rule!r} / forward+backward", t / floor, "x", target="<= 3", note=f"{t * 1e3 / BATCH:.0f} ms per image"))
    rows.append(row("anchor (iNNvestigate)", 0.0, "", note="anchor not installed (needs TF < 2.15, graph mode)"))
    return rows


BENCHMARKS = {"lrp_vgg16_128px": bench_lrp_vgg16}
