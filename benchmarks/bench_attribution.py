"""Attribution speed: ratios to the bare forward+backward floor and to tf-keras-vis.

VGG16 (untrained, 128 px, GAP + 1000-way dense head). IG with 32 path points
and SmoothGrad with 32 noise samples on one image are compared with ONE
batched forward+backward of 32 images (target <= 1.3x); Grad-CAM on one image
with one forward+backward of that image (target <= 1.3x). tf-keras-vis runs
the same inputs if installed (not a kerasviz dependency).
"""
from __future__ import annotations

import warnings

import numpy as np

from _timing import best_time, row

SIZE, PATH = 128, 32


def _model():
    import keras

    import kerasviz as kv

    base = kv.load_vgg16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    x = inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(x))
    return keras.Model(inputs, keras.layers.Dense(1000, name="predictions")(x))


def _floor(model, n):
    import tensorflow as tf

    from kerasviz.core.gradients import gradient_step

    step = gradient_step(model)
    x = tf.random.uniform((n, SIZE, SIZE, 3), -100, 100)
    t = tf.fill((n,), 3)
    return best_time(lambda: step(x, t)[2].numpy(), repeat=3)


def attribution_vs_floor():
    import kerasviz as kv

    warnings.simplefilter("ignore")
    model = _model()
    image = np.random.default_rng(0).uniform(-100, 100, (SIZE, SIZE, 3)).astype("float32")
    floor32, floor1 = _floor(model, PATH), _floor(model, 1)
    ig = best_time(lambda: kv.integrated_gradients(model, image, 3, steps=PATH, method="midpoint", progress=False), repeat=3)
    sg = best_time(lambda: kv.smoothgrad(model, image, 3, samples=PATH, progress=False), repeat=3)
    gc = best_time(lambda: kv.grad_cam(model, image, 3), repeat=3)
    return [
        row("forward+backward, 32 images (floor)", floor32, "s"),
        row("integrated_gradients 32 steps / floor", ig / floor32, "x", "<= 1.3"),
        row("smoothgrad 32 samples / floor", sg / floor32, "x", "<= 1.3"),
        row("forward+backward, 1 image (floor)", floor1, "s"),
        row("grad_cam / floor", gc / floor1, "x", "<= 1.3"),
    ]


def attribution_vs_tf_keras_vis():
    import kerasviz as kv

    warnings.simplefilter("ignore")
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return [row("tf-keras-vis", float("nan"), "", "", "anchor not installed")]
    model = _model()
    images = np.random.default_rng(0).uniform(-100, 100, (4, SIZE, SIZE, 3)).astype("float32")
    score = CategoricalScore([3] * len(images))
    rows = []
    cases = {
        "saliency": (lambda: kv.saliency(model, images, 3), lambda: Saliency(model, clone=False)(score, images)),
        "smoothgrad (16 samples)": (
            lambda: kv.smoothgrad(model, images, 3, samples=16, noise=0.2, progress=False),
            lambda: Saliency(model, clone=False)(score, images, smooth_samples=16, smooth_noise=0.2),
        ),
        "grad_cam": (
            lambda: kv.grad_cam(model, images, 3, layer="block5_conv3"),
            lambda: Gradcam(model, clone=False)(score, images, penultimate_layer="vgg16"),
        ),
    }
    for name, (ours, theirs) in cases.items():
        try:
            t_theirs = best_time(theirs, repeat=3)
        except Exception as err:  # the anchor may not support Keras 3 nested models
            rows.append(row(f"{name}: tf-keras-vis", float("nan"), "", "", f"anchor failed: {type(err).__name__}"))
            continue
        t_ours = best_time(ours, repeat=3)
        rows.append(row(f"{name}: kerasviz / tf-keras-vis", t_ours / t_theirs, "x", "<= 1.0", f"ours {t_ours:.3f}s, theirs {t_theirs:.3f}s"))
    return rows


BENCHMARKS = {"attribution_vs_floor": attribution_vs_floor, "attribution_vs_tf_keras_vis": attribution_vs_tf_keras_vis}
