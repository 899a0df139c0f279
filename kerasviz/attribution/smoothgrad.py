"""SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies.

`M(x) = 1/n sum_k grad S(x + eps_k)`, `eps_k ~ N(0, sigma^2)` with sigma a
fraction of each image's value range (`noise=0.15`, as PAIR's reference), so the
setting means the same for [0, 1] images and caffe-preprocessed ones.

Noise rows from every image are streamed through ONE compiled gradient step in
fixed-size chunks and summed on the fly: memory is bounded by `batch_size`,
whatever `samples` and the number of images are. Noise sample k is drawn from
the stateless seed `(seed, k)`, the same for every image, so a batch gives the
same maps as one image at a time, and the same seed the same maps.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution._common import accumulate_gradients, finish, prepare, reduce_channels, resolve_targets, step_for
from kerasviz.core.targets import Target

DEFAULT_SAMPLES = 50


@tf.function(reduce_retracing=True)
def _standard_noise(sample_ids, shape, seed):
    """`(n, *shape)` standard normal noise; row r from the stateless seed (seed, sample_ids[r])."""
    draw = lambda k: tf.random.stateless_normal(shape, seed=tf.stack([seed, k]))
    return tf.map_fn(draw, sample_ids, fn_output_signature=tf.float32)


def noise_rows(x: tf.Tensor, sigma: np.ndarray, image_ids: np.ndarray, sample_ids: np.ndarray, seed: int) -> tf.Tensor:
    """Noisy copies `x[image_ids] + sigma[image_ids] * eps(sample_ids)`, built in-graph."""
    eps = _standard_noise(tf.constant(sample_ids, tf.int32), tf.constant(x.shape[1:], tf.int32), tf.constant(seed, tf.int32))
    scale = tf.reshape(tf.constant(sigma[image_ids], tf.float32), (-1, 1, 1, 1))
    return tf.gather(x, image_ids) + scale * eps


def smoothgrad(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    noise: float = 0.15,
    samples: Optional[int] = None,
    squared: bool = False,
    reduce: Optional[str] = None,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """SmoothGrad: the mean gradient over `samples` noisy copies of each image.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints, or a callable `score(outputs) -> (N,)`.
        noise: noise std as a fraction of each image's `max - min` (paper:
            0.10-0.20). 0 gives the plain gradient.
        samples: noisy copies per image (default 50; capped in quick mode
            when not given).
        squared: average squared gradients (SmoothGrad-squared, PAIR's
            `magnitude=True`); the result is then non-negative.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        seed: noise seed; the same seed gives the same map.
        batch_size: noisy copies per compiled call (bounds memory).
        progress: show a progress bar.

    Returns:
        `(N, H, W, C)` float32 (or `(N, H, W)` when reduced; batch axis
        dropped for a single image).

    Example:
        >>> sg = kv.smoothgrad(model, images, noise=0.15, samples=50, reduce="max_abs")
    """
    samples = max_steps(DEFAULT_SAMPLES, quick=8) if samples is None else int(samples)
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}.")
    if noise < 0:
        raise ValueError(f"noise must be >= 0 (a fraction of the input range), got {noise}.")
    x, single, targets = prepare(model, images, target)
    _, targets = resolve_targets(model, x, targets)
    n = len(x)
    flat = tf.reshape(x, (n, -1))
    sigma = (noise * (tf.reduce_max(flat, 1) - tf.reduce_min(flat, 1))).numpy()
    image_ids = np.repeat(np.arange(n), samples)
    sample_ids = np.tile(np.arange(samples), n)
    step = step_for(model, targets)
    total = accumulate_gradients(
        step, lambda rows: noise_rows(x, sigma, image_ids[rows], sample_ids[rows], seed),
        image_ids, np.full(len(image_ids), 1.0 / samples, np.float32), n, targets,
        square=squared, batch_size=batch_size, progress=progress, desc="smoothgrad",
    )
    return finish(reduce_channels(total, reduce), single)
