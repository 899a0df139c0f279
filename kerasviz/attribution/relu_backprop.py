"""Guided backpropagation (Springenberg et al. 2014) and the deconvnet
(Zeiler & Fergus 2014): the input gradient with another ReLU backward rule.

Both run on a rebuilt copy of the graph whose ReLUs (layers, `Activation`,
fused `activation="relu"`) carry the rule (`core.relu_rules`); the forward pass
and the user's model are unchanged. Note (Adebayo et al. 2018): both maps
barely change when the top layers are randomized; they behave like edge
detectors more than class explanations. `kv.randomization_check` shows it.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasviz.attribution._common import signed_gradients
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target


def guided_backprop(
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
    """Guided backpropagation: gradients gated by forward AND backward signs at every ReLU.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints, or a callable.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        batch_size: images per compiled call.
        progress: show a progress bar (when there is more than one batch).

    Returns:
        signed float32 with the images' shape (or `(N, H, W)` when reduced).

    Raises:
        UnsupportedModelError: a subclassed model (its ReLUs cannot be reached).

    Example:
        >>> gbp = kv.guided_backprop(model, images, reduce="sum_abs")
    """
    return signed_gradients(
        model,
        images,
        target,
        rule="guided",
        reduce=reduce,
        batch_size=batch_size,
        progress=progress,
        output=output,
        input=input,
    )


def deconvnet(
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
    """Zeiler & Fergus' deconvnet: every ReLU rectifies the backward signal instead.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints, or a callable.
        reduce: None keeps channels; "max_abs", "sum_abs", "sum", "mean", "l2".
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        batch_size: images per compiled call.
        progress: show a progress bar (when there is more than one batch).

    Returns:
        signed float32 with the images' shape (or `(N, H, W)` when reduced).

    Raises:
        UnsupportedModelError: a subclassed model (its ReLUs cannot be reached).

    Example:
        >>> dc = kv.deconvnet(model, images, target=281)
    """
    return signed_gradients(
        model,
        images,
        target,
        rule="deconvnet",
        reduce=reduce,
        batch_size=batch_size,
        progress=progress,
        output=output,
        input=input,
    )
