"""Occlusion sensitivity (Zeiler & Fergus 2014).

Slide a patch of `baseline` over the image and record how much the target
score drops; each pixel gets the average drop over all windows covering it
(Captum's convention; PAIR sums, which under-weights borders). All occluded
copies of all images go through one compiled forward in chunks; the masks are
built in-graph from the window positions.
"""

from __future__ import annotations

from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz.attribution._common import finish, prepare, resolve_targets, row_scores
from kerasviz.core.targets import Target


def _pair(value, name) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or (height, width); got {value!r}.")
    return int(pair[0]), int(pair[1])


def window_starts(size: int, patch: int, stride: int) -> np.ndarray:
    """Window offsets along one axis; the last window always touches the border."""
    if patch > size:
        raise ValueError(f"patch {patch} is larger than the image side {size}.")
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.asarray(starts, np.int32)


def _fill(x: tf.Tensor, baseline) -> tf.Tensor:
    """The occluder per image `(N, H, W, C)`: a number, "mean" colour, or an array."""
    if isinstance(baseline, str):
        if baseline != "mean":
            raise ValueError(f"baseline must be a number, 'mean' or an array; got {baseline!r}.")
        return tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), x.shape)
    return tf.broadcast_to(tf.constant(np.asarray(baseline, np.float32)), x.shape)


def occlusion(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    patch: Union[int, tuple] = None,
    stride: Union[int, tuple] = None,
    baseline: Union[float, str, np.ndarray] = 0.0,
    batch_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    """Occlusion map: the mean score drop when a patch covering each pixel is replaced.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints, or a callable `score(outputs) -> (N,)`.
        patch: window side (int or (h, w)); default 1/8 of the shorter side.
        stride: window step; default half the patch. Must not exceed the patch
            (every pixel covered).
        baseline: occluder value in the model's input space: a number (0 is
            the mean colour for caffe-preprocessed VGG16, black for [0, 1]
            images), "mean" (each image's mean colour) or an array
            broadcastable to `(N, H, W, C)`.
        batch_size: occluded images per compiled call.
        progress: show a progress bar.

    Returns:
        `(N, H, W)` float32 (positive: occluding here lowers the score).

    Example:
        >>> heat = kv.occlusion(model, images, patch=8, stride=4)
    """
    x, single, targets = prepare(model, images, target)
    clean, targets = resolve_targets(model, x, targets)
    n, h, w = x.shape[:3]
    ph, pw = _pair(patch if patch is not None else max(1, min(h, w) // 8), "patch")
    sh, sw = _pair(stride if stride is not None else (max(1, ph // 2), max(1, pw // 2)), "stride")
    if sh > ph or sw > pw:
        raise ValueError(f"stride {(sh, sw)} exceeds patch {(ph, pw)}: some pixels would never be occluded.")
    tops, lefts = window_starts(h, ph, sh), window_starts(w, pw, sw)
    windows = np.stack(np.meshgrid(tops, lefts, indexing="ij"), -1).reshape(-1, 2)
    fill = _fill(x, baseline)
    image_ids = np.repeat(np.arange(n), len(windows))
    window_ids = np.tile(np.arange(len(windows)), n)
    r, c = tf.range(h)[None, :, None, None], tf.range(w)[None, None, :, None]

    def make_rows(rows):
        top, left = (tf.constant(windows[window_ids[rows], i])[:, None, None, None] for i in (0, 1))
        mask = tf.cast((r >= top) & (r < top + ph) & (c >= left) & (c < left + pw), tf.float32)
        ids = image_ids[rows]
        return tf.gather(x, ids) * (1 - mask) + tf.gather(fill, ids) * mask

    row_targets = targets if callable(targets) else targets[image_ids]
    occluded, _ = row_scores(model, make_rows, len(image_ids), row_targets, batch_size=batch_size, progress=progress, desc="occlusion")
    drops = clean[:, None] - occluded.reshape(n, len(windows))
    heat, count = np.zeros((n, h, w), np.float64), np.zeros((h, w), np.float64)
    for k, (top, left) in enumerate(windows):
        heat[:, top : top + ph, left : left + pw] += drops[:, k, None, None]
        count[top : top + ph, left : left + pw] += 1
    return finish(heat / count, single)
