"""Shared plumbing of the attribution methods (captum style: methods are thin).

- `prepare`: validate images once and read targets (-1 = predicted class,
  resolved in-graph by one-pass methods); `resolve_targets` fixes the class
  predicted on the clean input for methods that evaluate other points (IG /
  SmoothGrad must explain the class predicted on x, not on each path or
  noise point).
- `accumulate_gradients`: stream many perturbed rows (noise samples, path
  points) through ONE compiled gradient step in fixed-size chunks, summing
  weighted gradients per image: memory is bounded by the chunk, not by
  samples x images (xplique's SmoothGrad OOM).
- `row_scores`: generated rows through the core compiled forward-only scorer.
- `reduce_channels` / `finish`: channel reductions and single-image handling.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.gradients import forward_scorer, forward_scores, gradient_step
from kerasviz.core.inputs import as_image_batch, batches
from kerasviz.core.relu_rules import relu_rule_substitute
from kerasviz.core.targets import Target, target_vector

REDUCTIONS = ("max_abs", "sum_abs", "sum", "mean", "l2")


def step_for(model, target: Target, *, rule: Optional[str] = None, layers=()):
    """The cached compiled gradient step for a target kind (and optional ReLU rule)."""
    score = target if callable(target) else None
    substitute = relu_rule_substitute(rule) if rule else None
    return gradient_step(model, tuple(layers), score=score, substitute=substitute, key=rule)


def row_scores(
    model, make_rows: Callable[[np.ndarray], tf.Tensor], n_rows: int, targets, *,
    probabilities: bool = False, batch_size: int = 64, progress: bool = False, desc: str = "scores",
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-only scores of `n_rows` generated rows, chunk by chunk through one compiled call.

    Args:
        make_rows: row indices `(n,)` -> input rows `(n, H, W, C)`.
        targets: int32 `(n_rows,)` classes per row (-1: argmax), or a callable target.
        probabilities: softmax (sigmoid for one output) of the logits.

    Returns:
        `(scores, classes)`, each `(n_rows,)` numpy.
    """
    scorer = forward_scorer(model, targets if callable(targets) else None, probabilities=probabilities)
    targets = np.full((n_rows,), -1, np.int32) if callable(targets) else np.asarray(targets, np.int32)
    scores, classes = [], []
    chunks = list(batches(n_rows, batch_size))
    with progress_bar(len(chunks), desc, progress) as bar:
        for s in chunks:
            rows = np.arange(s.start, s.stop)
            value, chosen = scorer(make_rows(rows), targets[rows])
            scores.append(value.numpy())
            classes.append(chosen.numpy())
            bar.update(1)
    return np.concatenate(scores), np.concatenate(classes)


def prepare(model, images, target: Target):
    """Validate `images`; return `(x, single, targets)`.

    `targets` is the callable itself, or int32 classes `(N,)` where -1 means
    the predicted class (compiled steps resolve it in-graph).
    """
    x, single = as_image_batch(images, model)
    if callable(target):
        return x, single, target
    return x, single, target_vector(target, len(x), step_for(model, None).num_outputs, allow_predicted=True)


def resolve_targets(model, x: tf.Tensor, targets):
    """Scores on the clean images `(N,)` and the targets with -1 replaced by
    the class predicted there (one forward pass; callables pass through)."""
    scores, classes = forward_scores(model, x, targets)
    return scores, (targets if callable(targets) else classes.astype(np.int32))


def row_targets(targets, image_ids: np.ndarray):
    """Per-row targets for rows drawn from images `image_ids` (callables pass through)."""
    return None if callable(targets) else targets[image_ids]


def accumulate_gradients(
    step,
    make_rows: Callable[[np.ndarray], tf.Tensor],
    image_ids: np.ndarray,
    weights: np.ndarray,
    n_images: int,
    targets,
    *,
    square: bool = False,
    batch_size: int = 32,
    progress: bool = False,
    desc: str = "gradients",
) -> np.ndarray:
    """`acc[i] = sum_r weights[r] * grad(row r)` over the rows of image i.

    Args:
        step: a `GradientStep` (one compiled function, fed chunk by chunk).
        make_rows: row indices `(n,)` -> input rows `(n, H, W, C)`.
        image_ids: `(R,)` image index of each row.
        weights: `(R,)` quadrature / averaging weight of each row.
        n_images: number of accumulators.
        targets: int32 `(N,)` classes, or a callable target.
        square: accumulate squared gradients (SmoothGrad-squared).

    Returns:
        `(n_images, H, W, C)` float32 numpy array.
    """
    acc = None
    chunks = list(batches(len(image_ids), batch_size))
    with progress_bar(len(chunks), desc, progress) as bar:
        for s in chunks:
            rows = np.arange(s.start, s.stop)
            ids = image_ids[rows]
            grads = step(make_rows(rows), row_targets(targets, ids))[2]
            grads = tf.square(grads) if square else grads
            weighted = grads * tf.reshape(tf.constant(weights[rows], tf.float32), (-1, 1, 1, 1))
            if acc is None:
                acc = tf.zeros((n_images,) + tuple(grads.shape[1:]), tf.float32)
            acc = tf.tensor_scatter_nd_add(acc, ids[:, None], weighted)
            bar.update(1)
    return acc.numpy()


def reduce_channels(maps: np.ndarray, reduce: Optional[str]) -> np.ndarray:
    """`(N, H, W, C)` -> `(N, H, W)` by `reduce`; None keeps the channels.

    "max_abs" (Simonyan), "sum_abs" (PAIR's grayscale), "sum" (signed),
    "mean" (signed), "l2" (Euclidean norm over channels).
    """
    if reduce is None:
        return maps
    if reduce == "max_abs":
        return np.abs(maps).max(-1)
    if reduce == "sum_abs":
        return np.abs(maps).sum(-1)
    if reduce == "sum":
        return maps.sum(-1)
    if reduce == "mean":
        return maps.mean(-1)
    if reduce == "l2":
        return np.sqrt(np.square(maps).sum(-1))
    raise ValueError(f"Unknown reduce={reduce!r}; choose None or one of {REDUCTIONS}.")


def finish(array: np.ndarray, single: bool) -> np.ndarray:
    """float32 numpy, batch axis dropped for a single input image."""
    array = np.asarray(array, np.float32)
    return array[0] if single else array


def signed_gradients(model, images, target, *, rule=None, reduce=None, batch_size=32, progress=False):
    """d score / d input on a model variant (`rule` = ReLU backward rule): the
    shared body of saliency, guided backprop and deconvnet."""
    x, single, targets = prepare(model, images, target)
    step = step_for(model, targets, rule=rule)
    ids = np.arange(len(x))
    grads = accumulate_gradients(
        step, lambda rows: tf.gather(x, rows), ids, np.ones(len(x), np.float32), len(x), targets,
        batch_size=batch_size, progress=progress, desc=rule or "gradient",
    )
    return finish(reduce_channels(grads, reduce), single)


def gaussian_blur(x: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur of `(N, H, W, C)` images with reflected borders."""
    if sigma <= 0:
        return tf.convert_to_tensor(x, tf.float32)
    x = tf.convert_to_tensor(x, tf.float32)
    h, w, c = x.shape[1:]
    radius = int(min(np.ceil(3 * sigma), h - 1, w - 1))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    padded = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.constant(np.tile(taps[:, None, None, None], (1, 1, c, 1)))
    cols = tf.constant(np.tile(taps[None, :, None, None], (1, 1, c, 1)))
    out = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "VALID")
