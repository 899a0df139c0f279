"""Shared plumbing of the attribution methods (methods stay thin).

- `prepare`: check the model, images, target and `output=` once, before any
  model work, and read targets (-1 = predicted class, resolved in-graph by
  one-pass methods); `resolve_targets` fixes the class predicted on the clean
  input for methods that evaluate other points (IG / SmoothGrad must explain
  the class predicted on x, not on each path or noise point).
- `accumulate_gradients`: stream many perturbed rows (noise samples, path
  points) through ONE compiled gradient step in fixed-size chunks, summing
  weighted gradients per image. Rows are described by functions of the row
  index, never materialised: memory is bounded by the chunk, whatever
  `samples` or `steps` asks for.
- `row_scores`: generated rows through the core compiled forward-only scorer.
- `reduce_channels` / `finish`: channel reductions, single-image handling and
  the model's layout for input-shaped maps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import forward_scorer, forward_scores, gradient_step, require_graph
from kerasviz.core.graph import check_model
from kerasviz.core.inputs import as_model_batch, batches, chunk_count, from_model_layout, to_model_layout
from kerasviz.core.memory import check_rows_per_call
from kerasviz.core.model_inputs import NO_SIDE, SideInputs
from kerasviz.core.outputs import resolve_output
from kerasviz.core.relu_rules import relu_rule_substitute
from kerasviz.core.targets import Target, target_vector
from kerasviz.core.validate import check_bool, check_finite_array, check_int, check_optional_choice

REDUCTIONS = ("max_abs", "sum_abs", "sum", "mean", "l2")


@dataclass
class Prepared:
    """Checked input of an attribution call.

    Attributes:
        model: the user's model.
        x: float32 `(N, H, W, C)` channels-last batch.
        single: one image was given (drop the batch axis of the result).
        targets: the callable target, or int32 `(N,)` classes (-1: predicted).
        output: the resolved `output=` (an index; the user's spec for subclassed models).
        side: the other inputs of a multi-input model, row-aligned with `x`
            (held fixed; `side.take(image_of(rows))` for generated rows).
        input: the explained input's index in `model.inputs`.
    """

    model: object
    x: tf.Tensor
    single: bool
    targets: object
    output: object
    side: SideInputs = NO_SIDE
    input: int = 0

    def __iter__(self):  # `x, single, targets = prepare(...)`
        return iter((self.x, self.single, self.targets))


def step_for(model, target: Target, *, rule: str | None = None, layers=(), output=0, input=0):
    """The cached compiled gradient step for a target kind (and optional ReLU rule)."""
    if rule:
        require_graph(model, f"{rule} backpropagation")
    score = target if callable(target) else None
    substitute = relu_rule_substitute(rule) if rule else None
    return gradient_step(model, tuple(layers), score=score, substitute=substitute, key=rule, output=output, input=input)


def prepare(model, images, target: Target, output=None, input=None) -> Prepared:
    """Validate `model`, `images`, `output=`, `input=` and `target`; see `Prepared`.

    Integer targets become int32 classes `(N,)` where -1 means the predicted
    class (compiled steps resolve it in-graph); a callable is kept as is.
    """
    check_model(model)
    index = resolve_output(model, output)
    batch = as_model_batch(images, model, input=input)
    x, single, side = batch.x, batch.single, batch.side
    if callable(target):
        return Prepared(model, x, single, target, index, side, batch.index)
    step = step_for(model, None, output=index, input=batch.index)
    targets = target_vector(target, len(x), step.num_outputs_for(x), allow_predicted=True)
    return Prepared(model, x, single, targets, index, side, batch.index)


def resolve_targets(model, x: tf.Tensor, targets, output=0, *, side: SideInputs | None = NO_SIDE, input=0):
    """Scores on the clean images `(N,)` and the targets with -1 replaced by
    the class predicted there (one forward pass; callables pass through)."""
    scores, classes = forward_scores(model, x, targets, output=output, prepared=True, side=side, input=input)
    return scores, (targets if callable(targets) else classes.astype(np.int32))


def row_targets(targets, image_ids: np.ndarray):
    """Per-row targets for rows drawn from images `image_ids` (callables pass through)."""
    return None if callable(targets) else targets[image_ids]


def check_rows(model, x: tf.Tensor, rows_per_call: int, n_rows: int, name: str) -> int:
    """`rows_per_call` (checked to be an int >= 1) capped at `n_rows`, refused if it cannot fit in memory."""
    rows_per_call = check_int(rows_per_call, name, minimum=1)
    check_rows_per_call(model, min(rows_per_call, n_rows), name, tuple(x.shape[1:]))
    return rows_per_call


def row_scores(
    model,
    make_rows: Callable[[np.ndarray], tf.Tensor],
    n_rows: int,
    targets,
    *,
    probabilities: bool = False,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "scores",
    output=0,
    side: SideInputs | None = None,
    image_of: Callable[[np.ndarray], np.ndarray] | None = None,
    input=0,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-only scores of `n_rows` generated rows, chunk by chunk through one compiled call.

    Args:
        make_rows: row indices `(n,)` -> input rows `(n, H, W, C)`.
        targets: int32 `(n_rows,)` classes per row (-1: argmax), a function
            `rows -> classes`, or a callable target.
        probabilities: softmax (sigmoid for one output) of the logits.
        side: the other inputs per image (a multi-input model), held fixed;
            row r gets image `image_of(r)`'s (default: row r is image r).

    Returns:
        `(scores, classes)`, each `(n_rows,)` numpy.
    """
    score = targets if _is_target_callable(targets) else None
    scorer = forward_scorer(model, score, probabilities=probabilities, output=output, input=input)
    scores, classes = [], []
    with progress_bar(chunk_count(n_rows, batch_size), desc, progress) as bar:
        for s in batches(n_rows, batch_size):
            rows = np.arange(s.start, s.stop)
            chosen_targets = _targets_of(targets, rows)
            rows_side = None if side is None else side.take(image_of(rows) if image_of is not None else rows)
            value, chosen = scorer(make_rows(rows), chosen_targets, rows_side)
            scores.append(value.numpy())
            classes.append(chosen.numpy())
            bar.update(1)
    return np.concatenate(scores), np.concatenate(classes)


class RowTargets:
    """Per-row classes of generated rows: `RowTargets(classes, image_of)[rows] = classes[image_of(rows)]`."""

    def __init__(self, classes: np.ndarray, image_of: Callable[[np.ndarray], np.ndarray]):
        self.classes, self.image_of = np.asarray(classes, np.int32), image_of

    def __call__(self, rows):
        return self.classes[self.image_of(rows)]


def _is_target_callable(targets) -> bool:
    return callable(targets) and not isinstance(targets, RowTargets)


def _targets_of(targets, rows):
    if isinstance(targets, RowTargets):
        return targets(rows)
    if callable(targets):
        return np.full(len(rows), -1, np.int32)
    return np.asarray(targets, np.int32)[rows]


def accumulate_gradients(
    step,
    make_rows: Callable[[np.ndarray], tf.Tensor],
    n_rows: int,
    image_of: Callable[[np.ndarray], np.ndarray],
    weight_of: Callable[[np.ndarray], np.ndarray],
    n_images: int,
    targets,
    *,
    square: bool = False,
    batch_size: int = 32,
    progress: bool = False,
    desc: str = "gradients",
    side: SideInputs | None = None,
) -> np.ndarray:
    """`acc[i] = sum_r weight(r) * grad(row r)` over the rows r of image i.

    Args:
        step: a `GradientStep` (one compiled function, fed chunk by chunk).
        make_rows: row indices `(n,)` -> input rows `(n, H, W, C)`.
        n_rows: number of rows.
        image_of: row indices -> image index of each row.
        weight_of: row indices -> quadrature / averaging weight of each row.
        n_images: number of accumulators.
        targets: int32 `(N,)` classes per image, or a callable target.
        square: accumulate squared gradients (SmoothGrad-squared).
        side: the other inputs of a multi-input model, one row per
            accumulator (row r gets `side.take(image_of(r))`).

    Returns:
        `(n_images, H, W, C)` float32 numpy array (`(n_images, *input)` for
        any input rank).
    """
    acc = None
    with progress_bar(chunk_count(n_rows, batch_size), desc, progress) as bar:
        for s in batches(n_rows, batch_size):
            rows = np.arange(s.start, s.stop)
            ids = image_of(rows)
            rows_side = None if side is None else side.take(ids)
            grads = tf.cast(step(make_rows(rows), row_targets(targets, ids), rows_side)[2], tf.float32)
            grads = tf.square(grads) if square else grads
            weighted = grads * per_row(weight_of(rows), grads)
            if acc is None:
                acc = tf.zeros((n_images,) + tuple(grads.shape[1:]), tf.float32)
            acc = tf.tensor_scatter_nd_add(acc, ids[:, None], weighted)
            bar.update(1)
    return acc.numpy()


def per_row(values, like: tf.Tensor) -> tf.Tensor:
    """`(n,)` values shaped to broadcast over rows of `like` (`(n, 1, ..., 1)`, any input rank)."""
    return tf.reshape(tf.constant(np.asarray(values, np.float32)), (-1,) + (1,) * (len(like.shape) - 1))


def check_reduce(reduce) -> str | None:
    """`reduce` is None or one of `REDUCTIONS`."""
    return check_optional_choice(reduce, "reduce", REDUCTIONS)


def reduce_channels(maps: np.ndarray, reduce: str | None) -> np.ndarray:
    """`(N, H, W, C)` -> `(N, H, W)` (`(N, T, C)` -> `(N, T)`) by `reduce`; None keeps the channels.

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
    raise InvalidArgumentError(f"`reduce` must be None or one of {REDUCTIONS}; got {reduce!r}.")


def finish(array: np.ndarray, single: bool, model=None) -> np.ndarray:
    """float32 numpy, batch axis dropped for a single input image.

    With `model`, an input-shaped map `(N, H, W, C)` is put back in the model's
    layout (`(N, C, H, W)` for channels-first models).
    """
    array = np.asarray(array, np.float32)
    if model is not None and array.ndim == 4:
        array = to_model_layout(array, model)
    return array[0] if single else array


def signed_gradients(
    model,
    images,
    target,
    *,
    rule=None,
    reduce=None,
    batch_size=32,
    progress=True,
    output=None,
    input=None,
):
    """d score / d input on a model variant (`rule` = ReLU backward rule): the
    shared body of gradient, saliency, guided backprop and deconvnet."""
    reduce = check_reduce(reduce)
    check_bool(progress, "progress")
    p = prepare(model, images, target, output, input)
    batch_size = check_rows(model, p.x, batch_size, len(p.x), "batch_size")
    step = step_for(model, p.targets, rule=rule, output=p.output, input=p.input)
    grads = accumulate_gradients(
        step,
        lambda rows: tf.gather(p.x, rows),
        len(p.x),
        lambda rows: rows,
        lambda rows: np.ones(len(rows), np.float32),
        len(p.x),
        p.targets,
        batch_size=batch_size,
        progress=progress,
        desc=rule or "gradient",
        side=p.side,
    )
    return finish(reduce_channels(grads, reduce), p.single, model)


def image_like(value, name: str, model, x: tf.Tensor, *, allow_batch: bool = True) -> np.ndarray:
    """A user array meant to be an image or a batch of them (a baseline, a substrate), channels last.

    Accepts the model's layout: `(H, W, C)`, `(N, H, W, C)` (with
    `allow_batch`), or anything that broadcasts to `(N, H, W, C)` (a
    per-channel colour `(C,)`); channels-first models take `(C, H, W)` /
    `(N, C, H, W)`. Signals `(T, C)` / `(N, T, C)` and volumes likewise.

    Raises:
        ArgumentTypeError: not numeric.
        InvalidArgumentError: NaN / Inf, beyond float32, or a shape that does not fit the images.
    """
    from kerasviz.core.inputs import is_channels_first

    array = check_finite_array(value, name)
    shape = tuple(x.shape)
    n, c, rank = shape[0], shape[-1], len(shape)
    image = rank == 4
    full = from_model_layout(array, model) if image and array.ndim >= 3 else array
    try:
        np.broadcast_shapes(full.shape, shape)
    except ValueError:
        full = None
    if full is None or full.ndim > rank or (full.ndim == rank and not allow_batch and full.shape[0] != 1):
        item = shape[1:]
        if image and is_channels_first(model):
            item = (c,) + item[:2]
        expected = "(" + ", ".join(map(str, item)) + ")"
        raise InvalidArgumentError(
            f"`{name}` of shape {array.shape} does not fit the images: give a number, one image {expected}, "
            f"{'a batch of ' + str(n) + ' images, ' if allow_batch else ''}or per-channel values ({c},)."
        )
    return np.broadcast_to(full, shape).astype(np.float32)


def gaussian_blur(x: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur of `(N, H, W, C)` images (or `(N, T, C)` signals) with reflected borders."""
    x = tf.convert_to_tensor(x, tf.float32)
    if sigma <= 0:
        return x
    if len(x.shape) == 3:
        return gaussian_blur_axes(x[:, :, None, :], sigma, (True, False))[:, :, 0, :]
    if len(x.shape) != 4:
        raise InvalidArgumentError(f"A Gaussian blur needs images or signals; got inputs of shape {tuple(x.shape)}.")
    return gaussian_blur_axes(x, sigma, (True, True))


def gaussian_blur_axes(x: tf.Tensor, sigma: float, axes: tuple) -> tf.Tensor:
    """Blur `(N, H, W, C)` along H and / or W (`axes` flags), reflected borders."""
    h, w, c = x.shape[1:]
    sides = [side for flag, side in zip(axes, (h, w)) if flag]
    radius = int(max(0, min([np.ceil(3 * sigma)] + [side - 1 for side in sides])))
    out = x
    for axis, flag in enumerate(axes):
        if not flag or radius == 0:
            continue
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        taps = (taps / taps.sum()).astype(np.float32)
        pad = [[0, 0], [radius, radius] if axis == 0 else [0, 0], [radius, radius] if axis == 1 else [0, 0], [0, 0]]
        kernel = taps[:, None, None, None] if axis == 0 else taps[None, :, None, None]
        out = tf.pad(out, pad, mode="REFLECT")
        out = tf.nn.depthwise_conv2d(out, tf.constant(np.tile(kernel, (1, 1, c, 1))), [1, 1, 1, 1], "VALID")
    return out
