"""Attribution speed: ratios to the bare forward+backward floor and to tf-keras-vis.

VGG16 (untrained, 128 px, GAP + 1000-way dense logits). IG with 32 path points
and SmoothGrad with 32 noise samples on one image are compared with ONE
batched compiled forward+backward of 32 images to the input (target <= 1.3x).
Grad-CAM on one image is compared with one compiled forward+backward of that
image to its feature-map layer, returning the layer's activations and
gradients (what Grad-CAM needs; target <= 1.3x).

tf-keras-vis (not a kerasviz dependency) runs the same inputs if installed, on
a FLAT copy of the network (VGG16's layers directly in the model): it cannot
reach layers inside nested models.
"""

from __future__ import annotations

import warnings

import numpy as np
from _timing import row

SIZE, PATH = 128, 32


def interleaved_best(fns: dict, repeat: int) -> dict:
    """Best time of each function, timed round-robin (after one warm-up each) so
    that load changes on a shared machine hit ours and the floor alike."""
    import time

    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _model(flat: bool = False):
    """VGG16 (untrained) at SIZE px with a GAP + dense logit head; nested in an
    outer model (the usual Keras 3 pattern), or flat."""
    import keras

    import kerasviz as kv

    base = kv.load_vgg16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    inputs = base.input if flat else keras.Input((SIZE, SIZE, 3))
    features = base.output if flat else base(inputs)
    logits = keras.layers.Dense(1000, name="predictions")(keras.layers.GlobalAveragePooling2D()(features))
    return keras.Model(inputs, logits)


def _input_floor(model, n):
    """One compiled forward+backward of n images to the input (a callable)."""
    import tensorflow as tf

    from kerasviz.core.gradients import gradient_step

    step = gradient_step(model)
    x = tf.random.uniform((n, SIZE, SIZE, 3), -100, 100)
    t = tf.fill((n,), 3)
    return lambda: step(x, t)[2].numpy()


def _layer_floor(model, layer):
    """One compiled forward of one image and backward to `layer`, returning the
    layer's activations and gradients (without the activations TF would prune
    the forward pass: a GAP head's gradient does not depend on them). A callable."""
    import tensorflow as tf

    from kerasviz.core.graph import tap_model

    tap, (key,) = tap_model(model, [layer])

    @tf.function
    def step(x, t):
        with tf.GradientTape() as tape:
            out = tap(x, training=False)
            score = tf.gather(out["__output__"], t, axis=1, batch_dims=1)
        return out[key], tape.gradient(score, out[key])

    x = tf.random.uniform((1, SIZE, SIZE, 3), -100, 100)
    t = tf.constant([3])
    return lambda: [v.numpy() for v in step(x, t)]


def attribution_vs_floor():
    import kerasviz as kv

    warnings.simplefilter("ignore")
    model = _model()
    image = np.random.default_rng(0).uniform(-100, 100, (SIZE, SIZE, 3)).astype("float32")
    layer = kv.default_cam_layer(model)
    path = interleaved_best(
        {
            "floor": _input_floor(model, PATH),
            "ig": lambda: kv.integrated_gradients(model, image, 3, steps=PATH, method="midpoint", progress=False),
            "sg": lambda: kv.smoothgrad(model, image, 3, samples=PATH, progress=False),
        },
        repeat=3,
    )
    one = interleaved_best(
        {
            "floor_layer": _layer_floor(model, layer),
            "floor_input": _input_floor(model, 1),
            "gc": lambda: kv.grad_cam(model, image, 3),
            "gcpp": lambda: kv.grad_cam_plus_plus(model, image, 3),
        },
        repeat=7,
    )
    floor32, ig, sg = path["floor"], path["ig"], path["sg"]
    floor_layer, floor1, gc, gcpp = one["floor_layer"], one["floor_input"], one["gc"], one["gcpp"]
    return [
        row("forward+backward, 32 images (floor)", floor32, "s"),
        row("integrated_gradients 32 steps / floor", ig / floor32, "x", "<= 1.3"),
        row("smoothgrad 32 samples / floor", sg / floor32, "x", "<= 1.3"),
        row(f"forward+backward to {layer}, 1 image (floor)", floor_layer, "s", "", f"to the input: {floor1:.3f}s"),
        row("grad_cam / floor", gc / floor_layer, "x", "<= 1.3", f"{gc:.3f}s; vs the input floor {gc / floor1:.2f}x"),
        row("grad_cam_plus_plus / floor", gcpp / floor_layer, "x", "<= 1.3", f"{gcpp:.3f}s"),
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
    model = _model(flat=True)
    images = np.random.default_rng(0).uniform(-100, 100, (2, SIZE, SIZE, 3)).astype("float32")
    score = CategoricalScore([3] * len(images))
    note = "flat VGG16 (tf-keras-vis cannot reach into nested models)"
    cases = {
        "saliency": (lambda: kv.saliency(model, images, 3), lambda: Saliency(model, clone=False)(score, images), 3),
        "smoothgrad (8 samples)": (
            lambda: kv.smoothgrad(model, images, 3, samples=8, noise=0.2, reduce="max_abs", progress=False),
            lambda: Saliency(model, clone=False)(score, images, smooth_samples=8, smooth_noise=0.2),
            2,
        ),
        "grad_cam": (
            lambda: kv.grad_cam(model, images, 3, layer="block5_conv3"),
            lambda: Gradcam(model, clone=False)(score, images, penultimate_layer="block5_conv3"),
            3,
        ),
    }
    rows = []
    for name, (ours, theirs, repeat) in cases.items():
        try:
            theirs()
        except Exception as err:
            rows.append(
                row(f"{name}: tf-keras-vis", float("nan"), "", "", f"anchor failed: {type(err).__name__}: {err}"[:120])
            )
            continue
        best = interleaved_best({"ours": ours, "theirs": theirs}, repeat=repeat)
        rows.append(
            row(
                f"{name}: kerasviz / tf-keras-vis",
                best["ours"] / best["theirs"],
                "x",
                "<= 1.0",
                f"ours {best['ours']:.3f}s, theirs {best['theirs']:.3f}s, 2 images; {note}",
            )
        )
    return rows


BENCHMARKS = {"attribution_vs_floor": attribution_vs_floor, "attribution_vs_tf_keras_vis": attribution_vs_tf_keras_vis}
