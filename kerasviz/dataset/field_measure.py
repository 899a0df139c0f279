"""Receptive fields measured from the input gradient, for layers the geometric trace cannot follow.

An output unit's field is the set of input pixels its value depends on: where
its input gradient can be nonzero. Upsampling, resizing or reshaping layers
break the size/stride/offset recursion of `receptive_field`, but not this
definition. The field of every output row is measured on the unit at that row
and the middle column, and that of every column on the middle row (fields of
convolution / pooling / resampling stacks are products of a row interval and
a column interval): h + w gradients, batched, on two probe images, with the
channels combined by random weights so that no channel is left out.

The measured windows are clipped to the image; they are extended back to a
common size (the largest measured one) the way a traced field sticks out of
the image at the borders. Max pooling and ReLUs route the gradient of one
probe through part of the field only, so a measured field can be slightly
smaller than the exact one.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.inputs import expected_image_shape
from kerasviz.dataset.features import taps

_UNITS_PER_CALL = 16


def _gradient_support(model, layer):
    """Compiled `(x, rows, cols, weights) -> (B, H, W)` |d unit / d x| summed over channels (cached)."""

    def build():
        fx = taps(model, [layer], pre_activation=True, float32=True)
        key = next(iter(fx.output))

        def support(x, rows, cols, weights):
            with tf.GradientTape() as tape:
                tape.watch(x)
                a = tf.cast(fx(x, training=False)[key], tf.float32)
                index = tf.stack([tf.range(tf.shape(x)[0]), rows, cols], axis=1)
                score = tf.reduce_sum(tf.gather_nd(a, index) * weights[None])
            return tf.reduce_sum(tf.abs(tape.gradient(score, x)), axis=-1)

        return fx, key, compile_function(support)

    return cache.get(model, ("field_measure", id(layer)), build)


def _intervals(masks: np.ndarray, axis: int) -> list:
    """`[low, high)` of the nonzero rows (axis 0) or columns (axis 1) of each `(H, W)` mask; None if empty."""
    out = []
    for mask in masks:
        hit = np.flatnonzero(mask.any(axis=1 - axis))
        out.append(None if len(hit) == 0 else (int(hit[0]), int(hit[-1]) + 1))
    return out


def _extend(intervals: list, n_in: int, size: int) -> list:
    """Clipped `[low, high)` windows widened to `size`: outward at the image border, evenly inside."""
    out = []
    for low, high in intervals:
        missing = size - (high - low)
        if missing > 0:
            if low == 0 and high < n_in:
                low = high - size
            elif high == n_in and low > 0:
                high = low + size
            else:
                low -= missing // 2
                high = low + size
        out.append((low, high))
    return out


def _affine(intervals: list) -> tuple:
    """`(jump, start)` of the windows when they slide by a constant step, else the mean step and the first low."""
    lows = np.array([low for low, _ in intervals])
    if len(lows) < 2:
        return 1, int(lows[0])
    steps = np.diff(lows)
    jump = int(steps[0]) if np.all(steps == steps[0]) else int(round(float(steps.mean())))
    return max(jump, 0), int(lows[0])


def measured_field(model, layer, input_size: tuple, *, probes=None, seed: int = 0):
    """The `ReceptiveField` of `layer` measured from input-gradient supports, or None if it cannot be.

    Args:
        model: the user's model (unchanged).
        layer: the Layer object, with a 4-D output.
        input_size: `(H, W)` of the images.
        probes: up to two images `(n, H, W, C)` to measure on (default random normal ones).
        seed: seed of the random probes and channel weights (global random state untouched).

    Returns:
        A `ReceptiveField` with `method="gradient"` and per-position windows
        (`rows`, `cols`), or None when some unit has no gradient at all.
    """
    from kerasviz.dataset.receptive_field import ReceptiveField

    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in input_size)
    channels = expected_image_shape(model)[-1]
    if probes is None:
        probes = rng.normal(size=(2, height, width, channels)).astype(np.float32)
    probes = tf.convert_to_tensor(np.asarray(probes, np.float32)[:2])
    fx, key, support = _gradient_support(model, layer)
    out_shape = fx(probes[:1], training=False)[key].shape
    if len(out_shape) != 4:
        return None
    h, w, filters = (int(v) for v in out_shape[1:])
    weights = tf.constant(rng.normal(size=filters).astype(np.float32))
    units = [(r, w // 2) for r in range(h)] + [(h // 2, c) for c in range(w)]
    masks = []
    n_probes = int(probes.shape[0])
    for start in range(0, len(units), _UNITS_PER_CALL):
        chunk = units[start : start + _UNITS_PER_CALL]
        x = tf.repeat(probes, len(chunk), axis=0)  # probe-major: [p0 u0, p0 u1, ..., p1 u0, ...]
        rows = tf.constant([r for _ in range(n_probes) for r, _ in chunk], tf.int32)
        cols = tf.constant([c for _ in range(n_probes) for _, c in chunk], tf.int32)
        grads = support(x, rows, cols, weights).numpy().reshape(n_probes, len(chunk), height, width)
        masks.extend(list((grads > 0).any(axis=0)))
    row_windows = _intervals(masks[:h], axis=0)
    col_windows = _intervals(masks[h:], axis=1)
    if any(window is None for window in row_windows + col_windows):
        return None
    size_h = max(b - a for a, b in row_windows)
    size_w = max(b - a for a, b in col_windows)
    row_windows, col_windows = _extend(row_windows, height, size_h), _extend(col_windows, width, size_w)
    (jump_h, start_h), (jump_w, start_w) = _affine(row_windows), _affine(col_windows)
    return ReceptiveField(
        size=(size_h, size_w),
        jump=(jump_h, jump_w),
        start=(start_h, start_w),
        input_size=(height, width),
        output_size=(h, w),
        method="gradient",
        rows=tuple(row_windows),
        cols=tuple(col_windows),
    )
