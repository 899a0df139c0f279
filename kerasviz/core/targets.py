"""Targets: which scalar per sample a technique explains.

A target is `None` (each image's predicted class), an int (one class for all
images), a sequence of ints (one per image), or a callable
`score(outputs) -> (N,)` for models that are not classifiers. Class scores are
read on logits (see `graph.logits_substitute`).

Integer targets travel into compiled functions as data (an int vector, -1 for
"predicted"), so changing the class never retraces.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np
import tensorflow as tf

Target = Union[None, int, Sequence[int], np.ndarray, Callable]

PREDICTED = -1


def target_vector(target: Target, n: int, num_outputs: int | None, *, allow_predicted: bool = False) -> np.ndarray:
    """Integer targets as an int32 vector `(n,)`; -1 marks "the predicted class".

    Args:
        target: None (every entry -1), an int, or one int per image.
        n: number of images.
        num_outputs: number of classes, for the range check (None: no check).
        allow_predicted: also accept explicit -1 entries (e.g. `[3, -1]`:
            class 3 for the first image, the predicted class for the second);
            compiled steps resolve them in-graph.

    Raises:
        ValueError: wrong length, or a class index outside `[0, num_outputs)`
            (or below -1 with `allow_predicted`).
        TypeError: anything that is not None, an int, ints, or a callable.
    """
    if target is None:
        return np.full((n,), PREDICTED, np.int32)
    if callable(target):
        raise TypeError("target_vector takes integer targets; callables are scored directly.")
    values = np.asarray(target)
    if values.dtype.kind not in "iu":
        raise TypeError(
            f"`target` must be None, a class index, a list of class indices or a callable "
            f"score(outputs) -> (N,); got {target!r}."
        )
    values = np.broadcast_to(values, (n,)) if values.ndim == 0 else values
    if values.shape != (n,):
        raise ValueError(f"`target` has {values.size} entries for {n} images; give one per image or one int.")
    lowest = PREDICTED if allow_predicted else 0
    if num_outputs is not None and ((values < lowest).any() or (values >= num_outputs).any()):
        raise ValueError(
            f"`target` {values.tolist()} is out of range: the model has {num_outputs} outputs "
            f"(valid classes 0..{num_outputs - 1}{', or -1 for the predicted class' if allow_predicted else ''})."
        )
    return values.astype(np.int32)


def flat_outputs(outputs) -> tf.Tensor:
    """Model outputs as `(N, K)` float32 (e.g. LeNet's (N, 1, 1, 10) -> (N, 10))."""
    outputs = tf.convert_to_tensor(outputs)
    return tf.reshape(tf.cast(outputs, tf.float32), (tf.shape(outputs)[0], -1))


def class_scores(outputs, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Scores `(N,)` of integer targets (-1: argmax), and the classes used `(N,)`."""
    logits = flat_outputs(outputs)
    chosen = tf.where(targets < 0, tf.cast(tf.argmax(logits, axis=-1), tf.int32), targets)
    return tf.gather(logits, chosen, axis=1, batch_dims=1), chosen


def callable_scores(score: Callable, outputs) -> tf.Tensor:
    """`score(outputs)` checked to be one value per sample `(N,)`."""
    values = tf.convert_to_tensor(score(outputs))
    n = outputs.shape[0]
    if values.shape.rank != 1 or (n is not None and values.shape[0] not in (None, n)):
        raise ValueError(
            f"A callable target must return one score per sample, shape ({n},); got shape {tuple(values.shape)}."
        )
    return tf.cast(values, tf.float32)


def target_scores(outputs, targets: tf.Tensor, score: Callable | None = None, *, probabilities: bool = False):
    """Scores `(N,)` and classes `(N,)` inside a compiled step: the one place targets are read.

    Args:
        outputs: the model's outputs `(N, ...)` (logits for class targets).
        targets: int32 `(N,)` classes, -1 for the argmax; ignored with `score`.
        score: a callable target `score(outputs) -> (N,)` (classes are then -1).
        probabilities: read class scores on softmax (sigmoid for one output).
    """
    if score is not None:
        scores = callable_scores(score, outputs)
        return scores, tf.fill(tf.shape(scores), PREDICTED)
    logits = flat_outputs(outputs)
    if probabilities:
        logits = tf.nn.softmax(logits) if logits.shape[-1] != 1 else tf.sigmoid(logits)
    return class_scores(logits, targets)
