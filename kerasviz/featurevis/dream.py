"""DeepDream (Mordvintsev, Olah & Tyka 2015): amplify whatever a layer sees in a photo.

Gradient ascent on the mean squared activation of one or more layers,
starting from the photo, with the original notebook's recipe: normalised steps
`x += step_size * g / mean|g|`, a random roll (jitter) undone after each step,
and octaves from small to large where the detail added so far is upscaled and
re-injected into the next, larger copy of the photo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Union

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
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis import settings as S
from kerasviz.featurevis.inputs import (
    Preprocessing,
    check_preprocessing,
    display_images,
    fit_to_model,
    input_mapping,
    model_hw,
)
from kerasviz.featurevis.probe import Probe

Layers = Union[LayerSpec, Sequence[LayerSpec], Mapping[LayerSpec, float]]


@dataclass
class Dream(ArrayResult):
    """Result of `deep_dream`; behaves as its `images` array.

    Attributes:
        images: the dreamed image(s), float32 RGB in [0, 1], shaped like the
            input (`(H, W, 3)` for one photo, `(N, H, W, 3)` for a batch).
        losses: one float32 array `(steps, N)` per octave (smallest first):
            the objective at each step.
        sizes: `(H, W)` of each octave.
        label: how the model's weights were obtained.
        precision: the compute precision used.
    """

    array_field: ClassVar[str] = "images"
    images: np.ndarray
    losses: list
    sizes: list
    label: str = ""
    precision: str = "float32"

    @property
    def image(self) -> np.ndarray:
        """The dreamed image(s) (the same array as `images`)."""
        return self.images


def _weighted_layers(model, layers: Layers) -> dict:
    if isinstance(layers, Mapping):
        weights = {k: check_number(v, "layers", minimum=0.0) for k, v in layers.items()}
    elif isinstance(layers, (str, int, np.integer, keras.layers.Layer)):
        weights = {layers: 1.0}
    elif isinstance(layers, (list, tuple)):
        weights = {layer: 1.0 for layer in layers}
    else:
        raise S.ArgumentTypeError(f"`layers` must be a layer, a list of layers or {{layer: weight}}; got {layers!r}.")
    if not weights:
        raise S.InvalidArgumentError("`layers` is empty; give at least one layer to dream with.")
    if not any(w > 0 for w in weights.values()):
        raise S.InvalidArgumentError(f"`layers` weights must include a positive one; got {list(weights.values())}.")
    weights = {int(k) if isinstance(k, np.integer) else k: w for k, w in weights.items()}
    for layer in weights:
        S.check_layer(model, layer, "layers")
    return weights


class _Dreamer:
    def __init__(self, model, weights: dict, preprocessing, dtype: str):
        terms = [w * obj.deepdream(layer) for layer, w in weights.items()]
        self.objective = sum(terms[1:], terms[0])
        self.probe = Probe(model, self.objective.layers, dtype)
        self.to_space = input_mapping(model, preprocessing)
        self.model_hw = model_hw(model)
        self.step = compile_function(self._step)

    def _step(self, x, shift, step_size):
        rolled = tf.roll(x, shift, axis=[1, 2])
        with tf.GradientTape() as tape:
            tape.watch(rolled)
            acts = self.probe(self.to_space(fit_to_model(rolled, self.model_hw)), tf.constant(False))
            loss = self.objective(acts, tf.zeros(tf.shape(x)[:1], tf.int32))
            total = tf.reduce_sum(loss)
        grad = tf.roll(tape.gradient(total, rolled), -shift, axis=[1, 2])
        grad = grad / (tf.reduce_mean(tf.abs(grad), axis=(1, 2, 3), keepdims=True) + 1e-8)
        return tf.clip_by_value(x + step_size * grad, 0.0, 1.0), loss


def octave_sizes(height: int, width: int, octaves: int, octave_scale: float) -> list:
    """Sizes from smallest to largest: `int(dim / octave_scale**i)` for i = octaves-1 .. 0."""
    return [
        (max(1, int(height / octave_scale**i)), max(1, int(width / octave_scale**i))) for i in reversed(range(octaves))
    ]


def deep_dream(
    model: keras.Model,
    images=None,
    layers: Layers = None,
    *,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int | None = None,
    step_size: float = 0.01,
    jitter: int = 32,
    preprocessing: Preprocessing = None,
    seed: int = 0,
    progress: bool = True,
    precision: str = "auto",
    **deprecated,
) -> Dream:
    """DeepDream a photo: amplify the patterns `layers` respond to.

    Args:
        model: a Keras image model (never changed).
        images: RGB photo(s) `(H, W, 3)` or `(N, H, W, 3)`, uint8 0-255 or float
            in [0, 1] (display space, not model input space: the model's
            preprocessing runs inside the graph, see `preprocessing`).
            `image=` is the old name.
        layers: a layer, a list of layers, or `{layer: weight}` (weights >= 0,
            at least one positive).
        octaves: number of scales (original notebook: 4); the smallest must
            keep at least 8 pixels.
        octave_scale: size ratio between octaves (> 1; 1.4).
        steps: gradient steps per octave (default 10, capped in quick mode; a
            value you pass is always used).
        step_size: step (> 0) in [0, 1] pixel units after normalising the
            gradient by its mean absolute value.
        jitter: maximum random roll in pixels at the full size (>= 0; scaled
            down in smaller octaves).
        preprocessing: RGB [0, 1] -> model input (default per architecture).
            `preprocess=` is the old name.
        seed: seeds the rolls.
        progress: show a progress bar.
        precision: "auto" (bfloat16 where native, else float32), "float32"
            or "bfloat16" for the model's arithmetic; images and losses are
            float32.

    Returns:
        `Dream`: behaves as `.images` (shaped like the input, float32 RGB in
        [0, 1]); `.losses` per octave.

    Example:
        >>> dream = kv.deep_dream(vgg, kv.sample_image("cat", 224), ["block4_conv3"])
        >>> plt.imshow(dream.images)
    """
    S.check_model(model)
    images = S.take_deprecated(deprecated, "image", "images", images, "deep_dream")
    preprocessing = check_preprocessing(
        S.take_deprecated(deprecated, "preprocess", "preprocessing", preprocessing, "deep_dream")
    )
    S.reject_unknown(deprecated, "deep_dream")
    if images is None or layers is None:
        raise S.ArgumentTypeError(f"deep_dream() needs `{'images' if images is None else 'layers'}`.")
    x0, single = display_images(images, "images")
    weights = _weighted_layers(model, layers)
    height, width = x0.shape[1:3]
    octaves, octave_scale = S.check_octaves(octaves, octave_scale, (height, width))
    steps = S.check_steps(steps, 10)
    step_size = check_positive(step_size, "step_size")
    jitter = check_int(jitter, "jitter", minimum=0)
    seed, progress = check_int(seed, "seed"), S.check_flag(progress, "progress")
    dtype = resolve_precision(check_precision(precision), model)
    build = lambda: _Dreamer(model, weights, preprocessing, dtype)  # noqa: E731
    if callable(preprocessing):
        dreamer = build()
    else:
        key = ("dream", tuple((repr(k), w) for k, w in weights.items()), preprocessing, dtype)
        dreamer = cache.get(model, key, build)
    sizes = octave_sizes(height, width, octaves, octave_scale)
    rng = np.random.default_rng(seed)
    detail, losses = None, []
    with progress_bar(steps * len(sizes), "deep dream", progress) as bar:
        for size in sizes:
            base = tf.image.resize(x0, size, method="bilinear")
            detail = tf.zeros_like(base) if detail is None else tf.image.resize(detail, size, method="bilinear")
            x, trace = base + detail, []
            limit = max(0, int(round(jitter * size[0] / height)))
            for _ in range(steps):
                shift = tf.constant(rng.integers(-limit, limit + 1, 2), tf.int32)
                x, loss = dreamer.step(x, shift, tf.constant(step_size, tf.float32))
                trace.append(loss)  # stays on the device; read once per octave
                bar.update(1)
            detail = x - base
            losses.append(np.array([t.numpy() for t in trace], np.float32).reshape(-1, len(x0)))
    result = (tf.clip_by_value(base + detail, 0.0, 1.0)).numpy().astype(np.float32)
    return Dream(result[0] if single else result, losses, sizes, weights_label(model), dtype)
