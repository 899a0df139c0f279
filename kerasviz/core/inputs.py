"""Validate images against a model's input: rank, channels, size, dtype, finiteness."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.core.graph import model_input


def expected_image_shape(model) -> tuple:
    """The model's input shape without the batch axis, `(H, W, C)` (H, W may be None)."""
    shape = tuple(model_input(model).shape[1:])
    if len(shape) != 3:
        raise ValueError(
            f"Model {model.name!r} takes inputs of shape {(None,) + shape}, not images "
            "(N, H, W, C); kerasviz works on image models."
        )
    return shape


def _to_array(images):
    if isinstance(images, (tf.Tensor, tf.Variable)):
        return images
    array = np.asarray(images)
    if array.dtype == object:
        raise TypeError("`images` must be a numeric array (N, H, W, C) or (H, W, C); got an object array.")
    return array


def as_image_batch(images, model, *, name: str = "images") -> tuple[tf.Tensor, bool]:
    """Check `images` against `model` and return a float32 batch.

    Accepts one image `(H, W, C)` or a batch `(N, H, W, C)` (for one-channel
    models also `(H, W)` and `(N, H, W)`), as numpy or tensor, float or integer.
    Integers (e.g. uint8 photos) are cast to float32 without rescaling: images
    are always in the model's own input space.

    Returns:
        `(batch, single)`: a float32 tensor `(N, H, W, C)` and whether a single
        image was given (so callers can drop the batch axis again).

    Raises:
        TypeError: non-numeric or boolean data.
        ValueError: wrong rank, channel count or size, empty batch, NaN or Inf.
    """
    array = _to_array(images)
    dtype = tf.as_dtype(array.dtype)
    if dtype.is_bool or not (dtype.is_floating or dtype.is_integer):
        raise TypeError(f"`{name}` must hold numbers (float or integer); got dtype {dtype.name}.")
    h, w, c = expected_image_shape(model)
    shape = tuple(array.shape)
    single = len(shape) in (2, 3)
    if len(shape) == 2 and c == 1:
        array = tf.reshape(array, (1,) + shape + (1,))
    elif len(shape) == 3 and c == 1 and shape[-1] != 1:
        array = tf.expand_dims(array, -1)  # a batch of grayscale images (N, H, W)
        single = False
    elif len(shape) == 3:
        array = tf.expand_dims(array, 0)
    elif len(shape) != 4:
        raise ValueError(
            f"`{name}` must be one image (H, W, C) or a batch (N, H, W, C); got shape {shape}. "
            f"Model {model.name!r} expects (N, {h}, {w}, {c})."
        )
    batch = tf.cast(array, tf.float32)
    n, bh, bw, bc = batch.shape
    if bc != c:
        raise ValueError(
            f"Model {model.name!r} expects {c} channel(s) (input (None, {h}, {w}, {c})); `{name}` "
            f"has {bc} (shape {shape})."
            + (" Repeat a grayscale image to RGB with np.repeat(img[..., None], 3, -1)." if bc == 1 and c == 3 else "")
        )
    if (h is not None and bh != h) or (w is not None and bw != w):
        raise ValueError(
            f"Model {model.name!r} expects images of {h}x{w} pixels; `{name}` is {bh}x{bw} "
            "(resize with kv.sample_image(size=...) or tf.image.resize)."
        )
    if n == 0:
        raise ValueError(f"`{name}` is an empty batch.")
    if not bool(tf.reduce_all(tf.math.is_finite(batch))):
        bad = int(tf.reduce_sum(tf.cast(~tf.math.is_finite(batch), tf.int32)))
        raise ValueError(f"`{name}` contains {bad} NaN or Inf value(s); images must be finite.")
    return batch, single


def batches(n: int, batch_size: int):
    """Slices `[start, stop)` covering `range(n)` in chunks of `batch_size`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
