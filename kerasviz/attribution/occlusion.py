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

import keras
import numpy as np
import tensorflow as tf

from kerasviz.attribution._common import (
    RowTargets,
    check_rows,
    finish,
    image_like,
    prepare,
    resolve_targets,
    row_scores,
)
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.precision import check_precision, perturbation_variant
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_bool, renamed_arguments


def _sides(value, name, limit: tuple) -> tuple:
    """A positive int or one int per position axis ((height, width); (length,) for signals), each at most the side."""
    axes = len(limit)
    items = (value,) * axes if isinstance(value, (numbers.Integral, np.integer)) else value
    is_int = lambda v: isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))
    if not isinstance(items, (tuple, list, np.ndarray)) or len(items) != axes or not all(is_int(v) for v in items):
        what = "(height, width) ints" if axes == 2 else f"{axes} ints (one per position axis)"
        raise ArgumentTypeError(f"`{name}` must be a positive int or {what}; got {value!r}.")
    sides = tuple(int(v) for v in items)
    if min(sides) < 1:
        raise InvalidArgumentError(f"`{name}` must be >= 1; got {value!r}.")
    if any(p > l for p, l in zip(sides, limit)):
        raise InvalidArgumentError(f"`{name}` {sides} is larger than the images ({'x'.join(map(str, limit))}).")
    return sides


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
        positions = tuple(range(1, len(x.shape) - 1))
        return tf.broadcast_to(tf.reduce_mean(x, axis=positions, keepdims=True), x.shape)
    return tf.constant(image_like(baseline, "baseline", model, x))


def occlusion(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    patch: int | tuple = None,
    stride: int | tuple = None,
    baseline: float | str | np.ndarray = 0.0,
    output: OutputSpec = None,
    input: InputSpec = None,
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
            (channels first for a channels-first model); signals `(T, C)` /
            `(N, T, C)` for a 1-D model (windows slide along time), volumes
            `(N, D, H, W, C)` for a 3-D one.
        target: None (class predicted on the clean image), an int, a list of
            ints, or a callable `score(outputs) -> (N,)`.
        patch: window side (int or (h, w); int or (t,) for signals); default
            1/8 of the shorter side.
        stride: window step; default half the patch. Must not exceed the patch
            (every pixel covered).
        baseline: occluder value in the model's input space: a number (0 is
            the mean colour for caffe-preprocessed VGG16, black for [0, 1]
            images), "mean" (each image's mean colour), per-channel values
            `(C,)`, or an image / batch in the model's layout.
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
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
        for one image; `(N, T)` for signals.

    Raises:
        KerasvizError: bad images, target, output, patch, stride, baseline or settings (named).

    Example:
        >>> heat = kv.occlusion(model, images, patch=8, stride=4)
    """
    mask_batch_size = renamed_arguments(
        "occlusion",
        renamed,
        {"batch_size": "mask_batch_size"},
        {"mask_batch_size": mask_batch_size},
        {"mask_batch_size": 64},
    )["mask_batch_size"]
    progress = check_bool(progress, "progress")
    precision = check_precision(precision)
    p = prepare(model, images, target, output, input)
    x = p.x
    n, sizes = int(x.shape[0]), tuple(int(v) for v in x.shape[1:-1])  # (H, W); (T,) for signals
    patches = _sides(patch if patch is not None else max(1, min(sizes) // 8), "patch", sizes)
    strides = _sides(stride if stride is not None else tuple(max(1, v // 2) for v in patches), "stride", sizes)
    if any(s > q for s, q in zip(strides, patches)):
        raise InvalidArgumentError(
            f"`stride` {strides} exceeds `patch` {patches}: some pixels would never be occluded."
        )
    fill = _fill(x, baseline, model)
    starts = [window_starts(v, q, s) for v, q, s in zip(sizes, patches, strides)]
    windows = np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, len(sizes))
    k = len(windows)
    mask_batch_size = check_rows(model, x, mask_batch_size, n * k, "mask_batch_size")
    _, scoring = perturbation_variant(model, precision)
    clean, targets = resolve_targets(model, x, p.targets, p.output, side=p.side, input=p.input)
    rank = len(sizes)
    coords = [
        tf.reshape(tf.range(v), [1] + [v if j == i else 1 for j in range(rank)] + [1]) for i, v in enumerate(sizes)
    ]

    def make_rows(rows):  # row = (image rows // k, window rows % k)
        inside = None
        for axis, (coord, size) in enumerate(zip(coords, patches)):
            start = tf.reshape(tf.constant(windows[rows % k, axis]), (-1,) + (1,) * (rank + 1))
            here = (coord >= start) & (coord < start + size)
            inside = here if inside is None else inside & here
        mask = tf.cast(inside, tf.float32)
        ids = rows // k
        return tf.gather(x, ids) * (1 - mask) + tf.gather(fill, ids) * mask

    row_targets = targets if callable(targets) else RowTargets(targets, lambda rows: rows // k)
    occluded, _ = row_scores(
        scoring,
        make_rows,
        n * k,
        row_targets,
        batch_size=mask_batch_size,
        progress=progress,
        desc="occlusion",
        output=p.output,
        side=p.side,
        image_of=lambda rows: rows // k,
        input=p.input,
    )
    drops = clean[:, None] - occluded.reshape(n, k)
    heat, count = np.zeros((n,) + sizes, np.float64), np.zeros(sizes, np.float64)
    for i, start in enumerate(windows):
        box = tuple(slice(a, a + q) for a, q in zip(start, patches))
        heat[(slice(None),) + box] += drops[:, i].reshape((-1,) + (1,) * rank)
        count[box] += 1
    return finish(heat / count, p.single)
