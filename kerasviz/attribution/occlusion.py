"""Occlusion sensitivity (Zeiler & Fergus 2014).

Slide a patch of `baseline` over the image and record how much the target
score drops; each pixel gets the average drop over all windows covering it
(Captum's convention; summing instead under-weights the borders). All occluded
copies of all images go through one compiled forward in chunks of
`mask_batch_size`; the masks are built in-graph from the window positions, and
rows are numbered, not stored (row r is image r // windows, window r % windows).
With `precision="bfloat16"` (or "auto" on hardware that runs it natively) the
occluded copies run through the model's bfloat16 variant, whose classifier
head stays float32 (`kerasviz.core.precision`); the clean pass, the drops and
their averages stay float32 / float64.
"""

from __future__ import annotations

import numbers
from typing import Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz.attribution._common import (
    RowTargets, check_rows, finish, image_like, prepare, resolve_targets, row_scores,
)
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.precision import check_precision, perturbation_variant
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_bool, renamed_arguments


def _pair(value, name, limit: tuple) -> tuple[int, int]:
    """A positive int or an (height, width) pair of them, each at most the image side."""
    items = (value, value) if isinstance(value, (numbers.Integral, np.integer)) else value
    is_int = lambda v: isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))
    if not isinstance(items, (tuple, list, np.ndarray)) or len(items) != 2 or not all(is_int(v) for v in items):
        raise ArgumentTypeError(f"`{name}` must be a positive int or (height, width) ints; got {value!r}.")
    pair = int(items[0]), int(items[1])
    if min(pair) < 1:
        raise InvalidArgumentError(f"`{name}` must be >= 1; got {value!r}.")
    if pair[0] > limit[0] or pair[1] > limit[1]:
        raise InvalidArgumentError(f"`{name}` {pair} is larger than the images ({limit[0]}x{limit[1]}).")
    return pair


def window_starts(size: int, patch: int, stride: int) -> np.ndarray:
    """Window offsets along one axis; the last window always touches the border."""
    if patch > size:
        raise InvalidArgumentError(f"`patch` {patch} is larger than the image side {size}.")
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.asarray(starts, np.int32)


def _fill(x: tf.Tensor, baseline, model) -> tf.Tensor:
    """The occluder per image `(N, H, W, C)`: a number, "mean" colour, or an array."""
    if isinstance(baseline, str):
        if baseline != "mean":
            raise InvalidArgumentError(f"`baseline` must be a number, 'mean' or an array; got {baseline!r}.")
        return tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), x.shape)
    return tf.constant(image_like(baseline, "baseline", model, x))


def occlusion(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    patch: Union[int, tuple] = None,
    stride: Union[int, tuple] = None,
    baseline: Union[float, str, np.ndarray] = 0.0,
    output: OutputSpec = None,
    mask_batch_size: int = 64,
    precision: str = "auto",
    progress: bool = True,
    **renamed,
) -> np.ndarray:
    """Occlusion map: the mean score drop when a patch covering each pixel is replaced.

    Works on functional, Sequential, nested and subclassed models.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (channels first for a channels-first model).
        target: None (class predicted on the clean image), an int, a list of
            ints, or a callable `score(outputs) -> (N,)`.
        patch: window side (int or (h, w)); default 1/8 of the shorter side.
        stride: window step; default half the patch. Must not exceed the patch
            (every pixel covered).
        baseline: occluder value in the model's input space: a number (0 is
            the mean colour for caffe-preprocessed VGG16, black for [0, 1]
            images), "mean" (each image's mean colour), per-channel values
            `(C,)`, or an image / batch in the model's layout.
        output: which output of a multi-output model (index, name or dict key).
        mask_batch_size: occluded copies per compiled call (bounds memory;
            formerly `batch_size`, still accepted with a warning).
        precision: compute precision of the occluded passes: "auto" (bfloat16
            where this machine runs it natively, see
            `kerasviz.core.precision.bfloat16_support`, else float32),
            "float32" or "bfloat16". The clean pass, the classifier head and
            the averaging stay float32 (a subclassed model, which cannot be
            rebuilt in bfloat16, stays float32 under "auto").
        progress: show a progress bar (when there is more than one chunk).

    Returns:
        `(N, H, W)` float32 (positive: occluding here lowers the score); `(H, W)`
        for one image.

    Raises:
        KerasvizError: bad images, target, output, patch, stride, baseline or settings (named).

    Example:
        >>> heat = kv.occlusion(model, images, patch=8, stride=4)
    """
    mask_batch_size = renamed_arguments(
        "occlusion", renamed, {"batch_size": "mask_batch_size"},
        {"mask_batch_size": mask_batch_size}, {"mask_batch_size": 64},
    )["mask_batch_size"]
    progress = check_bool(progress, "progress")
    precision = check_precision(precision)
    p = prepare(model, images, target, output)
    x = p.x
    n, h, w = x.shape[:3]
    ph, pw = _pair(patch if patch is not None else max(1, min(h, w) // 8), "patch", (h, w))
    sh, sw = _pair(stride if stride is not None else (max(1, ph // 2), max(1, pw // 2)), "stride", (h, w))
    if sh > ph or sw > pw:
        raise InvalidArgumentError(
            f"`stride` {(sh, sw)} exceeds `patch` {(ph, pw)}: some pixels would never be occluded."
        )
    fill = _fill(x, baseline, model)
    tops, lefts = window_starts(h, ph, sh), window_starts(w, pw, sw)
    windows = np.stack(np.meshgrid(tops, lefts, indexing="ij"), -1).reshape(-1, 2)
    k = len(windows)
    mask_batch_size = check_rows(model, x, mask_batch_size, n * k, "mask_batch_size")
    _, scoring = perturbation_variant(model, precision)
    clean, targets = resolve_targets(model, x, p.targets, p.output)
    r, c = tf.range(h)[None, :, None, None], tf.range(w)[None, None, :, None]

    def make_rows(rows):  # row = (image rows // k, window rows % k)
        top, left = (tf.constant(windows[rows % k, i])[:, None, None, None] for i in (0, 1))
        mask = tf.cast((r >= top) & (r < top + ph) & (c >= left) & (c < left + pw), tf.float32)
        ids = rows // k
        return tf.gather(x, ids) * (1 - mask) + tf.gather(fill, ids) * mask

    row_targets = targets if callable(targets) else RowTargets(targets, lambda rows: rows // k)
    occluded, _ = row_scores(
        scoring, make_rows, n * k, row_targets, batch_size=mask_batch_size, progress=progress, desc="occlusion",
        output=p.output,
    )
    drops = clean[:, None] - occluded.reshape(n, k)
    heat, count = np.zeros((n, h, w), np.float64), np.zeros((h, w), np.float64)
    for i, (top, left) in enumerate(windows):
        heat[:, top : top + ph, left : left + pw] += drops[:, i, None, None]
        count[top : top + ph, left : left + pw] += 1
    return finish(heat / count, p.single)
