"""Gradient x input and VarGrad.

- Gradient x input (Shrikumar et al. 2016; captum `InputXGradient`, xplique
  `GradientInput`): `x * d y_c / d x`. On a linear model it is `w * x`; on a
  bias-free ReLU / max-pool network it sums to the logit and equals LRP-0.
- VarGrad (Adebayo et al. 2018): the element-wise variance of the gradient
  over noisy copies `x + eps`, `eps ~ N(0, sigma^2)`. It is 0 for a linear
  model and `sigma^2 sum_j A_ij^2` for `x^T A x / 2`, whatever x.

The noise follows `smoothgrad`: sigma is `noise` times each image's value
range, and noise sample k comes from the stateless seed `(seed, k)`, the same
for every image (a batch gives the same maps as one image at a time). With the
same settings, `smoothgrad(squared=True) - smoothgrad() ** 2` is VarGrad's
biased estimate.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar
from kerasviz.attribution.support import check_batch_size, check_seed, clean_scores, finish, prepare
from kerasviz.core.gradients import gradient_step
from kerasviz.core.inputs import batches
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_choice, check_int, check_number

REDUCTIONS = ("max_abs", "sum_abs", "sum", "mean", "l2")
DEFAULT_SAMPLES = 50


def reduce_channels(maps: np.ndarray, reduce: str | None) -> np.ndarray:
    """`(N, H, W, C)` -> `(N, H, W)` by `reduce`; None keeps the channels."""
    if reduce is None:
        return maps
    return {
        "max_abs": lambda m: np.abs(m).max(-1),
        "sum_abs": lambda m: np.abs(m).sum(-1),
        "sum": lambda m: m.sum(-1),
        "mean": lambda m: m.mean(-1),
        "l2": lambda m: np.sqrt(np.square(m).sum(-1)),
    }[reduce](maps)


def _check_reduce(reduce):
    return None if reduce is None else check_choice(reduce, "reduce", REDUCTIONS)


@tf.function(reduce_retracing=True)
def standard_noise(sample_ids, shape, seed):
    """`(n, *shape)` standard normal noise; row r from the stateless seed `(seed, sample_ids[r])`."""
    draw = lambda k: tf.random.stateless_normal(shape, seed=tf.stack([seed, k]))
    return tf.map_fn(draw, sample_ids, fn_output_signature=tf.float32)


def noise_scale(x: tf.Tensor, noise: float) -> np.ndarray:
    """Per-image noise std `(N,)`: `noise` times the image's `max - min`."""
    flat = tf.reshape(x, (len(x), -1))
    return (noise * (tf.reduce_max(flat, 1) - tf.reduce_min(flat, 1))).numpy()


def _gradients(step, x_rows, classes, side=None):
    return step(x_rows, classes, side)[2]


def gradient_x_input(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    output: OutputSpec = None,
    input: InputSpec = None,
    reduce: str | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> np.ndarray:
    """Gradient x input: `x * d y_c / d x`, signed, per channel.

    Uses the input itself (baseline 0), as captum's `InputXGradient` and
    xplique; `integrated_gradients` with one step from a baseline b gives
    the `(x - b)` variant.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints (-1:
            predicted), or a callable `score(outputs) -> (N,)`.
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        batch_size: images per compiled call.
        progress: show a progress bar.

    Returns:
        `(N, H, W, C)` float32 (or `(N, H, W)` when reduced; `(H, W[, C])`
        for one image).

    Example:
        >>> gxi = kv.gradient_x_input(model, images, reduce="sum")
    """
    reduce = _check_reduce(reduce)
    batch_size = check_batch_size(batch_size)
    p = prepare(model, images, target, output, input, images_only=False)
    x, single, targets, out = p
    score = targets if callable(targets) else None
    step = gradient_step(model, score=score, output=out, input=p.input)
    classes = np.full(len(x), -1, np.int32) if score is not None else targets
    chunks = list(batches(len(x), batch_size))
    parts = []
    with progress_bar(len(chunks), "gradient_x_input", progress and len(chunks) > 1) as bar:
        for s in chunks:
            parts.append((_gradients(step, x[s], classes[s], p.side[s]) * x[s]).numpy())
            bar.update(1)
    return finish(reduce_channels(np.concatenate(parts), reduce), single)


def vargrad(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    output: OutputSpec = None,
    input: InputSpec = None,
    noise: float = 0.15,
    samples: int | None = None,
    unbiased: bool = True,
    reduce: str | None = None,
    seed: int = 0,
    sample_batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """VarGrad: the variance of the gradient over `samples` noisy copies of each image.

    Conventions: the unbiased variance (divided by `samples - 1`, as
    xplique) by default; `unbiased=False` divides by `samples` (captum's
    `NoiseTunnel(..., "vargrad")`; about 2 % lower at 50 samples). The
    channel reduction is applied after the variance. VarGrad scales with
    sigma^2: compare maps at equal `noise` only.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints (-1: predicted), or a callable `score(outputs) -> (N,)`.
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        noise: noise std as a fraction of each image's `max - min` (> 0).
        samples: noisy copies per image (>= 2; default 50, capped in quick
            mode when not given).
        unbiased: divide by `samples - 1` rather than `samples`.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        seed: noise seed; the same seed gives the same map.
        sample_batch_size: noisy copies per compiled call (bounds memory).
        progress: show a progress bar.

    Returns:
        `(N, H, W, C)` non-negative float32 (or `(N, H, W)` when reduced).

    Example:
        >>> vg = kv.vargrad(model, images, noise=0.15, samples=50, reduce="max_abs")
    """
    noise = check_number(noise, "noise", minimum=0.0, strict_minimum=True)
    samples = max_steps(DEFAULT_SAMPLES, quick=8) if samples is None else check_int(samples, "samples", minimum=2)
    samples = max(samples, 2)
    reduce = _check_reduce(reduce)
    seed = check_seed(seed)
    sample_batch_size = check_batch_size(sample_batch_size, "sample_batch_size")
    p = prepare(model, images, target, output, input, images_only=False)
    x, single, targets, out = p
    _, targets = clean_scores(model, x, targets, out, side=p.side, input=p.input)
    score = targets if callable(targets) else None
    step = gradient_step(model, score=score, output=out, input=p.input)
    n = len(x)
    sigma = noise_scale(x, noise)
    image_ids = np.repeat(np.arange(n), samples).astype(np.int32)
    sample_ids = np.tile(np.arange(samples), n).astype(np.int32)
    classes = np.full(n, -1, np.int32) if score is not None else targets
    total = np.zeros(tuple(x.shape), np.float64)
    squares = np.zeros(tuple(x.shape), np.float64)
    chunks = list(batches(len(image_ids), sample_batch_size))
    shape = tf.constant(x.shape[1:], tf.int32)
    with progress_bar(len(chunks), "vargrad", progress and len(chunks) > 1) as bar:
        for s in chunks:
            ids = image_ids[s]
            eps = standard_noise(tf.constant(sample_ids[s]), shape, tf.constant(seed, tf.int32))
            scale = tf.reshape(tf.constant(sigma[ids], tf.float32), (-1,) + (1,) * (len(x.shape) - 1))
            grads = _gradients(step, tf.gather(x, ids) + scale * eps, classes[ids], p.side.take(ids))
            grads = grads.numpy().astype(np.float64)
            np.add.at(total, ids, grads)
            np.add.at(squares, ids, grads * grads)
            bar.update(1)
    mean = total / samples
    variance = np.maximum(squares / samples - mean * mean, 0.0)
    if unbiased:
        variance *= samples / (samples - 1)
    return finish(reduce_channels(variance, reduce), single)
