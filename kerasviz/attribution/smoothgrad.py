"""SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies.

`M(x) = 1/n sum_k grad S(x + eps_k)`, `eps_k ~ N(0, sigma^2)` with sigma a
fraction of each image's value range (`noise=0.15`, as PAIR's reference), so the
setting means the same for [0, 1] images and caffe-preprocessed ones.

Noise rows from every image are streamed through ONE compiled gradient step in
fixed-size chunks and summed on the fly: memory is bounded by `sample_batch_size`,
whatever `samples` and the number of images are. Noise sample k is drawn from
the stateless seed `(seed, k)`, the same for every image, so a batch gives the
same maps as one image at a time, and the same seed the same maps. Rows are
numbered, not stored (row r is image r // samples with noise sample
r % samples), so `samples=10**8` runs in bounded memory, with a progress bar.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution._common import (
    accumulate_gradients,
    check_reduce,
    check_rows,
    finish,
    prepare,
    reduce_channels,
    resolve_targets,
    step_for,
)
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_bool, check_int, check_number, check_seed, renamed_arguments

DEFAULT_SAMPLES = 50


@tf.function(reduce_retracing=True)
def _standard_noise(sample_ids, shape, seed):
    """`(n, *shape)` standard normal noise; row r from the stateless seed (seed, sample_ids[r])."""
    draw = lambda k: tf.random.stateless_normal(shape, seed=tf.stack([seed, k]))
    return tf.map_fn(draw, sample_ids, fn_output_signature=tf.float32)


def noise_rows(x: tf.Tensor, sigma: np.ndarray, image_ids: np.ndarray, sample_ids: np.ndarray, seed: int) -> tf.Tensor:
    """Noisy copies `x[image_ids] + sigma[image_ids] * eps(sample_ids)`, built in-graph."""
    shape, seed = tf.constant(x.shape[1:], tf.int32), tf.constant(seed, tf.int32)
    eps = _standard_noise(tf.constant(sample_ids, tf.int32), shape, seed)
    scale = tf.reshape(tf.constant(sigma[image_ids], tf.float32), (-1,) + (1,) * (len(x.shape) - 1))
    return tf.gather(x, image_ids) + scale * eps


def smoothgrad(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    noise: float = 0.15,
    samples: int | None = None,
    squared: bool = False,
    reduce: str | None = None,
    seed: int = 0,
    output: OutputSpec = None,
    input: InputSpec = None,
    sample_batch_size: int = 32,
    progress: bool = True,
    **renamed,
) -> np.ndarray:
    """SmoothGrad: the mean gradient over `samples` noisy copies of each image.

    Works on functional, Sequential, nested and subclassed models.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (channels first for a channels-first model).
        target: None (class predicted on the clean image), an int, a list of
            ints, or a callable `score(outputs) -> (N,)`.
        noise: noise std as a fraction of each image's `max - min` (paper:
            0.10-0.20), >= 0. 0 gives the plain gradient.
        samples: noisy copies per image, >= 1 (default 50; capped in quick mode
            only when not given). Any number: rows are streamed, never stored.
        squared: average squared gradients (SmoothGrad-squared, PAIR's
            `magnitude=True`); the result is then non-negative.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        seed: noise seed; the same seed gives the same map.
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        sample_batch_size: noisy copies per compiled call (bounds memory;
            formerly `batch_size`, still accepted with a warning).
        progress: show a progress bar (when there is more than one chunk).

    Returns:
        float32 with the images' shape (or `(N, H, W)` when reduced); batch
        axis dropped for a single image.

    Raises:
        KerasvizError: bad images, target, output or settings (named).

    Example:
        >>> sg = kv.smoothgrad(model, images, noise=0.15, samples=50, reduce="max_abs")
    """
    sample_batch_size = renamed_arguments(
        "smoothgrad",
        renamed,
        {"batch_size": "sample_batch_size"},
        {"sample_batch_size": sample_batch_size},
        {"sample_batch_size": 32},
    )["sample_batch_size"]
    samples = max_steps(DEFAULT_SAMPLES, quick=8) if samples is None else check_int(samples, "samples", minimum=1)
    noise = check_number(noise, "noise", minimum=0.0)
    squared, progress = check_bool(squared, "squared"), check_bool(progress, "progress")
    reduce, seed = check_reduce(reduce), check_seed(seed)
    p = prepare(model, images, target, output, input)
    n = len(p.x)
    sample_batch_size = check_rows(model, p.x, sample_batch_size, n * samples, "sample_batch_size")
    _, targets = resolve_targets(model, p.x, p.targets, p.output, side=p.side, input=p.input)
    flat = tf.reshape(p.x, (n, -1))
    sigma = (noise * (tf.reduce_max(flat, 1) - tf.reduce_min(flat, 1))).numpy()
    step = step_for(model, targets, output=p.output, input=p.input)
    total = accumulate_gradients(  # row r = (image r // samples, noise sample r % samples)
        step,
        lambda rows: noise_rows(p.x, sigma, rows // samples, rows % samples, seed),
        n * samples,
        lambda rows: rows // samples,
        lambda rows: np.full(len(rows), 1.0 / samples, np.float32),
        n,
        targets,
        square=squared,
        batch_size=sample_batch_size,
        progress=progress,
        desc="smoothgrad",
        side=p.side,
    )
    return finish(reduce_channels(total, reduce), p.single, model)
