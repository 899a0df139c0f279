"""LIME (Ribeiro et al. 2016) and KernelSHAP (Lundberg & Lee 2017) on superpixels.

Both switch superpixels on (the image) and off (the baseline), score the
perturbed copies with `model(x)` only, and fit a linear model of the score on
the on/off pattern `z in {0, 1}^M`; each segment's coefficient paints the map.
All perturbed copies of an image go through one compiled forward pass in
chunks of `sample_batch_size`; the copies are built in-graph from `z` and the
label map. The fit is NumPy (float64).

For a model linear in the pixels, `f(x(z)) = f(b) + sum_m z_m a_m` with
`a_m = sum_{p in segment m} w_p (x_p - b_p)`, so both methods return `a`
exactly (LIME with `alpha=0`; KernelSHAP always), and KernelSHAP's
coefficients sum to `f(x) - f(b)`. The baseline defines the question: with
`baseline="segment_mean"` (the `lime` package's default) a model that only
reads segment mean colours gets `a = 0` for every segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution.blackbox.segments import SegmentSpec, segment_maps
from kerasviz.attribution.support import (
    check_batch_size,
    check_seed,
    clean_scores,
    fill_images,
    prepare,
    stream_scores,
)
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_int, check_number


@dataclass(frozen=True)
class SurrogateResult(ArrayResult):
    """A LIME / KernelSHAP explanation; behaves as its `maps` array.

    Attributes:
        maps: `(N, H, W)` float32, each pixel painted with its segment's coefficient.
        segments: `(N, H, W)` int32 label maps (0..M-1 per image).
        coefficients: per image, the `(M,)` segment coefficients.
        intercept: `(N,)` the surrogate's intercept (KernelSHAP: `f(baseline)`).
        scores: `(N,)` the target score on the image, `f(x)`.
        baseline_scores: `(N,)` the score with every segment off, `f(b)`.
        samples: images scored per image explained (the design, plus the
            full image and the baseline).
    """

    array_field: ClassVar[str] = "maps"
    maps: np.ndarray
    segments: np.ndarray
    coefficients: list
    intercept: np.ndarray
    scores: np.ndarray
    baseline_scores: np.ndarray
    samples: int


def weighted_ridge(z: np.ndarray, y: np.ndarray, weights: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """`argmin sum_i w_i (y_i - b0 - z_i . b)^2 + alpha |b|^2` (intercept not penalised),
    as scikit-learn's `Ridge(alpha).fit(z, y, sample_weight=w)`; `alpha=0` is least squares."""
    w = weights / weights.sum()
    z_mean, y_mean = w @ z, w @ y
    zc, yc = (z - z_mean) * np.sqrt(w)[:, None], (y - y_mean) * np.sqrt(w)
    if alpha > 0:
        coef = np.linalg.solve(zc.T @ zc + alpha / weights.sum() * np.eye(z.shape[1]), zc.T @ yc)
    else:
        coef = np.linalg.lstsq(zc, yc, rcond=None)[0]
    return float(y_mean - z_mean @ coef), coef


def shapley_fit(z: np.ndarray, y: np.ndarray, weights: np.ndarray, f_x: float, f_b: float) -> np.ndarray:
    """Weighted least squares of `y - f_b` on `z` under efficiency `sum(phi) = f_x - f_b`,
    enforced exactly by eliminating the last coefficient (as the `shap` package)."""
    m = z.shape[1]
    delta = f_x - f_b
    if m == 1:
        return np.array([delta])
    target = y - f_b - z[:, -1] * delta
    design = z[:, :-1] - z[:, -1:]
    root = np.sqrt(weights)
    head = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)[0]
    return np.append(head, delta - head.sum())


def shapley_kernel(m: int, sizes: np.ndarray) -> np.ndarray:
    """The Shapley kernel `(M - 1) / (C(M, k) k (M - k))` for coalition sizes 0 < k < M."""
    return np.array([(m - 1) / (comb(m, int(k)) * k * (m - k)) for k in sizes])


def shap_design(m: int, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions and weights: all `2^M - 2` with Shapley-kernel weights when they fit in
    `budget`, else `budget` paired samples (a coalition and its complement) drawn in
    proportion to the kernel, with equal weights."""
    if 2**m - 2 <= budget:
        codes = np.arange(1, 2**m - 1)
        z = ((codes[:, None] >> np.arange(m)[None]) & 1).astype(np.float64)
        return z, shapley_kernel(m, z.sum(1))
    sizes = np.arange(1, m)
    size_p = (m - 1) / (sizes * (m - sizes))
    size_p /= size_p.sum()
    z = np.zeros((2 * ((budget + 1) // 2), m))
    for r in range(0, len(z), 2):
        k = rng.choice(sizes, p=size_p)
        z[r, rng.choice(m, k, replace=False)] = 1
        z[r + 1] = 1 - z[r]
    return z[:budget], np.ones(min(len(z), budget))


def lime_design(m: int, samples: int, kernel_width: float, rng: np.random.Generator):
    """LIME's coalitions (first all on, then uniform on/off) and weights: the cosine distance
    to all-on, `d = 1 - sqrt(|z| / M)`, through `sqrt(exp(-d^2 / width^2))` (the `lime` package)."""
    z = rng.integers(0, 2, (samples, m)).astype(np.float64)
    z[0] = 1
    distance = 1 - np.sqrt(z.sum(1) / m)
    return z, np.sqrt(np.exp(-(distance**2) / kernel_width**2))


def _explain(
    method,
    model,
    images,
    target,
    output,
    segments,
    n_segments,
    baseline,
    design,
    fit,
    sample_batch_size,
    progress,
    input=None,
):
    sample_batch_size = check_batch_size(sample_batch_size, "sample_batch_size")
    p = prepare(model, images, target, output, input)
    x, single, targets, out = p
    fill = fill_images(x, baseline, extra=("segment_mean",))
    labels = segment_maps(segments, x.numpy(), n_segments=n_segments)
    if not callable(targets):
        _, targets = clean_scores(model, x, targets, out, side=p.side, input=p.input)
    n = len(x)
    maps, coefficients, intercepts, f_x, f_b = [], [], np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        seg = labels[i]
        m = int(seg.max()) + 1
        if isinstance(fill, str):  # each segment's own mean colour
            xi = x[i].numpy().reshape(-1, x.shape[-1])
            means = np.stack(
                [np.bincount(seg.ravel(), xi[:, c], m) / np.bincount(seg.ravel(), None, m) for c in range(x.shape[-1])],
                -1,
            )
            fill_i = tf.constant(means[seg], tf.float32)
        else:
            fill_i = fill[i]
        z, weights = design(m)
        full = np.concatenate([np.ones((1, m)), np.zeros((1, m)), z]).astype(np.float32)
        seg_t = tf.constant(seg)

        def make_rows(rows, full=full, seg_t=seg_t, fill_i=fill_i, i=i):
            on = tf.gather(tf.constant(full[rows]), seg_t, axis=1)[..., None]
            return x[i][None] * on + fill_i[None] * (1.0 - on)

        own = targets if callable(targets) else targets[i : i + 1]
        y = stream_scores(
            model,
            make_rows,
            np.zeros(len(full), np.int32),
            own,
            out,
            batch_size=sample_batch_size,
            progress=progress,
            desc=f"{method} {i + 1}/{n}",
            side=p.side[i : i + 1],
            input=p.input,
        ).astype(np.float64)
        f_x[i], f_b[i] = y[0], y[1]
        intercepts[i], coef = fit(z, y[2:], weights, y[0], y[1])
        coefficients.append(coef)
        maps.append(coef[seg])
    maps = np.stack(maps).astype(np.float32)
    if single:
        return SurrogateResult(maps[0], labels[0], coefficients[0], intercepts[0], f_x[0], f_b[0], len(full))
    return SurrogateResult(maps, labels, coefficients, intercepts, f_x, f_b, len(full))


_COMMON_ARGS = """model: any Keras image model (only its outputs are read; never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints (-1: predicted), or a callable `score(outputs) -> (N,)`;
            logits for class targets.
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        segments: None (SLIC superpixels, `kv.superpixels`), an int label
            map `(H, W)` or `(N, H, W)`, or a callable `image -> labels`.
        n_segments: SLIC's approximate segment count when `segments=None`.
        baseline: what an "off" segment becomes: a number (0: black for
            [0, 1] images, the mean colour for caffe inputs), "mean" (the
            image's mean colour), "segment_mean" (the segment's own mean
            colour, the `lime` package's default), "blur", or an array."""


def lime(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    output: OutputSpec = None,
    input: InputSpec = None,
    segments: SegmentSpec = None,
    n_segments: int = 50,
    baseline: float | str | np.ndarray = 0.0,
    samples: int | None = None,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    seed: int = 0,
    sample_batch_size: int = 32,
    progress: bool = True,
) -> SurrogateResult:
    """LIME on superpixels: a weighted ridge regression of the score on which segments are on.

    Follows the `lime` package (Ribeiro et al.): the first sample keeps every
    segment, the others switch each segment on with probability 1/2; samples
    are weighted by `sqrt(exp(-d^2 / kernel_width^2))` of the cosine distance
    `d = 1 - sqrt(|z| / M)` to the full image; `Ridge(alpha)` with an intercept.
    Differences: SLIC segments (quickshift there), a constant baseline by
    default (each segment's mean colour there, `baseline="segment_mean"`),
    logits by default, and every coefficient is returned (no feature selection).

    Args:
        {common}
        samples: perturbed copies per image (default 1000; capped in quick mode
            when not given).
        kernel_width: width of the similarity kernel (> 0).
        alpha: ridge penalty (0: weighted least squares, which recovers a
            linear model's segment contributions exactly).
        seed: sampling seed; the same seed gives the same map.
        sample_batch_size: perturbed copies per compiled call.
        progress: show a progress bar.

    Returns:
        `SurrogateResult` (behaves as the `(N, H, W)` maps).

    Example:
        >>> e = kv.lime(model, x, n_segments=50); e.coefficients[0]
    """
    samples = max_steps(1000, quick=64) if samples is None else check_int(samples, "samples", minimum=2)
    kernel_width = check_number(kernel_width, "kernel_width", minimum=0.0, strict_minimum=True)
    alpha = check_number(alpha, "alpha", minimum=0.0)
    seed = check_seed(seed)
    n_segments = check_int(n_segments, "n_segments", minimum=1)
    design = lambda m: lime_design(m, samples, kernel_width, np.random.default_rng(seed))
    fit = lambda z, y, w, f_x, f_b: weighted_ridge(z, y, w, alpha)
    return _explain(
        "lime",
        model,
        images,
        target,
        output,
        segments,
        n_segments,
        baseline,
        design,
        fit,
        sample_batch_size,
        progress,
        input,
    )


def kernel_shap(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    output: OutputSpec = None,
    input: InputSpec = None,
    segments: SegmentSpec = None,
    n_segments: int = 50,
    baseline: float | str | np.ndarray = 0.0,
    samples: int | None = None,
    seed: int = 0,
    sample_batch_size: int = 32,
    progress: bool = True,
) -> SurrogateResult:
    """KernelSHAP on superpixels: Shapley values of the segments, by weighted least squares.

    The game is `v(S) = f(x with the segments outside S set to the
    baseline)`. When all `2^M - 2` coalitions fit in `samples` (M <= 11 with
    the default) they are all evaluated with Shapley-kernel weights, which
    gives the exact Shapley values of any model; otherwise `samples`
    coalitions are drawn in proportion to the kernel, in complementary pairs.
    Efficiency, `sum(phi) = f(x) - f(baseline)`, is exact in both cases (one
    coefficient is eliminated, as the `shap` package; captum approximates it
    with a weight of 1e6, xplique does not enforce it). No L1 feature selection
    (`shap`'s default keeps at most 10 features when M > 10).

    Args:
        {common}
        samples: coalition budget per image (default `2M + 2048`, as `shap`;
            capped in quick mode when not given).
        seed: sampling seed; the same seed gives the same map.
        sample_batch_size: perturbed copies per compiled call.
        progress: show a progress bar.

    Returns:
        `SurrogateResult` (behaves as the `(N, H, W)` maps); `intercept` is
        `f(baseline)`.

    Example:
        >>> phi = kv.kernel_shap(model, x, segments=labels)
        >>> phi.coefficients[0].sum()   # == phi.scores[0] - phi.baseline_scores[0]
    """
    samples = check_int(samples, "samples", minimum=2, allow_none=True)
    seed = check_seed(seed)
    n_segments = check_int(n_segments, "n_segments", minimum=1)

    def design(m):
        budget = samples if samples is not None else max_steps(2 * m + 2048, quick=64)
        if m == 1:
            return np.zeros((0, 1)), np.zeros(0)
        return shap_design(m, budget, np.random.default_rng(seed))

    fit = lambda z, y, w, f_x, f_b: (f_b, shapley_fit(z, y, w, f_x, f_b))
    return _explain(
        "kernel_shap",
        model,
        images,
        target,
        output,
        segments,
        n_segments,
        baseline,
        design,
        fit,
        sample_batch_size,
        progress,
        input,
    )


for _fn in (lime, kernel_shap):
    _fn.__doc__ = _fn.__doc__.replace("{common}", _COMMON_ARGS)
