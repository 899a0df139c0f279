"""Integrated gradients (Sundararajan, Taly & Yan 2017).

`IG(x) = (x - x') * int_0^1 grad S(x' + a (x - x')) da`, whose sum over pixels
equals `S(x) - S(x')` (completeness). The integral is a quadrature over path
points; all points of all images (and all baselines) are streamed in
fixed-size chunks through ONE compiled gradient step, and the target is
resolved once, at x. The completeness gap is returned per image and a warning
is raised above 5 %: raise `steps` or use "gausslegendre"/"midpoint", which
converge much faster than Riemann sums on ReLU networks (research notes §3.4).

We interpolate and differentiate in the same space, the model's input space
(the keras-io example interpolates raw pixels but differentiates after
preprocessing, and its sums are off by 1/127.5).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution._common import (
    accumulate_gradients, finish, gaussian_blur, prepare, reduce_channels, resolve_targets, step_for,
)
from kerasviz.core.gradients import forward_scores
from kerasviz.core.targets import Target

METHODS = ("riemann_left", "riemann_right", "riemann_middle", "midpoint", "trapezoid", "gausslegendre")
BASELINES = ("black", "zero", "blur", "uniform")
DEFAULT_STEPS = 50
WARN_ABOVE = 0.05


def quadrature(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Path points `alphas` in [0, 1] and weights summing to 1 for `steps` intervals.

    "trapezoid" uses `steps + 1` points; every other rule uses `steps`.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    m = steps
    if method == "riemann_left":
        alphas, weights = np.arange(m) / m, np.full(m, 1 / m)
    elif method == "riemann_right":
        alphas, weights = np.arange(1, m + 1) / m, np.full(m, 1 / m)
    elif method in ("midpoint", "riemann_middle"):
        alphas, weights = (np.arange(m) + 0.5) / m, np.full(m, 1 / m)
    elif method == "trapezoid":
        alphas, weights = np.arange(m + 1) / m, np.full(m + 1, 1 / m)
        weights[[0, -1]] = 0.5 / m
    elif method == "gausslegendre":
        nodes, w = np.polynomial.legendre.leggauss(m)
        alphas, weights = (nodes + 1) / 2, w / 2
    else:
        raise ValueError(f"Unknown method {method!r}; choose from {METHODS}.")
    return alphas.astype(np.float32), weights.astype(np.float32)


def make_baselines(x: tf.Tensor, baseline, n_baselines: int = 1, *, blur_sigma: Optional[float] = None, seed: int = 0) -> tf.Tensor:
    """Baselines `(N, B, H, W, C)` for images `x` `(N, H, W, C)`.

    Args:
        baseline: None/"black"/"zero" (zeros in the model's input space),
            "blur" (Gaussian blur of x), "uniform" (uniform noise over each
            image's value range, `n_baselines` draws averaged), a number (a
            constant image), or an array `(H, W, C)`, `(N, H, W, C)` or
            `(N, B, H, W, C)`.
    """
    n, h, w, c = x.shape
    if baseline is None or (isinstance(baseline, str) and baseline in ("black", "zero")):
        return tf.zeros((n, 1, h, w, c))
    if isinstance(baseline, str) and baseline == "blur":
        return gaussian_blur(x, blur_sigma if blur_sigma is not None else max(h, w) / 16)[:, None]
    if isinstance(baseline, str) and baseline == "uniform":
        flat = tf.reshape(x, (n, -1))
        low, high = tf.reduce_min(flat, 1), tf.reduce_max(flat, 1)
        u = tf.stack([tf.random.stateless_uniform((h, w, c), seed=[seed, b]) for b in range(n_baselines)])
        return low[:, None, None, None, None] + (high - low)[:, None, None, None, None] * u[None]
    if isinstance(baseline, str):
        raise ValueError(f"Unknown baseline {baseline!r}; choose from {BASELINES}, a number or an array.")
    array = tf.convert_to_tensor(np.asarray(baseline, np.float32))
    if array.shape.rank == 0:
        return tf.fill((n, 1, h, w, c), array)
    if tuple(array.shape) == (h, w, c):
        return tf.tile(array[None, None], (n, 1, 1, 1, 1))
    if tuple(array.shape) == (n, h, w, c):
        return array[:, None]
    if array.shape.rank == 5 and tuple(array.shape[0:1]) + tuple(array.shape[2:]) == (n, h, w, c):
        return array
    raise ValueError(f"baseline of shape {tuple(array.shape)} does not fit images {(n, h, w, c)}.")


@dataclass
class IntegratedGradients:
    """Result of `kv.integrated_gradients` (behaves as the attribution array).

    Attributes:
        attributions: `(N, H, W, C)` signed (or `(N, H, W)` when reduced).
        convergence_error: `(N,)` relative completeness gap
            `|sum IG - (S(x) - S(x'))| / |S(x) - S(x')|`.
        delta: `(N,)` `S(x) - S(x')` (averaged over baselines).
        scores: `(N,)` `S(x)`; `targets`: `(N,)` classes explained (-1: callable).
        baselines: `(N, B, H, W, C)` the baselines used.
    """

    attributions: np.ndarray
    convergence_error: np.ndarray
    delta: np.ndarray
    scores: np.ndarray
    targets: np.ndarray
    baselines: np.ndarray

    def __array__(self, dtype=None, copy=None):
        return self.attributions if dtype is None else self.attributions.astype(dtype)

    @property
    def shape(self):
        return self.attributions.shape

    def __getitem__(self, index):
        return self.attributions[index]


def integrated_gradients(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    baseline: Union[None, str, float, np.ndarray] = None,
    steps: Optional[int] = None,
    method: str = "gausslegendre",
    n_baselines: int = 1,
    blur_sigma: Optional[float] = None,
    reduce: Optional[str] = None,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
) -> IntegratedGradients:
    """Integrated gradients along the straight path from a baseline to each image.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on x, fixed along the path), an int, a
            list of ints, or a callable `score(outputs) -> (N,)`.
        baseline: None/"black"/"zero", "blur", "uniform", a number, or an
            array (see `make_baselines`). Zero is black only for [0, 1] or
            [0, 255] inputs; for caffe-preprocessed VGG16 pass
            `kv.preprocess(np.zeros((224, 224, 3)))`.
        steps: quadrature intervals (default 50; capped in quick mode when not
            given). 128 midpoint/Gauss-Legendre steps reach < 1 % on ReLU CNNs.
        method: "gausslegendre", "midpoint" (= "riemann_middle"),
            "riemann_left", "riemann_right" or "trapezoid".
        n_baselines: random baselines averaged (expected-gradients style) for
            `baseline="uniform"`.
        blur_sigma: Gaussian sigma in pixels for `baseline="blur"` (default
            side / 16).
        reduce: None keeps channels; "sum", "sum_abs", "max_abs", "mean", "l2".
        seed: seed of random baselines.
        batch_size: path points per compiled call (bounds memory).
        progress: show a progress bar.

    Returns:
        `IntegratedGradients` (use `.attributions`, or the result itself as an
        array; `np.asarray(result)`), with `.convergence_error` per image.

    Warns:
        UserWarning: when a convergence error exceeds 5 %.

    Example:
        >>> ig = kv.integrated_gradients(model, images, steps=128, method="midpoint")
        >>> ig.attributions.sum(axis=(1, 2, 3))  # ~ ig.delta
    """
    steps = max_steps(DEFAULT_STEPS, quick=16) if steps is None else int(steps)
    alphas, weights = quadrature(method, steps)
    x, single, targets = prepare(model, images, target)
    scores, targets = resolve_targets(model, x, targets)
    n = len(x)
    bases = make_baselines(x, baseline, n_baselines, blur_sigma=blur_sigma, seed=seed)
    n_base = bases.shape[1]
    flat_bases = tf.reshape(bases, (-1,) + tuple(x.shape[1:]))
    base_image = np.repeat(np.arange(n), n_base)  # image of each (image, baseline) segment
    # rows enumerate (segment, path point), segment-major
    segments = np.repeat(np.arange(n * n_base), len(alphas))
    point = np.tile(np.arange(len(alphas)), n * n_base)

    def make_rows(rows):
        seg = segments[rows]
        start = tf.gather(flat_bases, seg)
        a = tf.reshape(tf.constant(alphas[point[rows]]), (-1, 1, 1, 1))
        return start + a * (tf.gather(x, base_image[seg]) - start)

    step = step_for(model, targets)
    seg_targets = targets if callable(targets) else targets[base_image]
    path_grads = accumulate_gradients(
        step, make_rows, segments, weights[point], n * n_base, seg_targets,
        batch_size=batch_size, progress=progress, desc="integrated gradients",
    )
    x_rep = tf.gather(x, base_image).numpy()
    per_base = (x_rep - flat_bases.numpy()) * path_grads
    attributions = per_base.reshape((n, n_base) + tuple(x.shape[1:])).mean(1)

    base_scores, _ = forward_scores(model, flat_bases, seg_targets)
    delta = scores - base_scores.reshape(n, n_base).mean(1)
    error = np.abs(attributions.reshape(n, -1).sum(1) - delta) / np.maximum(np.abs(delta), 1e-12)
    if (error > WARN_ABOVE).any():
        warnings.warn(
            f"Integrated gradients: completeness error up to {error.max():.1%} (> {WARN_ABOVE:.0%}) with "
            f"{steps} steps of {method!r}; raise `steps` or use method='gausslegendre' or 'midpoint'.",
            stacklevel=2,
        )
    targets_out = np.full(n, -1, np.int32) if callable(targets) else targets
    return IntegratedGradients(
        attributions=finish(reduce_channels(attributions, reduce), single),
        convergence_error=finish(error, single), delta=finish(delta, single), scores=finish(scores, single),
        targets=targets_out[0] if single else targets_out, baselines=bases.numpy(),
    )
