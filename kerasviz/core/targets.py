"""Targets: which scalar per sample a technique explains.

A target is `None` (each image's predicted class), an int (one class for all
images), a sequence of ints (one per image), or a callable
`score(outputs) -> (N,)` for models that are not classifiers. Class scores are
read on logits (see `graph.logits_substitute`).

Integer targets travel into compiled functions as data (an int vector, -1 for
"predicted"), so changing the class never retraces.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Union

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError

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
        raise ArgumentTypeError("target_vector takes integer targets; callables are scored directly.")
    try:
        values = np.asarray(target)
    except (ValueError, TypeError):
        values = np.asarray(None, object)
    if values.dtype.kind not in "iu" or isinstance(target, (bool, np.bool_)):
        text = repr(target) if len(repr(target)) <= 60 else repr(target)[:57] + "..."
        raise ArgumentTypeError(
            f"`target` must be None, a class index, a list of class indices or a callable "
            f"score(outputs) -> (N,); got {text}."
        )
    values = np.broadcast_to(values, (n,)) if values.ndim == 0 else values
    if values.shape != (n,):
        raise InvalidArgumentError(f"`target` has {values.size} entries for {n} images; give one per image or one int.")
    lowest = PREDICTED if allow_predicted else 0
    if num_outputs is not None and ((values < lowest).any() or (values >= num_outputs).any()):
        raise InvalidArgumentError(
            f"`target` {values.tolist()} is out of range: the model has {num_outputs} outputs "
            f"(valid classes 0..{num_outputs - 1}{', or -1 for the predicted class' if allow_predicted else ''})."
        )
    return values.astype(np.int32)


def flat_outputs(outputs) -> tf.Tensor:
    """Model outputs as `(N, K)` float32 (e.g. LeNet's (N, 1, 1, 10) -> (N, 10))."""
    outputs = tf.convert_to_tensor(outputs)
    # The width is static whenever the output's trailing shape is (a compiled step retraced for a new
    # batch size has an unknown batch axis, and a -1 would then make the width unknown too).
    width = outputs.shape[1:].num_elements()
    return tf.reshape(tf.cast(outputs, tf.float32), (tf.shape(outputs)[0], -1 if width is None else width))


def class_scores(outputs, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Scores `(N,)` of integer targets (-1: argmax), and the classes used `(N,)`."""
    logits = flat_outputs(outputs)
    chosen = tf.where(targets < 0, tf.cast(tf.argmax(logits, axis=-1), tf.int32), targets)
    return tf.gather(logits, chosen, axis=1, batch_dims=1), chosen


_failure = threading.local()


def _describe_callable(score) -> str:
    return getattr(score, "__name__", type(score).__name__)


def callable_scores(score: Callable, outputs) -> tf.Tensor:
    """`score(outputs)` checked to be one value per sample `(N,)`.

    Runs inside compiled steps, where TensorFlow would wrap an error of the
    user's code in its own trace; the clear error is kept aside and raised by
    `target_errors()` around the compiled call.
    """
    try:
        values = tf.convert_to_tensor(score(outputs))
    except Exception as err:  # noqa: BLE001 - any error of the user's code is reported as theirs
        first = (str(err).strip().splitlines() or [""])[-1][:300]
        hint = ""
        if isinstance(err, (AttributeError, NotImplementedError)) and "numpy" in str(err):
            hint = " It runs inside a compiled tf.function: use TensorFlow or keras.ops operations, not .numpy()."
        error = InvalidArgumentError(
            f"`target`: your target callable {_describe_callable(score)!r} raised {type(err).__name__}: {first} "
            f"(in your target callable, called with the model outputs of shape {tuple(outputs.shape)}).{hint}"
        )
        error.__cause__ = err
        _failure.error = error
        raise error from err
    n = outputs.shape[0]
    if values.shape.rank != 1 or (n is not None and values.shape[0] not in (None, n)):
        error = InvalidArgumentError(
            f"`target`: a callable target must return one score per sample, shape ({n},); "
            f"{_describe_callable(score)!r} returned shape {tuple(values.shape)}."
        )
        _failure.error = error
        raise error
    if not (values.dtype.is_floating or values.dtype.is_integer):
        error = InvalidArgumentError(
            f"`target`: a callable target must return numbers; {_describe_callable(score)!r} returned "
            f"{values.dtype.name}."
        )
        _failure.error = error
        raise error
    return tf.cast(values, tf.float32)


@contextlib.contextmanager
def target_errors():
    """Around a compiled call: an error raised in a callable target comes out as the clear kerasviz error.

    Example:
        >>> with target_errors():
        ...     scores = compiled_step(x, targets)
    """
    _failure.error = None
    try:
        yield
    except Exception as err:  # noqa: BLE001
        stored, _failure.error = getattr(_failure, "error", None), None
        if stored is not None and stored is not err:
            stored.__suppress_context__ = True
            raise stored from stored.__cause__
        raise
    finally:
        _failure.error = None


def probabilities_of(logits: tf.Tensor) -> tf.Tensor:
    """Softmax of `(N, K)` logits, or the sigmoid of a single logit (K == 1), decided by the width itself
    (in-graph when the width is not known statically)."""
    width = logits.shape[-1]
    if width is not None:
        return tf.sigmoid(logits) if width == 1 else tf.nn.softmax(logits)
    return tf.cond(tf.shape(logits)[-1] == 1, lambda: tf.sigmoid(logits), lambda: tf.nn.softmax(logits))


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
        logits = probabilities_of(logits)
    return class_scores(logits, targets)
