"""DeepDream (Mordvintsev, Olah & Tyka 2015): amplify whatever a layer sees in a photo.

Gradient ascent on the mean squared activation of one or more layers,
starting from the photo, with the original notebook's recipe: normalised steps
`x += step_size * g / mean|g|`, a random roll (jitter) undone after each step,
and octaves from small to large where the detail added so far is upscaled and
re-injected into the next, larger copy of the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar
from kerasviz.core.graph import cache, model_input
from kerasviz.core.layers import LayerSpec
from kerasviz.data import weights_label
from kerasviz.featurevis import objectives as obj
from kerasviz.core.gradients import compile_function
from kerasviz.featurevis.render import Preprocess, Probe, display_images, fit_to_model, input_mapping

Layers = Union[LayerSpec, Sequence[LayerSpec], Mapping[LayerSpec, float]]


@dataclass
class Dream:
    """Result of `deep_dream`.

    Attributes:
        image: the dreamed image(s), float32 RGB in [0, 1], shaped like the input.
        losses: one array `(steps, N)` per octave (smallest first): the
            objective at each step.
        sizes: `(H, W)` of each octave.
        label: how the model's weights were obtained.
    """

    image: np.ndarray
    losses: list
    sizes: list
    label: str = ""


def _weighted_layers(layers: Layers) -> dict:
    if isinstance(layers, Mapping):
        return {k: float(v) for k, v in layers.items()}
    if isinstance(layers, (str, int, keras.layers.Layer)):
        return {layers: 1.0}
    return {layer: 1.0 for layer in layers}


class _Dreamer:
    def __init__(self, model, weights: dict, preprocess):
        terms = [w * obj.deepdream(layer) for layer, w in weights.items()]
        self.objective = sum(terms[1:], terms[0])
        self.probe = Probe(model, self.objective.layers)
        self.to_space = input_mapping(model, preprocess)
        self.model_hw = tuple(model_input(model).shape[1:3])
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
    return [(max(1, int(height / octave_scale**i)), max(1, int(width / octave_scale**i))) for i in reversed(range(octaves))]


def deep_dream(
    model: keras.Model,
    image,
    layers: Layers,
    *,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 0.01,
    jitter: int = 32,
    preprocess: Preprocess = None,
    seed: int = 0,
    progress: bool = True,
) -> Dream:
    """DeepDream a photo: amplify the patterns `layers` respond to.

    Args:
        model: a Keras image model (never changed).
        image: RGB photo(s) `(H, W, 3)` or `(N, H, W, 3)`, uint8 0-255 or float
            in [0, 1] (display space, not model input space: the model's
            preprocessing runs inside the graph, see `preprocess`).
        layers: a layer, a list of layers, or `{layer: weight}`.
        octaves: number of scales (original notebook: 4).
        octave_scale: size ratio between octaves (1.4).
        steps: gradient steps per octave (10; capped in quick mode).
        step_size: step in [0, 1] pixel units after normalising the gradient
            by its mean absolute value.
        jitter: maximum random roll in pixels at the full size (scaled down
            in smaller octaves).
        preprocess: RGB [0, 1] -> model input (default per architecture).
        seed: seeds the rolls.
        progress: show a progress bar.

    Returns:
        `Dream` with `.image` shaped like `image`, float RGB in [0, 1], and
        `.losses` per octave.

    Example:
        >>> dream = kv.deep_dream(vgg, kv.sample_image("cat", 224), ["block4_conv3"])
        >>> plt.imshow(dream.image)
    """
    x0, single = display_images(image)
    weights = _weighted_layers(layers)
    key = ("dream", tuple((repr(k), w) for k, w in weights.items()), preprocess if not callable(preprocess) else id(preprocess))
    dreamer = cache.get(model, key, lambda: _Dreamer(model, weights, preprocess))
    steps = max_steps(steps)
    height, width = x0.shape[1:3]
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
            losses.append(np.array([t.numpy() for t in trace]).reshape(-1, len(x0)))
    result = (tf.clip_by_value(base + detail, 0.0, 1.0)).numpy()
    return Dream(result[0] if single else result, losses, sizes, weights_label(model))
