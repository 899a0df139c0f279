"""How long will it take? Counted passes x a step time measured on this machine, corrected by observed runs.

One small mechanism serves every caller that wants an estimate before it
computes (the widgets' "≈ 12 s" and their budget, `kv.estimate_seconds`, the
report's section costs):

- each model's speed is measured once on this machine and cached with the
  model (`ModelTiming`: seconds per image for a forward pass and for a forward
  + backward pass at the model's input size, the time to trace a compiled
  step, and each layer's share of the model's multiply-adds);
- a kind of work is a count of those passes (`Work`): a gradient map is one
  forward + backward pass, SmoothGrad `samples` of them, occlusion one forward
  pass per window, feature visualization a per-pixel part plus the layer's
  share of a pass per step, each scaled to the image size it runs at;
- after a run, `record` compares the estimate with the time it took and
  corrects later estimates of that kind of work on that model (the machine's
  load changes, batched work runs faster per image than the measurement);
  a first run teaches the tracing time of its kind.

    from kerasviz.core.cost import Work, record

    work = Work("gradient", passes=33, what="integrated gradients: 32 steps")
    cost = work.cost(model)                 # Cost(seconds=..., what=...); str(cost) == "≈ 12 s"
    ...                                     # run it
    record(model, "gradient", cost, seconds_it_took)

Measuring runs the cached gradient step the attribution methods use
(`core.gradients.gradient_step`), so its tracing is not wasted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

FORWARD_SHARE = 0.45  # a forward pass / a forward + backward pass (VGG16 on a CPU: 0.43 to 0.48)
# A first run's tracing, in units of the measured gradient step's tracing, until a run teaches it.
TRACE_FACTORS = {"featurevis": 3.0}  # feature visualization traces its whole render loop (VGG16: 5.5 s / 1.5 s)
UNITS = ("forward", "gradient")


@dataclass(frozen=True)
class Cost:
    """An estimated cost: `seconds`, and `what` it counts ("4 filters x 64 steps on block3_conv1").

    `str(cost)` is "≈ 12 s" (or "< 1 s", "≈ 3 min").
    """

    seconds: float
    what: str = ""

    def __str__(self) -> str:
        s = self.seconds
        if s < 1:
            return "< 1 s"
        if s < 90:
            return f"≈ {s:.0f} s"
        if s < 5400:
            return f"≈ {s / 60:.0f} min"
        return f"≈ {s / 3600:.1f} h"

    def describe(self) -> str:
        return self.what or "this computation"

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.seconds + other.seconds, " + ".join(w for w in (self.what, other.what) if w))


@dataclass
class ModelTiming:
    """One model's speed on this machine (from `model_timing`).

    Attributes:
        forward: seconds per image for a forward pass at the model's input size.
        gradient: seconds per image for a forward + backward pass.
        trace: seconds to trace and compile one gradient step.
        input_pixels: H * W of the model's input (the measured size).
        depth: `{layer path: fraction of the model's multiply-adds up to that layer}`.
        ratios: `{kind: measured / estimated}` learned by `record` from warm runs.
        traces: `{kind: seconds}` of tracing learned by `record` from first runs.
    """

    forward: float
    gradient: float
    trace: float
    input_pixels: int
    depth: dict = field(default_factory=dict)
    ratios: dict = field(default_factory=dict)
    traces: dict = field(default_factory=dict)

    def layer_fraction(self, layer: str | None) -> float:
        """The share of a full pass spent up to `layer` (1.0 for None or an unknown path)."""
        return 1.0 if layer is None else self.depth.get(layer, 1.0)

    def trace_prior(self, kind: str) -> float:
        """The tracing time assumed for `kind` before a first run teaches it."""
        return TRACE_FACTORS.get(kind, 1.0) * self.trace


def _spatial_size(layer) -> int:
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return 1
    dims = [d for d in shape[1:-1] if d is not None]
    return int(np.prod(dims)) if dims else 1


def multiply_adds(model) -> dict:
    """`{layer path: cumulative multiply-adds}` in graph order, from each layer's kernels and output size.

    A layer's count is its output's spatial size times the size of each of its
    weight matrices (convolution kernels, dense matrices, depthwise kernels);
    layers without kernels (pooling, activations) add nothing.
    """
    from kerasviz.core.layers import is_model, iter_layers

    total, counts = 0, {}
    for path, layer in iter_layers(model):
        if is_model(layer):
            continue
        kernels = [w for w in layer.weights if len(w.shape) >= 2]
        if kernels:
            total += _spatial_size(layer) * sum(int(np.prod(w.shape)) for w in kernels)
        counts[path] = total
    return counts


def _input_shape(model) -> tuple:
    """The shape of one input the compiled steps take: channels last for image models, whatever their layout."""
    from kerasviz.core.graph import model_input
    from kerasviz.core.inputs import expected_image_shape

    shape = tuple(model_input(model).shape[1:])
    if len(shape) == 3:
        shape = tuple(expected_image_shape(model))
    return tuple(d if d is not None else 128 for d in shape)


def _output_sum(outputs):
    """The score of a model without class scores (its output is a feature map): the output summed per image."""
    import tensorflow as tf

    return tf.reduce_sum(tf.reshape(tf.cast(outputs, tf.float32), (tf.shape(outputs)[0], -1)), axis=1)


def _timing_step(model):
    """The cached gradient step of `model` for timing: `step(x)[0]` is the input gradient.

    A classifier gets the step saliency, SmoothGrad and IG use, so its tracing
    is not wasted. A model whose output is a feature map (a convolutional base,
    `include_top=False`) has no class score: the backward pass starts from the
    sum of its output, which costs the same.
    """
    from kerasviz.core.gradients import gradient_step

    first = tuple(model.outputs[0].shape)
    return (
        gradient_step(model) if len(first) == 2 and first[-1] is not None else gradient_step(model, score=_output_sum)
    )


def measure_timing(model, batch: int = 1) -> ModelTiming:
    """Measure `ModelTiming` now: the cached gradient step, traced, then run once more.

    Per-image times hardly depend on the batch size on a CPU (measured on
    VGG16 from 1 to 16 images), so one image is measured. A forward pass is
    taken as `FORWARD_SHARE` of a forward + backward pass until `record`
    corrects it with a measured run (this saves tracing a second step).
    """
    shape = _input_shape(model)
    x = np.zeros((batch,) + shape, np.float32)
    step = _timing_step(model)
    runs = []
    for _ in range(2):  # the first call traces (or reuses) the compiled step
        start = time.perf_counter()
        np.asarray(step(x)[0])
        runs.append(time.perf_counter() - start)
    warm = runs[1] / batch
    counts = multiply_adds(model)
    total = max(counts.values(), default=0) or 1
    pixels = int(shape[0] * shape[1]) if len(shape) == 3 else 1  # H x W of an image input
    return ModelTiming(
        forward=FORWARD_SHARE * warm,
        gradient=warm,
        trace=max(runs[0] - runs[1], 0.0),
        input_pixels=pixels,
        depth={path: count / total for path, count in counts.items()},
    )


def model_timing(model) -> ModelTiming:
    """The model's `ModelTiming`, measured on first use and cached with the model."""
    from kerasviz.core.graph import cache

    return cache.get(model, ("widget_timing",), lambda: measure_timing(model))


def layer_share(model, layer) -> float:
    """The share of a full pass spent up to `layer` (a name, path, index or layer; None: the whole model)."""
    if layer is None:
        return 1.0
    if not isinstance(layer, str):
        from kerasviz.core.layers import find_layer, layer_path

        layer = layer_path(model, find_layer(model, layer))
    return model_timing(model).layer_fraction(layer)


def estimate(
    model,
    kind: str,
    passes: float,
    what: str = "",
    *,
    unit: str | None = None,
    pixels: float | None = None,
    traced: bool = True,
) -> Cost:
    """The cost of `passes` passes of one image for work of `kind` on `model`.

    Args:
        model: the Keras model the work runs on (its timing is measured on first use).
        kind: what the work is ("gradient", "forward", "featurevis", "lrp", "scan", ...): each kind
            learns its own correction and tracing time from `record`.
        passes: how many passes of one image, in units of `unit` (fractions allowed: a pass up to a
            layer halfway through the model is 0.5).
        what: a description shown with the estimate.
        unit: the measured step the passes are counted in, "forward" or "gradient" (default:
            "forward" for kind "forward", else "gradient").
        pixels: H * W the work runs at (default: the model's input size).
        traced: False adds the kind's tracing time (a first run).

    Returns:
        `Cost`.
    """
    t = model_timing(model)
    unit = unit or ("forward" if kind == "forward" else "gradient")
    step = t.forward if unit == "forward" else t.gradient
    scale = 1.0 if pixels is None else float(pixels) / max(t.input_pixels, 1)
    seconds = passes * step * scale * t.ratios.get(kind, 1.0)
    if not traced:
        seconds += t.traces.get(kind, t.trace_prior(kind))
    return Cost(float(seconds), what)


def record(model, kind: str, cost: Cost, seconds: float, traced: bool = True) -> None:
    """Correct later `kind` estimates on `model`: work estimated at `cost` (tracing excluded) took `seconds`.

    A warm run (`traced=True`) corrects the ratio of measured to estimated time
    (kept within 0.1x to 10x); a first run teaches the tracing time (at most
    twice the prior guess, so an underestimated computation is not all taken
    for tracing).
    """
    t = model_timing(model)
    if traced:
        old = t.ratios.get(kind, 1.0)
        if cost.seconds > 0.05 and seconds > 0:
            raw = cost.seconds / old  # the uncorrected estimate
            t.ratios[kind] = float(np.clip(seconds / raw, 0.1, 10.0))
    else:
        t.traces[kind] = float(np.clip(seconds - cost.seconds, 0.0, 2 * t.trace_prior(kind)))


@dataclass(frozen=True)
class Work:
    """A count of passes of one kind: what a method, widget interaction or report section will run.

    Attributes:
        kind: the kind of work (see `estimate`).
        passes: passes of one image in units of `unit`.
        what: a description ("RISE: 4,000 masks").
        unit: "forward" or "gradient" (default from `kind`, as `estimate`).
        pixels: H * W the work runs at (None: the model's input size).
    """

    kind: str
    passes: float
    what: str = ""
    unit: str | None = None
    pixels: float | None = None

    def cost(self, model, traced: bool = True) -> Cost:
        """The estimated `Cost` on `model` (plus the kind's tracing time if not `traced`)."""
        return estimate(model, self.kind, self.passes, self.what, unit=self.unit, pixels=self.pixels, traced=traced)

    def __mul__(self, factor: float) -> Work:
        return Work(self.kind, self.passes * factor, self.what, self.unit, self.pixels)


__all__ = [
    "Cost",
    "ModelTiming",
    "Work",
    "estimate",
    "record",
    "model_timing",
    "measure_timing",
    "multiply_adds",
    "layer_share",
    "FORWARD_SHARE",
]
