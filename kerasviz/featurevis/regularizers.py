"""Regularizers: per-image penalties `(B,)` on RGB images in [0, 1], subtracted from the score.

Frequency penalties keep optimised images from drifting into high-frequency
patterns (total variation, blur); an Lp norm keeps values in range. Each is a
`Regularizer(weight, every)`: `every=k` applies it only on every k-th step
(Yosinski et al. blur every 4 steps), decided in the graph so the step count
never retraces anything.
"""

from __future__ import annotations

import tensorflow as tf


def _power(x: tf.Tensor, p: float) -> tf.Tensor:
    """`x ** p` for `x >= 0`, by multiplications for small integer powers (`tf.pow` costs an exp and a log)."""
    if p == 1:
        return x
    if float(p).is_integer() and 2 <= p <= 8:
        square = tf.square(x)
        result = square if p % 2 == 0 else square * x
        for _ in range(int(p) // 2 - 1):
            result = result * square
        return result
    return tf.pow(x, p)


def total_variation(images: tf.Tensor, beta: float = 1.0, eps: float = 1e-8) -> tf.Tensor:
    """Mean over pixels of `((x[i,j+1]-x[i,j])² + (x[i+1,j]-x[i,j])²)^(beta/2)`, per image `(B,)`.

    `beta=2` is Mahendran & Vedaldi's smoother TV^β; `beta=1` is classic
    (isotropic) total variation.
    """
    dx = images[:, :-1, 1:, :] - images[:, :-1, :-1, :]
    dy = images[:, 1:, :-1, :] - images[:, :-1, :-1, :]
    squared = tf.square(dx) + tf.square(dy)
    if beta == 2:
        values = squared
    elif beta == 1:
        values = tf.sqrt(squared + eps)
    else:
        values = tf.pow(squared + eps, beta / 2.0)
    return tf.reduce_mean(values, axis=(1, 2, 3))


def lp_norm(images: tf.Tensor, p: float = 6.0, centre: float = 0.5) -> tf.Tensor:
    """Mean of `|2 (x - centre)|^p` per image `(B,)`: near 0 inside the range, steep outside."""
    return tf.reduce_mean(_power(tf.abs(2.0 * (images - centre)) + 1e-12, p), axis=(1, 2, 3))


def blur3x3(images: tf.Tensor) -> tf.Tensor:
    """A 3x3 binomial blur of each channel (edges replicated)."""
    k = tf.constant([1.0, 2.0, 1.0]) / 4.0
    kernel = tf.tile(tf.reshape(k[:, None] * k[None, :], (3, 3, 1, 1)), (1, 1, tf.shape(images)[-1], 1))
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")


def blur_penalty(images: tf.Tensor) -> tf.Tensor:
    """`0.5 Σ (x - stop_gradient(blur(x)))²` per image: a gradient step on it blurs x (Nguyen 2015)."""
    return 0.5 * tf.reduce_sum(tf.square(images - tf.stop_gradient(blur3x3(images))), axis=(1, 2, 3))


class Regularizer:
    """A weighted penalty, optionally applied only every k-th step.

    Args:
        fn: `images (B, H, W, 3) -> (B,)`.
        weight: multiplier.
        every: apply on steps where `step % every == 0`.
        name: for display.
    """

    def __init__(self, fn, weight: float, every: int = 1, name: str = ""):
        self.fn, self.weight, self.every, self.name = fn, float(weight), max(1, int(every)), name or fn.__name__

    @property
    def key(self) -> tuple:
        return (self.name, self.weight, self.every)

    def __call__(self, images: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        active = tf.cast(tf.equal(tf.math.floormod(step, self.every), 0), tf.float32)
        return active * self.weight * self.fn(images)


def TV(weight: float = 0.05, beta: float = 1.0) -> Regularizer:  # noqa: N802 - reads like a constructor
    """Total-variation penalty (see `total_variation`)."""
    return Regularizer(lambda x: total_variation(x, beta), weight, name=f"TV(β={beta:g})")


def Lp(weight: float = 0.05, p: float = 6.0) -> Regularizer:  # noqa: N802
    """Lp-norm penalty (see `lp_norm`)."""
    return Regularizer(lambda x: lp_norm(x, p), weight, name=f"L{p:g}")


def Blur(weight: float = 1.0, every: int = 4) -> Regularizer:  # noqa: N802
    """Blur every `every` steps (Yosinski et al.'s θ_b_every=4)."""
    return Regularizer(blur_penalty, weight, every, name="blur")
