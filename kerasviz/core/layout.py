"""Where a model keeps its channels: `channels_last` (N, H, W, C) or `channels_first` (N, C, H, W).

Keras layers record their own `data_format`. kerasviz reads it from the model's
2-D spatial layers (convolutions, pooling, padding, cropping, upsampling) and
works internally in one layout, channels last: `inputs.as_image_batch` turns a
channels-first batch into `(N, H, W, C)`, the rebuilt graph (`graph.rebuild`)
transposes it back before the model's first layer, and tapped feature maps come
out as `(N, h, w, c)`. So every technique reads images and feature maps on the
same axes whatever the model's layout, and only the final maps that have the
input's shape are put back in the model's layout (`inputs.to_model_layout`).

A technique that cannot work on channels-first models calls
`require_channels_last(model, "technique name")`, so the refusal reads the same
everywhere.
"""

from __future__ import annotations

import weakref

import keras
import tensorflow as tf

from kerasviz.core.errors import UnsupportedModelError
from kerasviz.core.layers import is_model, iter_layers

CHANNELS_LAST = "channels_last"
CHANNELS_FIRST = "channels_first"


def _spatial_types() -> tuple:
    from keras.src.layers.convolutional.base_conv import BaseConv
    from keras.src.layers.convolutional.base_conv_transpose import BaseConvTranspose
    from keras.src.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
    from keras.src.layers.convolutional.base_separable_conv import BaseSeparableConv
    from keras.src.layers.pooling.base_pooling import BasePooling

    return (
        BaseConv,
        BaseConvTranspose,
        BaseDepthwiseConv,
        BaseSeparableConv,
        BasePooling,
        keras.layers.ZeroPadding2D,
        keras.layers.Cropping2D,
        keras.layers.UpSampling2D,
    )


def _is_2d(layer) -> bool:
    rank = getattr(layer, "rank", None)
    if rank is not None:
        return rank == 2
    pool = getattr(layer, "pool_size", None)
    if pool is not None:
        return len(tuple(pool)) == 2
    return isinstance(layer, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D, keras.layers.UpSampling2D))


def spatial_formats(model: keras.Model) -> list[tuple[str, str]]:
    """`(path, data_format)` of every 2-D spatial layer (conv, pooling, padding, ...), in graph order."""
    types = _spatial_types()
    found = []
    for path, layer in iter_layers(model):
        if is_model(layer) or not isinstance(layer, types) or not _is_2d(layer):
            continue
        found.append((path, getattr(layer, "data_format", None) or CHANNELS_LAST))
    return found


_layouts: weakref.WeakKeyDictionary[keras.Model, tuple] = weakref.WeakKeyDictionary()


def image_layout(model: keras.Model) -> str:
    """`"channels_last"` or `"channels_first"`: how the model reads images and lays out feature maps.

    Read from the `data_format` of the model's 2-D spatial layers; a model
    without any (an MLP on images) is channels last.

    Raises:
        UnsupportedModelError: the spatial layers disagree (some channels
            first, some channels last).

    Example:
        >>> image_layout(keras.Sequential([keras.Input((3, 32, 32)),
        ...     keras.layers.Conv2D(8, 3, data_format="channels_first")]))
        'channels_first'
    """
    stamp = len(model.layers)  # a Sequential can still grow
    known = _layouts.get(model)
    if known is not None and known[0] == stamp:
        return known[1]
    formats = spatial_formats(model)
    kinds = {f for _, f in formats}
    if len(kinds) > 1:
        first = next(p for p, f in formats if f == CHANNELS_FIRST)
        last = next(p for p, f in formats if f == CHANNELS_LAST)
        raise UnsupportedModelError(
            f"Model {model.name!r} mixes channels_first layers (e.g. {first!r}) and channels_last layers "
            f"(e.g. {last!r}); kerasviz needs one data_format for all 2-D layers."
        )
    layout = formats[0][1] if formats else CHANNELS_LAST
    _layouts[model] = (stamp, layout)
    return layout


def is_channels_first(model: keras.Model) -> bool:
    """True if the model reads images as `(N, C, H, W)`."""
    return image_layout(model) == CHANNELS_FIRST


def channels_axis(model: keras.Model) -> int:
    """The channel axis of the model's own image batches and feature maps: 1 (channels first) or -1."""
    return 1 if is_channels_first(model) else -1


def compile_options(model: keras.Model) -> dict:
    """Extra `tf.function` options a model needs: XLA for channels-first models on a machine without GPU.

    TensorFlow's CPU convolution and pooling kernels only take channels-last
    data unless oneDNN rewrites the graph (it is on by default on x86, off with
    `TF_ENABLE_ONEDNN_OPTS=0`); XLA compiles channels-first layers on any
    device, so kerasviz's compiled steps use it for such models.
    """
    if is_channels_first(model) and not tf.config.list_physical_devices("GPU"):
        return {"jit_compile": True}
    return {}


def require_channels_last(model: keras.Model, technique: str) -> None:
    """Refuse a channels-first model, with the one message every technique uses.

    For techniques that read a model's layers directly (their weights or their
    own axes) and have no channels-first path yet.

    Raises:
        UnsupportedModelError: the model is channels first.
    """
    if is_channels_first(model):
        raise UnsupportedModelError(
            f"{technique} does not support channels_first models yet: model {model.name!r} reads images as "
            "(N, C, H, W). Rebuild it with data_format='channels_last' (the Keras default) and the same weights "
            "(conv kernels keep their shape), or use a technique that supports channels_first models "
            "(the attribution maps and activations do)."
        )


def require_channels_last_signals(model: keras.Model, positions: int) -> None:
    """Refuse a 1-D or 3-D model with channels-first layers (kerasviz reads signals and volumes channels last).

    Raises:
        UnsupportedModelError: a layer of the model has `data_format="channels_first"`.
    """
    if any(getattr(layer, "data_format", None) == CHANNELS_FIRST for _, layer in iter_layers(model)):
        raise UnsupportedModelError(
            f"Model {model.name!r} reads {'signals' if positions == 1 else 'volumes'} with data_format="
            "'channels_first'; kerasviz supports channels_first for 2-D images only. Rebuild it channels last "
            "(the Keras default), with the same weights."
        )


__all__ = [
    "CHANNELS_LAST",
    "CHANNELS_FIRST",
    "image_layout",
    "is_channels_first",
    "channels_axis",
    "require_channels_last",
    "require_channels_last_signals",
    "spatial_formats",
    "compile_options",
]
