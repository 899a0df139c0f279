"""Integrated gradients (Sundararajan, Taly & Yan 2017).

`IG(x) = (x - x') * int_0^1 grad S(x' + a (x - x')) da`, whose sum over pixels
equals `S(x) - S(x')` (completeness). The integral is a quadrature over path
points; all points of all images (and all baselines) are streamed in
fixed-size chunks through ONE compiled gradient step, and the target is
resolved once, at x. Path rows are numbered, not stored (row r is segment
r // points at point r % points), so memory is bounded by `path_batch_size`
whatever `steps` is.

The completeness gap is returned per image, relative to a meaningful scale
(`|S(x) - S(x')|`, but at least 1 % of the score magnitude), and a warning
says what to do above 5 %: Gauss-Legendre and midpoint rules converge much
faster than left/right Riemann sums on ReLU networks.

We interpolate and differentiate in the same space, the model's input space
(interpolating raw pixels but differentiating after preprocessing puts every
sum off by the preprocessing scale).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution._common import (
    accumulate_gradients,
    check_reduce,
    check_rows,
    finish,
    gaussian_blur,
    image_like,
    per_row,
    prepare,
    reduce_channels,
    resolve_targets,
    step_for,
)
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import forward_scores
from kerasviz.core.inputs import from_model_layout, is_channels_first
from kerasviz.core.memory import physical_memory
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import Target
from kerasviz.core.validate import (
    check_bool,
    check_choice,
    check_finite_array,
    check_int,
    check_number,
    check_positive,
    check_seed,
    renamed_arguments,
)

METHODS = ("riemann_left", "riemann_right", "riemann_middle", "midpoint", "trapezoid", "gausslegendre")
BASELINES = ("black", "zero", "blur", "uniform")
DEFAULT_STEPS = 50
WARN_ABOVE = 0.05
MAX_GAUSS_LEGENDRE = 4096  # node tables beyond this cost seconds to minutes to set up
SCORE_SCALE = 0.01  # the gap is measured against at least 1 % of the score magnitude


class Quadrature:
    """Path points `alpha(k)` in [0, 1] and weights `weight(k)` summing to 1, computed per point index.

    "trapezoid" uses `steps + 1` points; every other rule uses `steps`. Only
    Gauss-Legendre keeps a table (at most 4096 nodes); the other rules are
    closed forms, so any number of steps costs no memory.
    """

    def __init__(self, method: str, steps: int):
        self.method = check_choice(method, "method", METHODS)
        self.steps = check_int(steps, "steps", minimum=1)
        if method == "gausslegendre":
            if steps > MAX_GAUSS_LEGENDRE:
                raise InvalidArgumentError(
                    f"`steps`={steps} with method='gausslegendre': at most {MAX_GAUSS_LEGENDRE} nodes (exact for "
                    f"polynomials of degree {2 * MAX_GAUSS_LEGENDRE - 1}; more never pays off). For more steps use "
                    "method='midpoint'."
                )
            from scipy.special import roots_legendre

            nodes, w = roots_legendre(steps)
            self._alphas, self._weights = (nodes + 1) / 2, w / 2
        self.points = steps + 1 if method == "trapezoid" else steps

    def alpha(self, k: np.ndarray) -> np.ndarray:
        m, k = self.steps, np.asarray(k, np.float64)
        if self.method == "gausslegendre":
            return self._alphas[k.astype(np.int64)].astype(np.float32)
        offset = {"riemann_left": 0.0, "trapezoid": 0.0, "riemann_right": 1.0}.get(self.method, 0.5)
        return ((k + offset) / m).astype(np.float32)

    def weight(self, k: np.ndarray) -> np.ndarray:
        m, k = self.steps, np.asarray(k, np.int64)
        if self.method == "gausslegendre":
            return self._weights[k].astype(np.float32)
        w = np.full(k.shape, 1.0 / m)
        if self.method == "trapezoid":
            w[(k == 0) | (k == m)] = 0.5 / m
        return w.astype(np.float32)


def quadrature(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Path points `alphas` in [0, 1] and weights summing to 1 for `steps` intervals (as arrays)."""
    rule = Quadrature(method, steps)
    k = np.arange(rule.points)
    return rule.alpha(k), rule.weight(k)


def make_baselines(
    x: tf.Tensor,
    baseline,
    n_baselines: int = 1,
    *,
    blur_sigma: float | None = None,
    seed: int = 0,
    model=None,
) -> np.ndarray:
    """Baselines `(N, B, H, W, C)` (channels last) for images `x` `(N, H, W, C)`.

    Args:
        baseline: None/"black"/"zero" (zeros in the model's input space),
            "blur" (Gaussian blur of x), "uniform" (uniform noise over each
            image's value range, `n_baselines` draws averaged), a number (a
            constant image), or an array in the model's layout: one image, a
            batch `(N, ...)`, `(N, B, ...)`, or per-channel values `(C,)`.
        model: the model (for its layout); None: channels last.

    Raises:
        InvalidArgumentError: an unknown name, NaN / Inf, or a shape that does not fit.
    """
    n, item = int(x.shape[0]), tuple(x.shape[1:])  # (H, W, C); (T, C) for signals
    if isinstance(baseline, str):
        check_choice(baseline, "baseline", BASELINES)
    if baseline is None or (isinstance(baseline, str) and baseline in ("black", "zero")):
        return np.zeros((n, 1) + item, np.float32)
    if isinstance(baseline, str) and baseline == "blur":
        return gaussian_blur(x, blur_sigma if blur_sigma is not None else max(item[:-1]) / 16).numpy()[:, None]
    if isinstance(baseline, str) and baseline == "uniform":
        flat = tf.reshape(x, (n, -1))
        low, high = tf.reduce_min(flat, 1).numpy(), tf.reduce_max(flat, 1).numpy()
        u = tf.stack([tf.random.stateless_uniform(item, seed=[seed, b]) for b in range(n_baselines)]).numpy()
        spread = (-1, 1) + (1,) * len(item)
        return low.reshape(spread) + (high - low).reshape(spread) * u[None]
    if np.ndim(baseline) == 0 and not isinstance(baseline, np.ndarray):
        value = check_number(baseline, "baseline")
        return np.full((n, 1) + item, value, np.float32)
    array = check_finite_array(baseline, "baseline")
    if array.ndim == len(item) + 2:
        full = from_model_layout(array, model) if model is not None and len(item) == 3 else array
        if full.shape[:1] + full.shape[2:] == (n,) + item:
            return full
        raise InvalidArgumentError(
            f"`baseline` of shape {array.shape} does not fit {n} image(s): expected (N, B, image)."
        )
    if model is None:
        return np.broadcast_to(array, x.shape)[:, None]
    return image_like(array, "baseline", model, x)[:, None]


@dataclass
class IntegratedGradients(ArrayResult):
    """Result of `kv.integrated_gradients`; behaves as the attribution array (`np.asarray(result)`).

    Attributes:
        attributions: signed, with the images' shape (or `(N, H, W)` when
            reduced); batch axis dropped for a single image.
        convergence_error: `(N,)` relative completeness gap
            `|sum IG - (S(x) - S(x'))| / max(|S(x) - S(x')|, 0.01 max(|S(x)|, |S(x')|))`.
        delta: `(N,)` `S(x) - S(x')` (averaged over baselines).
        scores: `(N,)` `S(x)`; `targets`: `(N,)` classes explained (-1: callable).
        baselines: `(N, B, ...)` the baselines used, in the model's layout.
    """

    array_field: ClassVar[str] = "attributions"
    attributions: np.ndarray
    convergence_error: np.ndarray
    delta: np.ndarray
    scores: np.ndarray
    targets: np.ndarray
    baselines: np.ndarray


def _advice(method: str, steps: int) -> str:
    if method == "gausslegendre":
        more = min(4 * steps, MAX_GAUSS_LEGENDRE)
        if steps >= MAX_GAUSS_LEGENDRE:
            return "use method='midpoint' with more steps, or a baseline closer to the image (e.g. baseline='blur')"
        return f"raise `steps` (e.g. steps={more}; the path crosses many ReLU kinks), or try baseline='blur'"
    if method in ("midpoint", "riemann_middle"):
        return f"raise `steps` (e.g. steps={4 * steps}; the path crosses many ReLU kinks), or try baseline='blur'"
    return (
        f"use method='gausslegendre' or 'midpoint' (they converge much faster than {method!r}), "
        f"or raise `steps` (e.g. steps={4 * steps})"
    )


def integrated_gradients(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    baseline: None | str | float | np.ndarray = None,
    steps: int | None = None,
    method: str = "gausslegendre",
    n_baselines: int = 1,
    blur_sigma: float | None = None,
    reduce: str | None = None,
    seed: int = 0,
    output: OutputSpec = None,
    input: InputSpec = None,
    path_batch_size: int = 32,
    progress: bool = True,
    **renamed,
) -> IntegratedGradients:
    """Integrated gradients along the straight path from a baseline to each image.

    Works on functional, Sequential, nested and subclassed models, channels
    last or first.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (channels first for a channels-first model).
        target: None (class predicted on x, fixed along the path), an int, a
            list of ints, or a callable `score(outputs) -> (N,)`.
        baseline: None/"black"/"zero", "blur", "uniform", a number, or an
            array (see `make_baselines`). Zero is black only for [0, 1] or
            [0, 255] inputs; for caffe-preprocessed VGG16 pass
            `kv.preprocess(np.zeros((224, 224, 3)))`.
        steps: quadrature intervals, >= 1 (default 50; capped in quick mode
            only when not given); Gauss-Legendre takes at most 4096. 128
            midpoint/Gauss-Legendre steps reach < 1 % on ReLU CNNs.
        method: "gausslegendre", "midpoint" (= "riemann_middle"),
            "riemann_left", "riemann_right" or "trapezoid".
        n_baselines: random baselines averaged (expected-gradients style); only
            for `baseline="uniform"`.
        blur_sigma: Gaussian sigma in pixels for `baseline="blur"` (default
            side / 16), > 0.
        reduce: None keeps channels; "sum", "sum_abs", "max_abs", "mean", "l2".
        seed: seed of random baselines.
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        path_batch_size: path points per compiled call (bounds memory;
            formerly `batch_size`, still accepted with a warning).
        progress: show a progress bar (when there is more than one chunk).

    Returns:
        `IntegratedGradients` (use `.attributions`, or the result itself as an
        array: `np.asarray(result)`), with `.convergence_error` per image.

    Raises:
        KerasvizError: bad images, target, output, baseline or settings (named).

    Warns:
        UserWarning: when a convergence error exceeds 5 %, saying what to change.

    Example:
        >>> ig = kv.integrated_gradients(model, images, steps=128, method="midpoint")
        >>> ig.attributions.sum(axis=(1, 2, 3))  # ~ ig.delta
    """
    path_batch_size = renamed_arguments(
        "integrated_gradients",
        renamed,
        {"batch_size": "path_batch_size"},
        {"path_batch_size": path_batch_size},
        {"path_batch_size": 32},
    )["path_batch_size"]
    steps = max_steps(DEFAULT_STEPS, quick=16) if steps is None else check_int(steps, "steps", minimum=1)
    rule = Quadrature(method, steps)
    n_baselines = check_int(n_baselines, "n_baselines", minimum=1)
    if n_baselines > 1 and not (isinstance(baseline, str) and baseline == "uniform"):
        raise InvalidArgumentError(
            f"`n_baselines`={n_baselines} averages random baselines: it needs baseline='uniform'; got {baseline!r}."
        )
    blur_sigma = check_positive(blur_sigma, "blur_sigma", allow_none=True)
    reduce, seed, progress = check_reduce(reduce), check_seed(seed), check_bool(progress, "progress")
    p = prepare(model, images, target, output, input)
    x, n = p.x, len(p.x)
    image_bytes = 4 * int(np.prod(x.shape[1:]))
    if n * n_baselines * image_bytes > physical_memory() // 4:
        raise InvalidArgumentError(
            f"`n_baselines`={n_baselines} for {n} image(s) needs {n * n_baselines * image_bytes / 2**30:.1f} GiB "
            "of baselines; use fewer."
        )
    bases = make_baselines(x, baseline, n_baselines, blur_sigma=blur_sigma, seed=seed, model=model)
    n_base, points = bases.shape[1], rule.points
    n_rows = n * n_base * points
    path_batch_size = check_rows(model, x, path_batch_size, n_rows, "path_batch_size")
    scores, targets = resolve_targets(model, x, p.targets, p.output, side=p.side, input=p.input)
    flat_bases = tf.constant(bases.reshape((-1,) + tuple(x.shape[1:])))
    base_image = np.repeat(np.arange(n), n_base)  # image of each (image, baseline) segment

    def make_rows(rows):  # row r = (segment r // points, path point r % points)
        seg = rows // points
        start = tf.gather(flat_bases, seg)
        a = per_row(rule.alpha(rows % points), start)
        return start + a * (tf.gather(x, base_image[seg]) - start)

    step = step_for(model, targets, output=p.output, input=p.input)
    seg_targets = targets if callable(targets) else targets[base_image]
    path_grads = accumulate_gradients(
        step,
        make_rows,
        n_rows,
        lambda rows: rows // points,
        lambda rows: rule.weight(rows % points),
        n * n_base,
        seg_targets,
        batch_size=path_batch_size,
        progress=progress,
        desc="integrated gradients",
        side=p.side.take(base_image),
    )
    per_base = (tf.gather(x, base_image).numpy() - bases.reshape(path_grads.shape)) * path_grads
    attributions = per_base.reshape((n, n_base) + tuple(x.shape[1:])).mean(1)

    base_scores, _ = forward_scores(
        model, flat_bases, seg_targets, output=p.output, prepared=True, side=p.side.take(base_image), input=p.input
    )
    base_scores = base_scores.reshape(n, n_base)
    delta = scores - base_scores.mean(1)
    scale = np.maximum(np.abs(delta), SCORE_SCALE * np.maximum(np.abs(scores), np.abs(base_scores).max(1)))
    gap = np.abs(attributions.reshape(n, -1).sum(1) - delta)
    error = np.where(scale > 0, gap / np.where(scale > 0, scale, 1), 0.0)
    if (error > WARN_ABOVE).any():
        warnings.warn(
            f"Integrated gradients: completeness error up to {error.max():.1%} (> {WARN_ABOVE:.0%}, relative to "
            f"|S(x) - S(x')| or 1 % of the score) with {steps} steps of {method!r}; {_advice(method, steps)}.",
            stacklevel=2,
        )
    targets_out = np.full(n, -1, np.int32) if callable(targets) else targets
    return IntegratedGradients(
        attributions=finish(reduce_channels(attributions, reduce), p.single, model),
        convergence_error=finish(error, p.single),
        delta=finish(delta, p.single),
        scores=finish(scores, p.single),
        targets=targets_out[0] if p.single else targets_out,
        baselines=np.moveaxis(bases, -1, 2) if is_channels_first(model) else bases,
    )
