"""How long feature visualization will take, before running it, on the one cost model (`core.cost`).

Per image and step, a feature-visualization step costs a fixed part (the
Fourier image, the transforms, Adam: `FEATUREVIS_BASE` of a forward + backward
pass) plus `FEATUREVIS_OVERHEAD` times the layer's share of the model's
multiply-adds, both at the optimised size and in units of the model's measured
forward + backward pass (`core.cost.model_timing`); the "featurevis" kind of
work learns its correction and its tracing time from the runs `record`-ed on
the model (the Explorer's feature-visualization widget records every run).
`featurevis_work` gives that count, `featurevis_cost` its `Cost`, and
`estimate_seconds` the seconds of a `visualize_filters` call.

`forward_macs` and `seconds_per_mac` (multiply-adds of the rebuilt graph and
this machine's time per multiply-add in float32 and bfloat16) give the
bfloat16 speed-up applied to the convolution part of a step.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.cost import Cost, Work, layer_share
from kerasviz.core.graph import cache, tap_model
from kerasviz.core.inputs import expected_image_shape
from kerasviz.core.layers import LayerSpec, is_conv
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.validate import check_indices
from kerasviz.featurevis import settings as S

# Feature visualization, per image and step, in forward + backward passes at the optimised size:
# FEATUREVIS_BASE (the parameterization, transforms and Adam) + FEATUREVIS_OVERHEAD x the layer's
# share of the model's multiply-adds (fitted on VGG16, block1 to block5 at 128 px).
FEATUREVIS_BASE = 0.06
FEATUREVIS_OVERHEAD = 2.2
# In bfloat16 the convolution part of a step (_CONV) runs at the measured bfloat16 pace and the rest
# (_OTHER: parameterization, warp, penalties, Adam) stays float32 (fitted to 16 VGG16 block3_conv1
# filters at 96 px in both precisions).
_CONV, _OTHER = 2.0, 0.5


def _layer_macs(op, args, out) -> float:
    """Multiply-adds of one call of `op` (convolutions and dense layers; other layers count as free)."""
    try:
        in_shape = tuple(args[0].shape)
        out_shape = tuple(out.shape)
    except (AttributeError, IndexError):
        return 0.0
    if None in in_shape[1:] or None in out_shape[1:]:
        return 0.0
    name = type(op).__name__
    if isinstance(op, keras.layers.Dense):
        return float(np.prod(in_shape[1:-1] or (1,))) * in_shape[-1] * op.units
    if not is_conv(op) and "Conv" not in name:
        return 0.0
    kernel = float(np.prod(op.kernel_size))
    spatial_out = float(np.prod(out_shape[1:-1]))
    if name.startswith("DepthwiseConv"):
        return spatial_out * kernel * in_shape[-1] * op.depth_multiplier
    if name.startswith("SeparableConv"):
        middle = in_shape[-1] * op.depth_multiplier
        return spatial_out * (kernel * middle + middle * out_shape[-1])
    if "Transpose" in name:
        return float(np.prod(in_shape[1:-1])) * kernel * in_shape[-1] * out_shape[-1]
    return spatial_out * kernel * in_shape[-1] / max(1, getattr(op, "groups", 1)) * out_shape[-1]


def forward_macs(model: keras.Model, layer: LayerSpec | None, size: tuple) -> tuple[float, float]:
    """`(total, last)`: multiply-adds of one image's forward pass up to `layer` (None: the whole model) at `size`,
    and those of `layer` itself."""
    key = ("forward_macs", layer if not isinstance(layer, keras.layers.Layer) else id(layer), tuple(size))

    def count():
        tap, keys = tap_model(model, [] if layer is None else [layer], include_output=layer is None)
        *fixed, channels = expected_image_shape(model)  # the taps take channels-last images
        fixed = tuple(fixed)
        hw = fixed if None not in fixed else tuple(size)
        totals = {"all": 0.0, "last": 0.0}
        target = None if layer is None else tap.output[keys[0]]._keras_history.operation

        def operation_fn(op):
            def run(*args, **kwargs):
                out = op.compute_output_spec(*args, **kwargs)
                macs = _layer_macs(op, args, out)
                totals["all"] += macs
                if op is target:
                    totals["last"] = macs
                return out

            return run

        tap._run_through_graph(keras.KerasTensor((1,) + hw + (channels,)), operation_fn=operation_fn)
        return totals["all"], totals["last"]

    return cache.get(model, key, count)


@functools.cache
def _calibration() -> dict:
    """Seconds per multiply-add of a convolution's forward + input gradient, per dtype, timed interleaved."""
    kernel = tf.random.stateless_normal((3, 3, 64, 64), seed=(0, 1), dtype=tf.float32)
    x = tf.random.stateless_normal((4, 56, 56, 64), seed=(0, 2))

    def make(dtype):
        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.nn.conv2d(tf.cast(x, dtype), tf.cast(kernel, dtype), 1, "SAME")
                total = tf.reduce_sum(tf.cast(y, tf.float32))
            return tape.gradient(total, x)

        return step

    steps = {dtype: make(dtype) for dtype in ("float32", "bfloat16")}
    for step in steps.values():
        step(x).numpy()
    best = {dtype: float("inf") for dtype in steps}
    for _ in range(4):  # interleaved, so a busy moment hits both
        for dtype, step in steps.items():
            start = time.perf_counter()
            step(x).numpy()
            best[dtype] = min(best[dtype], time.perf_counter() - start)
    macs = 2.0 * 4 * 56 * 56 * 9 * 64 * 64  # forward and input gradient: two convolutions
    return {dtype: seconds / macs for dtype, seconds in best.items()}


def seconds_per_mac(dtype: str) -> float:
    """This machine's measured seconds per multiply-add of a convolution's forward + input gradient in `dtype`
    ("float32" or "bfloat16"; measured once per process, about a second)."""
    return _calibration()[dtype]


def bfloat16_speed() -> float:
    """A bfloat16 feature-visualization step's time / a float32 step's (this machine, measured once)."""
    f32, b16 = seconds_per_mac("float32"), seconds_per_mac("bfloat16")
    return (_CONV * b16 + _OTHER * f32) / ((_CONV + _OTHER) * f32)


def featurevis_work(
    model: keras.Model,
    layer: LayerSpec | None,
    count: int,
    steps: int,
    size: tuple,
    *,
    octaves: int = 1,
    octave_scale: float = 1.4,
) -> Work:
    """The "featurevis" `Work` of optimising `count` images on `layer` (None: the whole model) for `steps`
    steps at `size` (split over `octaves` as `visualize_filters` does)."""
    from kerasviz.featurevis.loop import octave_plan

    share = layer_share(model, layer)
    per_pixel = FEATUREVIS_BASE + FEATUREVIS_OVERHEAD * share
    pixel_steps = sum(h * w * n for (h, w), n in octave_plan(tuple(size), int(steps), octaves, octave_scale))
    name = (
        "the model's output" if layer is None else (layer if isinstance(layer, str) else getattr(layer, "name", layer))
    )
    what = f"{count} filter(s) x {steps} steps on {name} at {size[0]} px"
    # `pixels` is the image size the passes run at; the steps at every octave are counted at `size`
    total = size[0] * size[1]
    return Work("featurevis", count * per_pixel * pixel_steps / max(total, 1), what, unit="gradient", pixels=total)


def featurevis_cost(
    model: keras.Model,
    layer: LayerSpec | None,
    filters,
    steps: int,
    size: tuple,
    *,
    traced: bool = True,
    precision: str = "float32",
    octaves: int = 1,
    octave_scale: float = 1.4,
) -> Cost:
    """The `Cost` of optimising `filters` (indices, or a count) on `layer` for `steps` steps at `size`.

    `traced=False` adds the tracing of a first run; `precision` "bfloat16" scales
    by `bfloat16_speed()` (measured once per process).
    """
    count = filters if isinstance(filters, int) else len(list(filters))
    work = featurevis_work(model, layer, count, steps, size, octaves=octaves, octave_scale=octave_scale)
    cost = work.cost(model, traced=traced)
    if precision == "bfloat16":
        warm = work.cost(model).seconds
        cost = Cost(cost.seconds - warm + warm * bfloat16_speed(), cost.what + " in bfloat16")
    return cost


def estimate_seconds(
    model: keras.Model,
    layer: LayerSpec | None = None,
    filters: Sequence[int] | None = None,
    *,
    steps: int | None = None,
    size=None,
    precision: str = "auto",
    octaves: int = 1,
    octave_scale: float = 1.4,
) -> float:
    """About how many seconds `visualize_filters` (or `visualize_classes` with `layer=None`) will compute.

    Counted passes x this machine's measured step time (`kerasviz.core.cost`):
    per image and step, the parameterization and warp plus a pass up to the
    layer, at the optimised size; corrected by the feature-visualization runs
    already recorded on the model (the Explorer records its runs). Tracing a
    new setting's step (a few seconds) is not included. The first call on a
    model measures its forward + backward pass (tracing the gradient step
    saliency uses: a few seconds on VGG16); in bfloat16 the first call in a
    process also times a small convolution in both precisions (about a second).

    Args:
        model: a Keras image model.
        layer: the visualised layer, or None for class visualization (the whole model).
        filters: the filters (default all of the layer's); for classes, the
            number of classes is `len(filters)`.
        steps, size, precision, octaves, octave_scale: as in `visualize_filters`.

    Returns:
        Estimated seconds (float).

    Example:
        >>> kv.estimate_seconds(vgg, "block5_conv3", range(8), steps=128, size=96)
        41.3
    """
    from kerasviz.featurevis.visualize import DEFAULT_STEPS

    S.check_model(model)
    steps = S.check_steps(steps, DEFAULT_STEPS)
    size = S.default_size(model) if size is None else S.check_size(size)
    octaves, octave_scale = S.check_octaves(octaves, octave_scale, size)
    dtype = resolve_precision(check_precision(precision), model)
    if layer is None:
        count = len(check_indices(filters, "filters", size=2**31 - 1, allow_none=False))
    else:
        found = S.check_layer(model, layer)
        count = len(check_indices(filters, "filters", size=int(found.output.shape[-1])))
    cost = featurevis_cost(
        model, layer, count, steps, tuple(size), precision=dtype, octaves=octaves, octave_scale=octave_scale
    )
    return float(cost.seconds)


__all__ = [
    "estimate_seconds",
    "featurevis_cost",
    "featurevis_work",
    "forward_macs",
    "seconds_per_mac",
    "bfloat16_speed",
    "FEATUREVIS_BASE",
    "FEATUREVIS_OVERHEAD",
]
