"""Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2013).

`M_ij = max_c |d S_c / d x_ijc|` with S_c the class logit: how much a small
change of each pixel would change the score.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasviz.attribution._common import signed_gradients
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target


def gradient(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    reduce: str | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """The signed input gradient of the target score (logits).

    Works on functional, Sequential, nested and subclassed models (only
    `model(x)` is needed), channels last or channels first.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (`(C, H, W)` / `(N, C, H, W)` for a channels-first model).
        target: None (predicted class), an int, a list of ints, or a callable
            `score(outputs) -> (N,)`.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        batch_size: images per compiled call.
        progress: show a progress bar (when there is more than one batch).

    Returns:
        float32 with the images' shape (or `(N, H, W)` when reduced); batch
        axis dropped for a single image.

    Raises:
        KerasvizError: bad images, target, output or settings (named).

    Example:
        >>> g = kv.gradient(model, images, target=3)
    """
    return signed_gradients(
        model,
        images,
        target,
        reduce=reduce,
        batch_size=batch_size,
        progress=progress,
        output=output,
        input=input,
    )


def saliency(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    reduce: str = "max_abs",
    output: OutputSpec = None,
    input: InputSpec = None,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Simonyan's saliency map: max over channels of |gradient|.

    Args:
        model: a Keras image model (never changed); subclassed models work.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (channels first for a channels-first model).
        target: None (predicted class), an int, a list of ints, or a callable
            `score(outputs) -> (N,)`.
        reduce: channel reduction, "max_abs" (the paper) or "sum_abs" (PAIR).
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        batch_size: images per compiled call.
        progress: show a progress bar (when there is more than one batch).

    Returns:
        `(N, H, W)` non-negative float32 (`(H, W)` for a single image).

    Example:
        >>> m = kv.saliency(model, kv.preprocess(kv.sample_image(size=224)))
        >>> m.shape
        (224, 224)
    """
    return gradient(
        model, images, target, reduce=reduce, output=output, input=input, batch_size=batch_size, progress=progress
    )
