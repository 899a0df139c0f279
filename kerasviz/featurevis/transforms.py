"""Transformation robustness on the device: jitter, scale and rotate as one warp.

An image that excites a unit only at one exact pixel alignment is an
adversarial pattern, not a feature. Lucid shifts, scales and rotates the image
randomly at every step. Here each transform contributes a 3x3 affine matrix,
the matrices compose, and ONE `ImageProjectiveTransformV3` warps the batch on
the device, with grey (0.5) filling what comes in from outside: the effect of
Lucid's pad-then-crop without changing the size, and no scipy round trip
(tf-keras-vis rotates with scipy on the host at every step).

Randomness is per element: element i at step t draws from a seed made of
(global seed, element id, t), so a filter's image is the same alone or in a
batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf


class Transform:
    """A random affine map; `matrix(u, h, w)` turns uniforms `(B, draws)` into `(B, 3, 3)`.

    The matrix maps output pixel coordinates (x, y, 1) to input coordinates.
    """

    draws = 1

    @property
    def key(self) -> tuple:
        return (type(self).__name__,) + tuple(
            np.asarray(v).tobytes() if isinstance(v, (list, tuple, np.ndarray)) else v for v in vars(self).values()
        )

    def matrix(self, u: tf.Tensor, height: int, width: int) -> tf.Tensor:
        raise NotImplementedError


def _choose(values, u: tf.Tensor) -> tf.Tensor:
    """values[floor(u * len)] for uniforms u in [0, 1)."""
    table = tf.constant(np.asarray(values, np.float32))
    index = tf.minimum(tf.cast(tf.floor(u * len(values)), tf.int32), len(values) - 1)
    return tf.gather(table, index)


def _affine(a, b, c, d, e, f) -> tf.Tensor:
    """Batch of matrices [[a, b, c], [d, e, f], [0, 0, 1]] from `(B,)` tensors."""
    zero, one = tf.zeros_like(a), tf.ones_like(a)
    return tf.reshape(tf.stack([a, b, c, d, e, f, zero, zero, one], axis=1), (-1, 3, 3))


def _about_centre(linear: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Conjugate a linear map `(B, 3, 3)` so it acts around the image centre."""
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    shift = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float32)
    unshift = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float32)
    return tf.matmul(tf.matmul(shift[None], linear), unshift[None])


class Jitter(Transform):
    """Shift by a random whole number of pixels in [-pixels, pixels] on each axis."""

    draws = 2

    def __init__(self, pixels: int):
        self.pixels = int(pixels)

    def matrix(self, u, height, width):
        shift = tf.floor(u * (2 * self.pixels + 1)) - self.pixels
        one, zero = tf.ones_like(u[:, 0]), tf.zeros_like(u[:, 0])
        return _affine(one, zero, shift[:, 0], zero, one, shift[:, 1])


class Scale(Transform):
    """Zoom around the centre by a factor drawn from `factors`."""

    def __init__(self, factors: Sequence[float]):
        self.factors = tuple(float(f) for f in factors)

    def matrix(self, u, height, width):
        inverse = 1.0 / _choose(self.factors, u[:, 0])
        zero = tf.zeros_like(inverse)
        return _about_centre(_affine(inverse, zero, zero, zero, inverse, zero), height, width)


class Rotate(Transform):
    """Rotate around the centre by an angle (degrees) drawn from `degrees`."""

    def __init__(self, degrees: Sequence[float]):
        self.degrees = tuple(float(d) for d in degrees)

    def matrix(self, u, height, width):
        angle = _choose(self.degrees, u[:, 0]) * (math.pi / 180.0)
        cos, sin = tf.cos(angle), tf.sin(angle)
        zero = tf.zeros_like(cos)
        return _about_centre(_affine(cos, -sin, zero, sin, cos, zero), height, width)


def standard_transforms(size: int = 128) -> list:
    """Lucid's `standard_transforms`, with jitter scaled to the image size (8 px at 128 px).

    Jitter 8, scale in {0.90, 0.92, ..., 1.10}, rotate -10..10 degrees (0
    over-weighted), jitter 4.
    """
    unit = max(1, round(size / 16))
    return [
        Jitter(unit),
        Scale([1 + (i - 5) / 50.0 for i in range(11)]),
        Rotate(list(range(-10, 11)) + 5 * [0]),
        Jitter(max(1, unit // 2)),
    ]


def step_uniforms(seeds: tf.Tensor, step: tf.Tensor, draws: int) -> tf.Tensor:
    """Uniforms `(B, draws)` in [0, 1), element i's drawn from (seeds[i], step) alone."""

    def one(seed):
        return tf.random.stateless_uniform([draws], seed=tf.random.experimental.stateless_fold_in(seed, step))

    return tf.map_fn(one, seeds, fn_output_signature=tf.float32)


def apply_transforms(
    images: tf.Tensor, transforms: Sequence[Transform], seeds: tf.Tensor, step: tf.Tensor
) -> tf.Tensor:
    """Warp `images` `(B, H, W, C)` by the composed random transforms (one warp, same size)."""
    if not transforms:
        return images
    height, width = int(images.shape[1]), int(images.shape[2])
    total = sum(t.draws for t in transforms)
    u = step_uniforms(seeds, step, total)
    matrix, start = None, 0
    for t in transforms:
        m = t.matrix(u[:, start : start + t.draws], height, width)
        matrix = m if matrix is None else tf.matmul(matrix, m)
        start += t.draws
    params = tf.reshape(matrix, (-1, 9))[:, :8]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=params,
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=tf.constant(0.5, tf.float32),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
