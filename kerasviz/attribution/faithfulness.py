"""Faithfulness and robustness metrics beside deletion / insertion.

- `mu_fidelity` (Bhatt, Weller & Moura 2020): does removing a random subset of
  pixels lower the score by what the map says those pixels contribute?
  The correlation, over random subsets, of `sum_{removed} phi` with
  `f(x) - f(x without them)`. Higher is better (1 for an exact map of a
  linear model).
- `average_drop` (Chattopadhay et al. 2018): the score of the image seen
  through the map used as a soft mask, against the clean score: average drop
  (lower is better) and average increase (higher is better).
- `pointing_game` (Zhang et al. 2018, in `attribution.pointing_game`): is the
  map's maximum on the object?
- `infidelity`, `max_sensitivity` (Yeh et al. 2019, as captum): the squared
  error of the map's linear prediction of the score change under Gaussian
  perturbations (lower is better), and the largest relative change of the map
  under small uniform perturbations (lower is better).

Randomness (subsets, noise) comes from `seed` and is drawn once for all
images, so a batch gives the same values as one image at a time. Every
perturbed copy goes through one compiled forward pass in chunks of
`batch_size`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution.support import (
    check_batch_size,
    check_seed,
    clean_scores,
    fill_images,
    prepare,
    stream_scores,
    to_nhw,
)
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_choice, check_int, check_number


def _scalar_or(values: np.ndarray, single: bool):
    values = np.asarray(values, np.float32)
    return float(values[0]) if single else values


def metric_noise(samples: int, shape: tuple, seed: int, kind: str = "normal") -> np.ndarray:
    """The perturbations the metrics use: `(samples, *shape)` float64, standard normal or
    uniform in [-1, 1], from `np.random.default_rng(seed)` (global state untouched)."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((samples,) + tuple(shape))
        if kind == "normal"
        else rng.uniform(-1, 1, (samples,) + tuple(shape))
    )


def _value_range(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return flat.max(1) - flat.min(1)


def _channel_maps(maps, x: np.ndarray) -> np.ndarray:
    """`(N, H, W, C)` maps: channel maps as given, `(N, H, W)` maps repeated over channels."""
    n, h, w, c = x.shape
    array = np.asarray(maps, np.float64)
    if array.shape in ((n, h, w, c),) + (((h, w, c),) if n == 1 else ()):
        if not np.isfinite(array).all():
            raise InvalidArgumentError("`maps` contains NaN or Inf values; maps must be finite.")
        return array.reshape(n, h, w, c)
    return np.repeat(to_nhw(maps, n, h, w)[..., None], c, axis=-1)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(a), rankdata(b))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def mu_fidelity(
    model: keras.Model,
    images,
    maps,
    target: Target = None,
    *,
    output: OutputSpec = None,
    grid_size: int = 9,
    subset_fraction: float = 0.2,
    samples: int | None = None,
    baseline: float | str | np.ndarray = 0.0,
    correlation: str = "spearman",
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = True,
):
    """MuFidelity: correlation between removed attribution and score drop over random subsets.

    Each sample removes every cell of a `grid_size x grid_size` grid with
    probability `subset_fraction` (cells replaced by `baseline`), as
    xplique's `MuFidelity`. The correlation is Spearman's by default
    (xplique), Pearson's with `correlation="pearson"` (Bhatt et al.); a
    constant series gives 0.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        maps: `(N, H, W)` or `(N, H, W, C)` maps at the input size (signed).
        target: None (class predicted on the clean image), int, ints, or a
            callable `score(outputs) -> (N,)`; logits for class targets.
        output: which output of a multi-output model (index or name).
        grid_size, subset_fraction: the removal grid and each cell's removal probability.
        samples: random subsets (default 200; capped in quick mode when not given).
        baseline: a number, "mean", "blur" or an array: what removed pixels become.
        correlation: "spearman" or "pearson".
        seed, batch_size, progress: as everywhere.

    Returns:
        `(N,)` float32 correlations in [-1, 1] (a float for one image). Higher is better.

    Example:
        >>> kv.mu_fidelity(model, x, kv.gradient_x_input(model, x)).mean()
    """
    grid_size = check_int(grid_size, "grid_size", minimum=1)
    subset_fraction = check_number(subset_fraction, "subset_fraction", minimum=0.0, maximum=1.0, strict_minimum=True)
    samples = max_steps(200, quick=32) if samples is None else check_int(samples, "samples", minimum=2)
    correlation = check_choice(correlation, "correlation", ("spearman", "pearson"))
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    x, single, targets, out = prepare(model, images, target, output)
    n, h, w, _ = x.shape
    phi = to_nhw(maps, n, h, w)
    fill = fill_images(x, baseline)
    clean, targets = clean_scores(model, x, targets, out)
    cells = np.random.default_rng(seed).random((samples, grid_size, grid_size)) < subset_fraction
    removed = cells[:, (np.arange(h) * grid_size) // h][:, :, (np.arange(w) * grid_size) // w].astype(np.float32)
    image_ids = np.repeat(np.arange(n), samples)
    sample_ids = np.tile(np.arange(samples), n)
    removed_t = tf.constant(removed)

    def make_rows(rows):
        r = tf.gather(removed_t, sample_ids[rows])[..., None]
        return tf.gather(x, image_ids[rows]) * (1 - r) + tf.gather(fill, image_ids[rows]) * r

    scores = stream_scores(
        model, make_rows, image_ids, targets, out, batch_size=batch_size, progress=progress, desc="mu_fidelity"
    ).reshape(n, samples)
    drops = clean[:, None].astype(np.float64) - scores
    attributed = np.einsum("nhw,shw->ns", phi, removed.astype(np.float64))
    corr = _spearman if correlation == "spearman" else _pearson
    return _scalar_or([corr(drops[i], attributed[i]) for i in range(n)], single)


@dataclass(frozen=True)
class AverageDrop(ArrayResult):
    """Average Drop / Increase in confidence; behaves as the per-image `drop` array.

    Attributes:
        drop: `(N,)` `relu(Y - O) / Y` per image (lower is better).
        increase: `(N,)` bool, `O > Y` (the masked image scores higher).
        scores: `(N,)` Y, the score on the clean image.
        masked_scores: `(N,)` O, the score on the image seen through the map.
        average_drop: mean of `drop` (the paper reports it x 100).
        average_increase: fraction of images with an increase (higher is better).
    """

    array_field: ClassVar[str] = "drop"
    drop: np.ndarray
    increase: np.ndarray
    scores: np.ndarray
    masked_scores: np.ndarray
    average_drop: float
    average_increase: float


def average_drop(
    model: keras.Model,
    images,
    maps,
    target: Target = None,
    *,
    output: OutputSpec = None,
    probabilities: bool = True,
    absolute: bool = False,
    baseline: float | str | np.ndarray = 0.0,
    batch_size: int = 64,
) -> AverageDrop:
    """Average Drop and Average Increase in confidence (Chattopadhay et al. 2018, Grad-CAM++).

    The map, min-max scaled to [0, 1] per image (channels averaged), is used
    as a soft mask: `O = f(x * L + baseline * (1 - L))`; `Y = f(x)`. Scores
    are class probabilities by default (the paper; `Y` must be positive).
    Conventions: the signed map is scaled (negative evidence goes to 0);
    xplique scales `|map|` (`absolute=True`). pytorch-grad-cam's
    `DropInConfidence` does not divide by Y. A constant map has no order: its
    mask is taken as all ones (O = Y) with a warning.

    Args:
        model, images, maps, target, output: as `mu_fidelity`.
        probabilities: softmax probabilities (sigmoid for one output) rather than logits.
        absolute: scale `|map|` instead of the signed map.
        baseline: what masked-out pixels fade to (0 as the paper).
        batch_size: images per compiled call.

    Returns:
        `AverageDrop` (behaves as the per-image drops).

    Example:
        >>> r = kv.average_drop(model, x, kv.grad_cam(model, x)); r.average_drop, r.average_increase
    """
    batch_size = check_batch_size(batch_size)
    x, single, targets, out = prepare(model, images, target, output)
    n, h, w, _ = x.shape
    phi = to_nhw(maps, n, h, w, absolute=absolute)
    low, high = phi.min((1, 2), keepdims=True), phi.max((1, 2), keepdims=True)
    constant = (high - low)[:, 0, 0] == 0
    if constant.any():
        warnings.warn(
            f"{int(constant.sum())} constant map(s) have no order; their mask is all ones (O = Y).", stacklevel=2
        )
    mask = np.where(high > low, (phi - low) / np.where(high > low, high - low, 1), 1.0).astype(np.float32)
    fill = fill_images(x, baseline)
    prob = probabilities and not callable(targets)
    y, targets = clean_scores(model, x, targets, out, probabilities=prob)
    mask_t = tf.constant(mask)[..., None]
    make_rows = lambda rows: (
        tf.gather(x, rows) * tf.gather(mask_t, rows) + tf.gather(fill, rows) * (1 - tf.gather(mask_t, rows))
    )
    o = stream_scores(model, make_rows, np.arange(n), targets, out, probabilities=prob, batch_size=batch_size)
    y64, o64 = y.astype(np.float64), o.astype(np.float64)
    if (y64 <= 0).any():
        warnings.warn(
            "Average Drop needs positive scores; images with Y <= 0 get NaN (use probabilities=True).", stacklevel=2
        )
    drop = np.where(y64 > 0, np.maximum(y64 - o64, 0) / np.where(y64 > 0, y64, 1), np.nan)
    increase = o64 > y64
    result = AverageDrop(
        drop.astype(np.float32),
        increase,
        y,
        o,
        float(np.nanmean(drop)) if (y64 > 0).any() else float("nan"),
        float(increase.mean()),
    )
    if single:
        return AverageDrop(result.drop[0], result.increase[0], y[0], o[0], result.average_drop, result.average_increase)
    return result


def infidelity(
    model: keras.Model,
    images,
    maps,
    target: Target = None,
    *,
    output: OutputSpec = None,
    noise: float = 0.1,
    samples: int = 10,
    normalize: bool = False,
    multiply_by_inputs: bool = False,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = True,
):
    """Infidelity (Yeh et al. 2019): `E_I[(I . phi - (f(x) - f(x - I)))^2]`.

    `I ~ N(0, sigma^2)` element-wise, with sigma `noise` times each image's
    value range (captum leaves the perturbation to the user). `(N, H, W)`
    maps are repeated over channels. With `normalize=True` the map is first
    rescaled by the least-squares factor `E[I.phi Df] / E[(I.phi)^2]`
    (captum's `normalize`). With `multiply_by_inputs=True` (for maps that
    already multiply by the input, such as gradient x input) `I` is divided by
    `x` (0 where x is 0), captum's `multiply_by_inputs` with baseline 0.

    Args:
        model, images, maps, target, output: as `mu_fidelity`.
        noise: perturbation std as a fraction of the image's range (> 0).
        samples: perturbations per image (captum's default 10).
        normalize, multiply_by_inputs: see above.
        seed, batch_size, progress: as everywhere.

    Returns:
        `(N,)` float32 (a float for one image). Lower is better; 0 for the
        gradient of a linear model.

    Example:
        >>> kv.infidelity(model, x, kv.gradient(model, x))
    """
    noise = check_number(noise, "noise", minimum=0.0, strict_minimum=True)
    samples = check_int(samples, "samples", minimum=1)
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    x, single, targets, out = prepare(model, images, target, output)
    xs = x.numpy().astype(np.float64)
    n = len(xs)
    phi = _channel_maps(maps, xs)
    clean, targets = clean_scores(model, x, targets, out)
    perturbations = (
        metric_noise(samples, xs.shape[1:], seed)[None] * (noise * _value_range(xs))[:, None, None, None, None]
    )
    pert_t = tf.constant(perturbations.reshape((-1,) + xs.shape[1:]), tf.float32)
    image_ids = np.repeat(np.arange(n), samples)
    make_rows = lambda rows: tf.gather(x, image_ids[rows]) - tf.gather(pert_t, rows)
    scores = stream_scores(
        model, make_rows, image_ids, targets, out, batch_size=batch_size, progress=progress, desc="infidelity"
    ).reshape(n, samples)
    delta = clean[:, None].astype(np.float64) - scores
    if multiply_by_inputs:
        perturbations = np.divide(perturbations, xs[:, None], out=np.zeros_like(perturbations), where=xs[:, None] != 0)
    predicted = np.einsum("nshwc,nhwc->ns", perturbations, phi)
    if normalize:
        beta = (predicted * delta).mean(1) / np.maximum((predicted**2).mean(1), 1e-30)
        predicted = predicted * beta[:, None]
    return _scalar_or(((predicted - delta) ** 2).mean(1), single)


def max_sensitivity(
    model: keras.Model,
    images,
    method: str | Callable,
    target: Target = None,
    *,
    output: OutputSpec = None,
    radius: float = 0.02,
    samples: int = 10,
    method_kwargs: dict | None = None,
    seed: int = 0,
):
    """Max-sensitivity (Yeh et al. 2019): `max_d ||phi(x + d) - phi(x)|| / ||phi(x)||`.

    `d` is uniform in the L-infinity ball of radius `radius` times each
    image's value range (captum's radius 0.02 is absolute: the same for [0, 1]
    images). Frobenius norms; a zero map divides by 1 (captum). The target is
    fixed to the class predicted on the clean image, so every perturbed map
    explains the same class.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)`.
        method: a callable `(model, images, target, **method_kwargs) -> maps`
            or the name of a kerasviz method ("gradient_x_input", "grad_cam", ...).
        target, output: as `mu_fidelity`.
        radius: half-width of the perturbation box, as a fraction of the range (> 0).
        samples: perturbations per image (captum's default 10).
        method_kwargs: extra keyword arguments for `method`.
        seed: perturbation seed.

    Returns:
        `(N,)` float32 (a float for one image). Lower is better.

    Example:
        >>> kv.max_sensitivity(model, x, "gradient_x_input")
    """
    fn = resolve_method(method)
    radius = check_number(radius, "radius", minimum=0.0, strict_minimum=True)
    samples = check_int(samples, "samples", minimum=1)
    seed = check_seed(seed)
    x, single, targets, out = prepare(model, images, target, output)
    xs = x.numpy()
    n = len(xs)
    if not callable(targets):
        _, targets = clean_scores(model, x, targets, out)
    kwargs = dict(method_kwargs or {})
    if output is not None:
        if not accepts_output(fn):
            raise InvalidArgumentError(
                f"`output`: the method {getattr(fn, '__name__', fn)!r} takes no output= argument."
            )
        kwargs["output"] = output
    run = lambda batch, t: np.asarray(fn(model, batch, t, **kwargs), np.float64).reshape(len(batch), -1)
    reference = run(xs, targets)
    deltas = (
        metric_noise(samples, xs.shape[1:], seed, kind="uniform")[None]
        * (radius * _value_range(xs))[:, None, None, None, None]
    )
    perturbed = (xs[:, None] + deltas).reshape((-1,) + xs.shape[1:]).astype(np.float32)
    moved = run(perturbed, targets if callable(targets) else np.repeat(targets, samples)).reshape(n, samples, -1)
    norms = np.linalg.norm(reference, axis=1)
    change = np.linalg.norm(moved - reference[:, None], axis=2).max(1)
    return _scalar_or(change / np.where(norms > 0, norms, 1.0), single)


def resolve_method(method) -> Callable:
    """A map method from a callable or a registry name or label (`kerasviz.attribution.registry`).

    A registry entry is returned as is: calling it gives a float32 map array
    (result objects such as IG's are unwrapped).
    """
    if callable(method):
        return method
    from kerasviz.attribution.registry import get_method, method_names

    if isinstance(method, str):
        try:
            return get_method(method)
        except InvalidArgumentError:
            pass
    raise InvalidArgumentError(
        f"`method` must be a callable (model, images, target) -> maps or a registered method name "
        f"{method_names()}; got {method!r}."
    )


def accepts_output(fn) -> bool:
    """True if `fn` takes an `output=` keyword (for a registry entry: its function does)."""
    import inspect

    from kerasviz.attribution.registry import Method

    if isinstance(fn, Method):
        fn = fn.function
    try:
        return "output" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
