"""How the report runs filter maximization: at the size it shows, half of the steps at half that size first.

The report shows each filter's image at `size` pixels (128 for VGG16). A
model with a fixed input (VGG16 with its classifier: 224 x 224) would see
every optimisation step resized to that input, so each step would cost a
forward and backward pass at 224 x 224 although the picture has 128 x 128
pixels and the visualised conv layer needs no fixed size. Here the model is
called on a new `keras.Input` of open height and width (the same layers and
weights; the user's model is not changed) and reads the image at the size
shown, as `kv.visualize_filters` does for a model without a fixed size (e.g.
VGG16 with `include_top=False`). The first octave runs at half the size and
is upscaled for the second, as Mordvintsev et al. (2015) and Olah et al.
(2017) grow images: the same steps, layers, filters and shown size for about
a sixth of the work of the resized single-size run, reaching the same
objective on average (`benchmarks/bench_report.py` measures both).

Models whose layers need their fixed size (a Reshape before the visualised
layer) fall back to `plain()`: one octave, the model as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import keras

from kerasviz.core.graph import cache, model_input
from kerasviz.featurevis.inputs import architecture_defaults
from kerasviz.provenance import set_weights_label, weights_label

OCTAVE_SCALE = 2.0
AUTO_OCTAVES = 2  # half size, then the shown size
MIN_OCTAVE_SIDE = 48  # images smaller than this run in one octave (small models are cheap anyway)


@dataclass(frozen=True)
class FeaturevisPlan:
    """The model, image size and octaves passed to `visualize_filters`."""

    model: keras.Model
    size: tuple
    octaves: int
    octave_scale: float
    original: keras.Model

    @property
    def is_plain(self) -> bool:
        return self.octaves == 1 and self.model is self.original

    def plain(self) -> FeaturevisPlan:
        """One octave on the user's model itself."""
        return replace(self, model=self.original, octaves=1)

    def describe(self) -> str:
        """ ", 2 octaves: 64, 128 px" (empty for one octave)."""
        if self.octaves == 1:
            return ""
        sides = [max(8, int(round(min(self.size) / self.octave_scale**k))) for k in reversed(range(self.octaves))]
        return f", {self.octaves} octaves: {', '.join(map(str, sides))} px"


def default_size(model: keras.Model) -> tuple:
    """`visualize_filters`' default image size for this model: per architecture, else its input size, else 128."""
    fixed = tuple(model_input(model).shape[1:3])
    size = architecture_defaults(model).get("size") or (fixed if None not in fixed else 128)
    return (size, size) if isinstance(size, int) else tuple(int(s) for s in size)


def open_size_model(model: keras.Model) -> keras.Model | None:
    """The model called on an input of open height and width (same layers and weights), or None if it cannot be."""
    reference = model_input(model)
    try:
        inputs = keras.Input(batch_shape=(None, None, None) + tuple(reference.shape[3:]), dtype=reference.dtype)
        opened = keras.Model(inputs, model(inputs), name=f"{model.name}_open_size")
    except Exception:  # a layer that cannot be called on an open size, even symbolically
        return None
    return set_weights_label(opened, weights_label(model))


def plan_featurevis(
    model: keras.Model, size=None, octaves: int | None = None, open_size: bool = True
) -> FeaturevisPlan:
    """Choose how to run the report's filter maximization on `model`.

    Args:
        model: the user's model.
        size: the shown image size (int or (H, W)); None: `default_size`.
        octaves: None (automatic: 2 when the first octave is at least
            `MIN_OCTAVE_SIDE` pixels, else 1) or a number of octaves.
        open_size: read the image at the shown size on the open-size model
            when the model's fixed input is larger than that size (False: the
            model as it is, images resized to its input).

    Returns:
        `FeaturevisPlan`.
    """
    size = default_size(model) if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    if octaves is None:
        octaves = AUTO_OCTAVES if min(size) / OCTAVE_SCALE >= MIN_OCTAVE_SIDE else 1
    plan = FeaturevisPlan(model, size, int(octaves), OCTAVE_SCALE, model)
    fixed = tuple(model_input(model).shape[1:3])
    if not open_size or None in fixed or size[0] >= fixed[0] and size[1] >= fixed[1]:
        return plan  # as asked, or it takes any size already, or it reads the image at its size or smaller anyway
    opened = cache.get(model, ("report", "open_size_model"), lambda: open_size_model(model))  # its traces are reused
    return plan if opened is None else replace(plan, model=opened)
