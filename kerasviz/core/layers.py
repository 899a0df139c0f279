"""Find layers by name, index or path, inside nested and Sequential models."""

from __future__ import annotations

import difflib
from typing import Iterator, Union

import keras

from kerasviz.core.errors import LayerNotFoundError

LayerSpec = Union[str, int, keras.layers.Layer]


def is_model(layer) -> bool:
    """True for a Keras Model used as a layer (Sequential or Functional)."""
    return isinstance(layer, keras.Model)


def child_layers(model: keras.Model) -> list:
    """The direct layers of `model`, without input layers."""
    return [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def iter_layers(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.layers.Layer]]:
    """Yield `(path, layer)` for every layer, depth first, nested models included.

    A nested model is yielded itself (path "vgg16") and then its layers
    ("vgg16/block1_conv1").
    """
    for layer in child_layers(model):
        path = f"{prefix}{layer.name}"
        yield path, layer
        if is_model(layer):
            yield from iter_layers(layer, prefix=path + "/")


def layer_path(model: keras.Model, layer: keras.layers.Layer) -> str:
    """The "outer/inner" path of `layer` inside `model`."""
    for path, candidate in iter_layers(model):
        if candidate is layer:
            return path
    raise LayerNotFoundError(f"Layer {layer.name!r} is not part of model {model.name!r}.")


def _closest(name: str, model: keras.Model) -> str:
    paths = [p for p, _ in iter_layers(model)]
    names = sorted({p.rsplit("/", 1)[-1] for p in paths} | set(paths))
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    if not close:  # fall back to substring matches, then to a sample
        close = [n for n in names if name.lower() in n.lower()][:5]
    hint = f" Closest names: {close}." if close else ""
    return f"{hint} Model {model.name!r} has {len(paths)} layers, e.g. {[p for p in paths][:8]}."


def find_layer(model: keras.Model, layer: LayerSpec) -> keras.layers.Layer:
    """Return the layer named, indexed or given by `layer`.

    Args:
        model: a Keras model, possibly with nested sub-models.
        layer: a name (searched at every nesting depth), an "outer/inner" path,
            an index into `model.layers` (input layers excluded; negative
            indices count from the end), or a layer object of the model.

    Returns:
        The `keras.layers.Layer`.

    Raises:
        LayerNotFoundError: unknown name or path (the message lists the
            closest names), index out of range, or a name that is ambiguous
            between nested models (the message lists the full paths).

    Example:
        >>> find_layer(transfer_model, "block5_conv3")   # inside the "vgg16" base
        >>> find_layer(transfer_model, "vgg16/block5_conv3")
    """
    if isinstance(layer, keras.layers.Layer):
        layer_path(model, layer)  # raises if it is not in the model
        return layer
    if isinstance(layer, (int,)) and not isinstance(layer, bool):
        layers = child_layers(model)
        if not -len(layers) <= layer < len(layers):
            raise LayerNotFoundError(
                f"Layer index {layer} is out of range: model {model.name!r} has "
                f"{len(layers)} layers (indices {-len(layers)}..{len(layers) - 1})."
            )
        return layers[layer]
    if not isinstance(layer, str):
        raise TypeError(f"`layer` must be a name, an index or a Layer; got {type(layer).__name__}.")
    matches = [(p, l) for p, l in iter_layers(model) if p == layer]
    if not matches:
        matches = [(p, l) for p, l in iter_layers(model) if p.rsplit("/", 1)[-1] == layer]
    if not matches:
        raise LayerNotFoundError(f"No layer {layer!r} in model {model.name!r}.{_closest(layer, model)}")
    if len(matches) > 1:
        raise LayerNotFoundError(
            f"Layer name {layer!r} is ambiguous in model {model.name!r}; "
            f"use one of the paths {[p for p, _ in matches]}."
        )
    return matches[0][1]


def output_rank(layer: keras.layers.Layer) -> int | None:
    """Rank of the layer's (first) output including the batch axis, if known."""
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def is_conv(layer: keras.layers.Layer) -> bool:
    """True for 2-D convolution layers (Conv2D, DepthwiseConv2D, SeparableConv2D)."""
    from keras.src.layers.convolutional.base_conv import BaseConv
    from keras.src.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
    from keras.src.layers.convolutional.base_separable_conv import BaseSeparableConv

    return isinstance(layer, (BaseConv, BaseDepthwiseConv, BaseSeparableConv)) and getattr(layer, "rank", 2) == 2


def conv_layers(model: keras.Model) -> list[str]:
    """Paths of every 2-D convolution layer, nested models included, in graph order."""
    return [p for p, l in iter_layers(model) if is_conv(l)]


def find_conv_layer(model: keras.Model, layer: LayerSpec) -> keras.layers.Layer:
    """`find_layer`, then check it is a 2-D convolution (clear error otherwise)."""
    found = find_layer(model, layer)
    if not is_conv(found):
        raise ValueError(
            f"Layer {found.name!r} is a {type(found).__name__}, not a 2-D convolution. "
            f"Convolution layers of {model.name!r}: {conv_layers(model)}."
        )
    return found
