"""Feature inversion (Mahendran & Vedaldi, CVPR 2015): what does a layer remember of an image?

Find an image whose activations at a layer match the photo's:

    x* = argmin ||Φ(x) - Φ0||² / ||Φ0||²  +  λ_α R_α(x)  +  λ_TV R_TV^β(x)

with the α-norm keeping values in range and TV^β (β = 2) preferring smooth
images. Early layers give back the photo almost exactly; deeper ones keep the
layout and the parts the network needs, and lose colour and detail.

Several layers are inverted in one batch: element i reconstructs from layer
i, so one compiled step serves the whole comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.layers import LayerSpec
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.results import ArrayResult
from kerasviz.core.validate import check_int, check_number, check_positive
from kerasviz.data import weights_label
from kerasviz.featurevis import settings as S
from kerasviz.featurevis.inputs import (
    Preprocessing,
    check_preprocessing,
    display_images,
    fit_to_model,
    input_mapping,
    model_hw,
)
from kerasviz.featurevis.optim import adam_update
from kerasviz.featurevis.param import as_parameterization, element_seeds
from kerasviz.featurevis.probe import Probe
from kerasviz.featurevis.regularizers import lp_norm, total_variation


@dataclass
class Inversion(ArrayResult):
    """Result of `invert`; behaves as its `images` array.

    Attributes:
        images: reconstructions, float32 RGB in [0, 1]: `(L, H, W, 3)` for one
            image and L layers, `(N, L, H, W, 3)` for a batch of N images.
        errors: normalised reconstruction error ||Φ(x) - Φ0||² / ||Φ0||²,
            shaped like `images` without the pixel axes.
        history: `(steps, N * L)` the error at every step.
        layers: the layers, in order.
        label: how the model's weights were obtained.
        precision: the compute precision of the optimisation (errors are
            measured in float32 on the final images either way).
    """

    array_field: ClassVar[str] = "images"
    images: np.ndarray
    errors: np.ndarray
    history: np.ndarray
    layers: list
    label: str = ""
    precision: str = "float32"


class _Inverter:
    def __init__(self, model, layers, preprocessing, param, lr, alpha, alpha_weight, tv_weight, beta, dtype):
        self.layers = list(layers)
        self.probe = Probe(model, self.layers, dtype)
        self.exact = self.probe if dtype == "float32" else Probe(model, self.layers, "float32")
        self.to_space = input_mapping(model, preprocessing)
        self.model_hw = model_hw(model)
        self.param, self.lr = param, lr
        self.alpha, self.alpha_weight, self.tv_weight, self.beta = alpha, alpha_weight, tv_weight, beta
        self.targets = compile_function(self._targets)
        self.step = compile_function(self._step)
        self.final_errors = compile_function(self._final_errors)

    def _features(self, rgb, probe=None):
        acts = (probe or self.probe)(self.to_space(fit_to_model(rgb, self.model_hw)), tf.constant(False))
        return [tf.reshape(acts[l], (tf.shape(rgb)[0], -1)) for l in self.layers]

    def _targets(self, rgb):
        return self._features(rgb, self.exact)

    def _errors(self, rgb, targets, which, probe=None):
        """Each element's normalised error at its own layer `which[i]`: `(B,)`."""
        per_layer = [
            tf.reduce_sum(tf.square(f - t), 1) / (tf.reduce_sum(tf.square(t), 1) + 1e-12)
            for f, t in zip(self._features(rgb, probe), targets)
        ]
        return tf.gather(tf.stack(per_layer, axis=1), which, axis=1, batch_dims=1)

    def _final_errors(self, rgb, targets, which):
        return self._errors(rgb, targets, which, self.exact)

    def _step(self, raw, m, v, t, targets, which, height, width):
        with tf.GradientTape() as tape:
            tape.watch(raw)
            rgb = self.param.rgb(raw, height, width)
            error = self._errors(rgb, targets, which)
            loss = (
                error + self.alpha_weight * lp_norm(rgb, self.alpha) + self.tv_weight * total_variation(rgb, self.beta)
            )
            total = tf.reduce_sum(loss)
        raw, m, v = adam_update(raw, -tape.gradient(total, raw), m, v, t, self.lr)
        return raw, m, v, error


def invert(
    model: keras.Model,
    images=None,
    layer: LayerSpec | Sequence[LayerSpec] = None,
    *,
    steps: int | None = None,
    lr: float = 0.05,
    alpha: float = 6.0,
    alpha_weight: float = 1e-3,
    tv_weight: float = 0.5,
    beta: float = 2.0,
    param="pixels",
    preprocessing: Preprocessing = None,
    seed: int = 0,
    progress: bool = True,
    precision: str = "auto",
    **deprecated,
) -> Inversion:
    """Reconstruct an image from its activations at one or several layers.

    Args:
        model: a Keras image model (never changed).
        images: RGB photo(s) `(H, W, 3)` or `(N, H, W, 3)`, uint8 0-255 or
            float [0, 1] (display space; preprocessing runs in the graph).
            `image=` is the old name.
        layer: one layer or a list (one reconstruction per layer, batched).
        steps: Adam steps (default 400, capped in quick mode; a value you
            pass is always used).
        lr: Adam learning rate on the parameterization (> 0).
        alpha: exponent of the α-norm R_α (> 0; 6 in the paper).
        alpha_weight: λ_α (>= 0), on `mean |2(x - 0.5)|^α`.
        tv_weight: λ_TV (>= 0), on the mean TV^β (raise it for deeper layers).
        beta: TV exponent β (> 0; 2: smooth; 1: classic TV).
        param: "pixels" (default), "fourier" or a `Parameterization`.
        preprocessing: RGB [0, 1] -> model input (default per architecture).
            `preprocess=` is the old name.
        seed: seeds the random start.
        progress: show a progress bar.
        precision: "auto" (bfloat16 where native, else float32), "float32"
            or "bfloat16" for the model's arithmetic during the optimisation;
            targets and the reported errors are computed in float32.

    Returns:
        `Inversion` with `.images` and `.errors`.

    Example:
        >>> inv = kv.invert(vgg, kv.sample_image("cat", 128), ["block1_conv2", "block3_conv3"])
        >>> inv.images.shape
        (2, 128, 128, 3)
    """
    S.check_model(model)
    images = S.take_deprecated(deprecated, "image", "images", images, "invert")
    preprocessing = check_preprocessing(
        S.take_deprecated(deprecated, "preprocess", "preprocessing", preprocessing, "invert")
    )
    S.reject_unknown(deprecated, "invert")
    if images is None or layer is None:
        raise S.ArgumentTypeError(f"invert() needs `{'images' if images is None else 'layer'}`.")
    x0, single = display_images(images, "images")
    if isinstance(layer, np.integer):
        layer = int(layer)
    layers = [layer] if isinstance(layer, (str, int, keras.layers.Layer)) else layer
    if not isinstance(layers, (list, tuple)) or not layers:
        raise S.InvalidArgumentError(f"`layer` must be a layer or a non-empty list of layers; got {layer!r}.")
    layers = [int(l) if isinstance(l, np.integer) else l for l in layers]
    for l in layers:
        S.check_layer(model, l)
    steps = S.check_steps(steps, 400)
    lr = check_positive(lr, "lr")
    alpha, beta = check_positive(alpha, "alpha"), check_positive(beta, "beta")
    alpha_weight = check_number(alpha_weight, "alpha_weight", minimum=0.0)
    tv_weight = check_number(tv_weight, "tv_weight", minimum=0.0)
    seed, progress = check_int(seed, "seed"), S.check_flag(progress, "progress")
    dtype = resolve_precision(check_precision(precision), model)
    param = as_parameterization(param)
    settings = (lr, alpha, alpha_weight, tv_weight, beta)
    build = lambda: _Inverter(model, layers, preprocessing, param, *settings, dtype)  # noqa: E731
    if callable(preprocessing):
        inverter = build()
    else:
        inverter = cache.get(
            model, ("invert", tuple(map(repr, layers)), param.key, settings, preprocessing, dtype), build
        )
    n, count = len(x0), len(layers)
    height, width = x0.shape[1:3]
    # Element (i, j): image i reconstructed from layer j.
    targets = [tf.repeat(t, count, axis=0) for t in inverter.targets(tf.constant(x0))]
    which = tf.constant(np.tile(np.arange(count), n), tf.int32)
    raw = param.init(element_seeds(seed, np.arange(n * count)), height, width)
    m, v, history = tf.zeros_like(raw), tf.zeros_like(raw), []
    with progress_bar(steps, f"inverting {count} layer(s)", progress) as bar:
        for t in range(1, steps + 1):
            raw, m, v, error = inverter.step(raw, m, v, tf.constant(float(t)), targets, which, height, width)
            history.append(error)  # stays on the device; read once at the end
            bar.update(1)
    rgb = param.rgb(raw, height, width)
    errors = inverter.final_errors(rgb, targets, which).numpy().reshape(n, count)
    images = rgb.numpy().reshape((n, count) + rgb.shape[1:])
    if single:
        images, errors = images[0], errors[0]
    history = np.array([h.numpy() for h in history], np.float32)
    return Inversion(images.astype(np.float32), errors.astype(np.float32), history, layers, weights_label(model), dtype)
