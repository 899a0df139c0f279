"""Input space: how an optimised RGB image in [0, 1] reaches the model.

Feature visualization optimises images in display space (RGB in [0, 1]); the
model expects its own input space (caffe BGR minus the ImageNet mean for VGG16
and ResNet50, [-1, 1] for MobileNetV2 and Inception, 0-255 for EfficientNet or
a model starting with `Rescaling(1/255)`). The mapping runs inside the
differentiable graph, after the random transforms and a resize to the model's
fixed input size. Photos given to `deep_dream` and `invert` are read into the
same display space by `display_images`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.inputs import as_numeric_array, expected_image_shape
from kerasviz.core.layers import is_model, iter_layers

# Private names of kerasviz.data used until it exposes them publicly.
from kerasviz.preprocessing import CAFFE_MEAN_BGR, TORCH_MEAN, TORCH_STD, preprocessing_mode

Preprocessing = str | tuple | Callable | None

# Per-architecture defaults, matched on the (nested) model names keras.applications uses.
ARCHITECTURE_DEFAULTS = {
    "vgg": dict(preprocessing="caffe", size=128),
    "resnet50": dict(preprocessing="caffe", size=128),
    "mobilenetv2": dict(preprocessing="tf", size=128),
    "inception": dict(preprocessing="tf", size=160),
    "xception": dict(preprocessing="tf", size=160),
    "efficientnet": dict(preprocessing=(0.0, 255.0), size=128),
}


def architecture_defaults(model: keras.Model) -> dict:
    """`{"preprocessing": ..., "size": ...}` for a keras.applications family, else {}.

    The same preprocessing is also given under the older key "preprocess".

    Args:
        model: a Keras model (its name and nested models' names are matched).

    Returns:
        The family's feature-visualization defaults, or {} for other models.

    Example:
        >>> kv.architecture_defaults(kv.load_vgg16(weights=None))["size"]
        128
    """
    from kerasviz.core.graph import check_model

    check_model(model)
    names = [model.name.lower()] + [l.name.lower() for _, l in iter_layers(model) if is_model(l)]
    for name in names:
        for family, defaults in ARCHITECTURE_DEFAULTS.items():
            if name.startswith(family) or f"/{family}" in name:
                return dict(defaults, preprocess=defaults["preprocessing"])
    return {}


def _rescaling_range(model) -> tuple | None:
    """(0, 255) when the model starts with Rescaling(1/255): it expects raw pixel values."""
    for _, layer in iter_layers(model):
        if is_model(layer):
            continue
        if isinstance(layer, keras.layers.Rescaling) and np.isclose(float(np.mean(layer.scale)), 1 / 255.0):
            return (0.0, 255.0)
        return None
    return None


def check_preprocessing(value, name: str = "preprocessing") -> Preprocessing:
    """Validate a `preprocessing=` value: None, a family name, a range `(low, high)` or a callable."""
    if value is None or callable(value):
        return value
    if isinstance(value, str):
        try:
            preprocessing_mode(value)
        except ValueError as err:
            raise InvalidArgumentError(f"`{name}`: {err}") from None
        return value
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        low, high = float(value[0]), float(value[1])
        if not (np.isfinite(low) and np.isfinite(high)) or low == high:
            raise InvalidArgumentError(f"`{name}` range must be two different finite numbers; got {value!r}.")
        return (low, high)
    raise ArgumentTypeError(
        f"`{name}` must be None, a family name ('caffe', 'tf', 'torch', 'vgg16', ...), a range "
        f"(low, high) or a function on tensors; got {value!r}."
    )


def input_mapping(model: keras.Model, preprocessing: Preprocessing = None) -> Callable[[tf.Tensor], tf.Tensor]:
    """A graph function: RGB in [0, 1] `(B, H, W, 3)` -> the model's input space.

    Args:
        model: the model (its channel count decides RGB or grey).
        preprocessing: None (per-architecture default; else (0, 255) for models
            starting with `Rescaling(1/255)`, else [0, 1] as is), a family name
            as in `kv.preprocess` ("vgg16", "caffe", "tf", "torch", "none"), a
            range `(low, high)`, or a callable on tensors.

    Raises:
        InvalidArgumentError: the model takes neither 3 (RGB) nor 1 (grey) channels.
    """
    preprocessing = check_preprocessing(preprocessing)
    if preprocessing is None:
        preprocessing = architecture_defaults(model).get("preprocessing") or _rescaling_range(model) or (0.0, 1.0)
    channels = int(expected_image_shape(model)[-1])
    if callable(preprocessing):
        to_space = preprocessing
    elif isinstance(preprocessing, tuple):
        low, high = map(float, preprocessing)
        to_space = lambda x: low + (high - low) * x  # noqa: E731
    else:
        to_space = _family_mapping(preprocessing_mode(preprocessing))
    if channels == 1:
        return lambda x: to_space(tf.reduce_mean(x, axis=-1, keepdims=True))
    if channels != 3:
        raise InvalidArgumentError(
            f"Feature visualization draws RGB or grey images; model {model.name!r} takes {channels} channels."
        )
    return to_space


def _family_mapping(mode: str) -> Callable:
    if mode == "caffe":
        return lambda x: 255.0 * x[..., ::-1] - CAFFE_MEAN_BGR
    if mode == "tf":
        return lambda x: 2.0 * x - 1.0
    if mode == "torch":
        return lambda x: (x - TORCH_MEAN) / TORCH_STD
    return lambda x: 255.0 * x


def model_hw(model) -> tuple:
    """The model's input `(height, width)` whatever its layout (None where it takes any size).

    Feature visualization draws channels-last images; the rebuilt graph puts
    them in a channels-first model's own layout (`kerasviz.core.layout`).
    """
    return tuple(expected_image_shape(model)[:2])


def fit_to_model(rgb: tf.Tensor, model_hw: tuple) -> tf.Tensor:
    """Resize images to a model's fixed input size (in the graph); models taking any size get them as is."""
    if None not in model_hw and tuple(rgb.shape[1:3]) != tuple(model_hw):
        return tf.image.resize(rgb, model_hw, method="bilinear")
    return rgb


def display_images(images, name: str = "images") -> tuple[np.ndarray, bool]:
    """RGB photos -> float32 `(N, H, W, 3)` in [0, 1] (uint8 or values above 1 are read as 0-255).

    Returns:
        `(batch, single)`: the batch and whether one image `(H, W, 3)` was given.

    Raises:
        ArgumentTypeError: not numbers.
        InvalidArgumentError: wrong shape, an empty batch, fewer than 8 pixels a side, NaN or Inf.
    """
    x = np.asarray(as_numeric_array(images, name))  # numbers, finite, not empty (the one array check)
    if x.ndim not in (3, 4) or x.shape[-1] not in (1, 3):
        raise InvalidArgumentError(
            f"`{name}` must be an RGB image (H, W, 3) or a batch (N, H, W, 3); got shape {x.shape}."
        )
    single = x.ndim == 3
    x = x[None] if single else x
    if len(x) == 0:
        raise InvalidArgumentError(f"`{name}` is an empty batch.")
    if min(x.shape[1:3]) < 8:
        raise InvalidArgumentError(f"`{name}` must be at least 8x8 pixels; got {x.shape[1]}x{x.shape[2]}.")
    integer = x.dtype.kind in "ui"
    x = x.astype(np.float32)
    if integer or x.max() > 1.0:
        x = x / 255.0
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.clip(x, 0.0, 1.0), single
