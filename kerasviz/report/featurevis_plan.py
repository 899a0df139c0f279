"""How the report runs filter maximization: low-resolution octaves first, the full size last.

The report shows each filter's image at `size` pixels (128 for VGG16), which
a fixed-input model (VGG16 with its classifier: 224 x 224) sees resized to its
input size. Every optimisation step therefore costs a forward and backward
pass at 224 x 224. Here the first octaves run at 1/4 and 1/2 of that size
and only the last at the full size, as Mordvintsev et al. (2015) and Olah et
al. (2017) grow images: most steps then cost a quarter or a sixteenth as
much, and the last octave is the very computation of a single-size run.

This needs a model that accepts smaller images. A fixed-input model is
called on a new `keras.Input` of open height and width (the same layers and
weights; the user's model is not changed), and the image is resized to what
the model would see at full size by the preprocessing function. Models whose
layers need their fixed size (a Reshape before the visualised layer) fall
back to `plain()`: one octave at the full size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

import keras
import tensorflow as tf

from kerasviz.core.graph import model_input
from kerasviz.featurevis.render import architecture_defaults
from kerasviz.provenance import set_weights_label, weights_label

OCTAVE_SCALE = 2.0
MIN_OCTAVE_SIDE = 96  # models whose input is smaller than this run one octave (they are cheap anyway)
AUTO_OCTAVES = 3      # 1/4, 1/2 and full size


@dataclass(frozen=True)
class FeaturevisPlan:
    """The model, preprocessing, image size and octaves passed to `visualize_filters`."""

    model: keras.Model
    preprocess: Callable
    size: tuple
    octaves: int
    octave_scale: float
    original: keras.Model
    original_preprocess: Callable

    @property
    def is_plain(self) -> bool:
        return self.octaves == 1 and self.model is self.original

    def plain(self) -> "FeaturevisPlan":
        """One octave at the full size on the user's model itself."""
        return replace(self, model=self.original, preprocess=self.original_preprocess, octaves=1)

    def describe(self) -> str:
        """", 3 octaves: 32, 64, 128 px" (empty for one octave)."""
        if self.octaves == 1:
            return ""
        sides = [max(8, int(round(min(self.size) / self.octave_scale ** k))) for k in reversed(range(self.octaves))]
        return f", {self.octaves} octaves: {', '.join(map(str, sides))} px"


def default_size(model: keras.Model) -> tuple:
    """`visualize_filters`' default image size for this model: per architecture, else its input size, else 128."""
    fixed = tuple(model_input(model).shape[1:3])
    size = architecture_defaults(model).get("size") or (fixed if None not in fixed else 128)
    return (size, size) if isinstance(size, int) else tuple(int(s) for s in size)


def open_size_model(model: keras.Model) -> Optional[keras.Model]:
    """The model called on an input of open height and width (same layers and weights), or None if it cannot be."""
    reference = model_input(model)
    try:
        inputs = keras.Input(batch_shape=(None, None, None) + tuple(reference.shape[3:]), dtype=reference.dtype)
        opened = keras.Model(inputs, model(inputs), name=f"{model.name}_open_size")
    except Exception:  # layers that need the fixed size (Flatten -> Dense is fine symbolically; others may not be)
        return None
    return set_weights_label(opened, weights_label(model))


def scaled_preprocess(mapping: Callable, factor: tuple) -> Callable:
    """`mapping` after resizing the image by `factor` (height, width): at the full size, exactly what the model sees."""
    fy, fx = factor

    def preprocess(x):
        h, w = int(x.shape[1]), int(x.shape[2])
        target = (int(round(h * fy)), int(round(w * fx)))
        if target != (h, w):
            x = tf.image.resize(x, target, method="bilinear")
        return mapping(x)

    return preprocess


def plan_featurevis(model: keras.Model, mapping: Callable, size=None, octaves: Optional[int] = None) -> FeaturevisPlan:
    """Choose how to run the report's filter maximization on `model`.

    Args:
        model: the user's model.
        mapping: RGB in [0, 1] -> model input (the report's preprocessing).
        size: the shown image size (int or (H, W)); None: `default_size`.
        octaves: None (automatic: 3 octaves for models of 96 px and more, else
            1), or a number of octaves (1: the plain single-size run).

    Returns:
        `FeaturevisPlan`.
    """
    size = default_size(model) if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    fixed = tuple(model_input(model).shape[1:3])
    sides = [s for s in fixed if s is not None] or list(size)
    if octaves is None:
        octaves = AUTO_OCTAVES if min(sides) >= MIN_OCTAVE_SIDE and min(size) >= 8 * OCTAVE_SCALE ** 2 else 1
    plain = FeaturevisPlan(model, mapping, size, 1, OCTAVE_SCALE, model, mapping)
    if octaves == 1:
        return plain
    if None in fixed:  # the model takes any size: the octaves are simply smaller images
        return replace(plain, octaves=octaves)
    opened = open_size_model(model)
    if opened is None:
        return plain
    factor = (fixed[0] / size[0], fixed[1] / size[1])
    return replace(plain, model=opened, preprocess=scaled_preprocess(mapping, factor), octaves=octaves)
