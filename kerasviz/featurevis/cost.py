"""A cost model for feature visualization: how long a call will take, before running it.

`estimate_seconds` counts the multiply-adds of one forward pass up to the
visualised layer at the requested size (from Keras' shape inference on the
rebuilt graph: no tracing, no model run), multiplies by the passes the call
makes (forward + input gradient per step and image) and by this machine's
measured time per multiply-add in the chosen precision (a small compiled
convolution timed once per process and precision). It answers in well under a
second after the first call, so a widget can show "about N s" before it starts
and choose fewer steps or a smaller size above a budget.
"""

from __future__ import annotations

import functools
import time
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.graph import cache, model_input, tap_model
from kerasviz.core.layers import LayerSpec, is_conv
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.validate import check_indices
from kerasviz.featurevis import settings as S

# Time per step = convolution multiply-adds x (_CONV x measured time per multiply-add in the compute
# precision + _OTHER x the float32 time): _CONV covers what runs at the convolutions' pace
# (activations, pooling, their gradients), _OTHER what stays float32 (parameterization, warp,
# penalties, Adam). Fitted to 16 VGG16 block3_conv1 filters at 96 px in both precisions; expect
# +-50 % on other layers and sizes, and more on a busy machine.
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


def forward_macs(model: keras.Model, layer: Optional[LayerSpec], size: tuple) -> tuple[float, float]:
    """`(total, last)`: multiply-adds of one image's forward pass up to `layer` (None: the whole model) at `size`,
    and those of `layer` itself."""
    key = ("forward_macs", layer if not isinstance(layer, keras.layers.Layer) else id(layer), tuple(size))

    def count():
        tap, keys = tap_model(model, [] if layer is None else [layer], include_output=layer is None)
        channels = int(model_input(model).shape[-1])
        fixed = tuple(model_input(model).shape[1:3])
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


@functools.lru_cache(maxsize=None)
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


def estimate_seconds(
    model: keras.Model,
    layer: Optional[LayerSpec] = None,
    filters: Optional[Sequence[int]] = None,
    *,
    steps: Optional[int] = None,
    size=None,
    precision: str = "auto",
    octaves: int = 1,
    octave_scale: float = 1.4,
) -> float:
    """About how many seconds `visualize_filters` (or `visualize_classes` with `layer=None`) will compute.

    Passes x measured time: each step runs one forward pass up to the layer
    and one input gradient per image (only each image's own filter of a Conv2D
    layer, as the loop does), plus the parameterization and warp. Compilation
    on the first call of a setting (a few seconds) is not included. The first
    call in a process times a small convolution (about half a second).

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
    from kerasviz.featurevis.loop import octave_plan
    from kerasviz.featurevis.visualize import DEFAULT_STEPS

    S.check_model(model)
    steps = S.check_steps(steps, DEFAULT_STEPS)
    size = S.default_size(model) if size is None else S.check_size(size)
    octaves, octave_scale = S.check_octaves(octaves, octave_scale, size)
    dtype = resolve_precision(check_precision(precision), model)
    if layer is None:
        count = len(check_indices(filters, "filters", size=2**31 - 1, allow_none=False))
        channels, sliced = 1, False
    else:
        found = S.check_layer(model, layer)
        channels = int(found.output.shape[-1])
        count = len(check_indices(filters, "filters", size=channels))
        sliced = type(found) is keras.layers.Conv2D
    per_step = 0.0
    for (height, width), octave_steps in octave_plan(size, steps, octaves, octave_scale):
        total, last = forward_macs(model, layer, (height, width))
        if sliced:  # one filter per image at the visualised Conv2D
            total -= last * (1 - 1 / channels)
        per_step += octave_steps * total
    seconds = 2.0 * per_step * count * (_CONV * seconds_per_mac(dtype) + _OTHER * seconds_per_mac("float32"))
    return float(seconds)


__all__ = ["estimate_seconds", "forward_macs", "seconds_per_mac"]
