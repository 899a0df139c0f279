"""Find layers by name, index or path, inside nested and Sequential models.

A layer spec is a name (searched at every nesting depth), an "outer/inner"
path, an index into `model.layers` (input layers excluded; NumPy integers
too), or a layer object of the model. A nested base and the outer model may
both have a `conv1`: "conv1" is then the outer model's own layer (an exact
path wins) and "base/conv1" the base's; a name found only inside several
nested models is ambiguous and the error lists the paths.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterator
from typing import TypeAlias

import keras
import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, LayerNotFoundError, UnsupportedLayerError

LayerSpec: TypeAlias = str | int | keras.layers.Layer


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


def unique_paths(model: keras.Model) -> Iterator[tuple[str, keras.layers.Layer]]:
    """`iter_layers`: every path it yields resolves back to its layer with `find_layer`."""
    return iter_layers(model)


def layer_path(model: keras.Model, layer: keras.layers.Layer) -> str:
    """The "outer/inner" path of `layer` inside `model`."""
    for path, candidate in iter_layers(model):
        if candidate is layer:
            return path
    raise LayerNotFoundError(f"`layer` {layer.name!r} is not part of model {model.name!r}.")


def _closest(name: str, model: keras.Model) -> str:
    paths = [p for p, _ in iter_layers(model)]
    names = sorted({p.rsplit("/", 1)[-1] for p in paths} | set(paths))
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    if not close:  # fall back to substring matches, then to a sample
        close = [n for n in names if name.lower() in n.lower()][:5]
    hint = f" Closest names: {close}." if close else ""
    return f"{hint} Model {model.name!r} has {len(paths)} layers, e.g. {[p for p in paths][:8]}."


def _input_layer_names(model: keras.Model) -> set:
    names = {l.name for l in model.layers if isinstance(l, keras.layers.InputLayer)}
    for layer in child_layers(model):
        if is_model(layer):
            names |= _input_layer_names(layer)
    return names


def find_layer(model: keras.Model, layer: LayerSpec, *, name: str = "layer") -> keras.layers.Layer:
    """Return the layer named, indexed or given by `layer`.

    Args:
        model: a Keras model, possibly with nested sub-models.
        layer: a name (searched at every nesting depth; an exact top-level
            path wins), an "outer/inner" path, an index into
            `model.layers` (input layers excluded; negative indices count from
            the end; NumPy integers work), or a layer object of the model.
        name: the argument's name, for messages (e.g. "layers").

    Returns:
        The `keras.layers.Layer`.

    Raises:
        LayerNotFoundError: unknown name or path (the message lists the
            closest names), index out of range, the model's input layer, or a
            name that is ambiguous between nesting depths (the message lists
            the paths).
        ArgumentTypeError: `layer` is not a name, an index or a Layer.

    Example:
        >>> find_layer(transfer_model, "block5_conv3")   # inside the "vgg16" base
        >>> find_layer(transfer_model, "vgg16/block5_conv3")
    """
    from kerasviz.core.graph import check_model

    check_model(model)
    if isinstance(layer, keras.layers.Layer):
        if isinstance(layer, keras.layers.InputLayer):
            raise LayerNotFoundError(_input_message(model, layer.name, name))
        for _, candidate in iter_layers(model):
            if candidate is layer:
                return layer
        raise LayerNotFoundError(f"`{name}` {layer.name!r} is a layer object that is not part of model {model.name!r}.")
    if isinstance(layer, (numbers.Integral, np.integer)) and not isinstance(layer, (bool, np.bool_)):
        layers = child_layers(model)
        index = int(layer)
        if not -len(layers) <= index < len(layers):
            raise LayerNotFoundError(
                f"`{name}` index {index} is out of range: model {model.name!r} has "
                f"{len(layers)} layers (indices {-len(layers)}..{len(layers) - 1}, input layer excluded)."
            )
        return layers[index]
    if not isinstance(layer, str):
        text = repr(layer) if len(repr(layer)) <= 60 else repr(layer)[:57] + "..."
        raise ArgumentTypeError(
            f"`{name}` must be a layer name, an 'outer/inner' path, an integer index or a Layer of the model; "
            f"got {text} ({type(layer).__name__})."
        )
    if not layer:
        raise LayerNotFoundError(f"`{name}` is an empty name; give a layer name such as {_first_names(model)}.")
    paths = list(iter_layers(model))
    matches = [(p, l) for p, l in paths if p == layer]
    if not matches:
        matches = [(p, l) for p, l in paths if p.rsplit("/", 1)[-1] == layer]
    distinct = {id(l): (p, l) for p, l in matches}
    if not distinct:
        if layer in _input_layer_names(model):
            raise LayerNotFoundError(_input_message(model, layer, name))
        raise LayerNotFoundError(f"No layer {layer!r} in model {model.name!r} (`{name}`).{_closest(layer, model)}")
    if len(distinct) > 1:
        raise LayerNotFoundError(
            f"Layer name {layer!r} (`{name}`) is ambiguous in model {model.name!r}; "
            f"use one of the paths {[p for p, _ in distinct.values()]}."
        )
    return next(iter(distinct.values()))[1]


def _first_names(model) -> list:
    return [p for p, _ in iter_layers(model)][:3]


def _input_message(model, layer_name, name) -> str:
    return (
        f"`{name}` {layer_name!r} is the input layer of model {model.name!r}: it holds the images themselves, "
        f"not a feature map to read or explain. Choose a layer after it, e.g. {_first_names(model)}."
    )


def output_rank(layer: keras.layers.Layer) -> int | None:
    """Rank of the layer's (first) output including the batch axis, if known."""
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def output_shape(layer: keras.layers.Layer) -> tuple | None:
    """The layer's (first) output shape including the batch axis, if known."""
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def is_conv(layer: keras.layers.Layer) -> bool:
    """True for 2-D convolution layers (Conv2D, DepthwiseConv2D, SeparableConv2D)."""
    from keras.src.layers.convolutional.base_conv import BaseConv
    from keras.src.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
    from keras.src.layers.convolutional.base_separable_conv import BaseSeparableConv

    return isinstance(layer, (BaseConv, BaseDepthwiseConv, BaseSeparableConv)) and getattr(layer, "rank", 2) == 2


def conv_layers(model: keras.Model) -> list[str]:
    """Paths of every 2-D convolution layer, nested models included, in graph order.

    Args:
        model: a Keras model (functional, Sequential or nested).

    Returns:
        Layer paths ("outer/inner" inside nested models), first layer first.

    Example:
        >>> kv.conv_layers(kv.load_vgg16(weights=None))[:2]
        ['block1_conv1', 'block1_conv2']
    """
    from kerasviz.core.graph import check_model

    check_model(model)
    return [p for p, l in unique_paths(model) if is_conv(l)]


def find_conv_layer(model: keras.Model, layer: LayerSpec, *, name: str = "layer") -> keras.layers.Layer:
    """`find_layer`, then check it is a 2-D convolution (clear error otherwise)."""
    found = find_layer(model, layer, name=name)
    if not is_conv(found):
        raise UnsupportedLayerError(
            f"`{name}` {found.name!r} is a {type(found).__name__}, not a 2-D convolution. "
            f"Convolution layers of {model.name!r}: {conv_layers(model)}."
        )
    return found


def spatial_layers(model: keras.Model) -> list[str]:
    """Paths of every leaf layer whose output is a 4-D feature map (N, h, w, c), in graph order."""
    paths = []
    for path, layer in unique_paths(model):
        if is_model(layer) or isinstance(layer, keras.layers.InputLayer):
            continue
        if output_rank(layer) == 4:
            paths.append(path)
    return paths


def find_spatial_layer(
    model: keras.Model, layer: LayerSpec, *, name: str = "layer", purpose: str = ""
) -> keras.layers.Layer:
    """`find_layer`, then check its output is a 4-D feature map (a conv, pooling or activation layer).

    Args:
        model: the model.
        layer: a layer spec (see `find_layer`).
        name: the argument's name, for messages.
        purpose: what needs the feature map ("Grad-CAM"), for messages.

    Raises:
        UnsupportedLayerError: the layer's output is not `(N, h, w, c)` (a
            Dense, Flatten or global pooling layer); the message lists the
            layers that are.
        LayerNotFoundError, ArgumentTypeError: as `find_layer`.
    """
    found = find_layer(model, layer, name=name)
    shape = output_shape(found)
    if is_model(found) or shape is None or len(shape) != 4:
        need = f"{purpose} needs" if purpose else "This needs"
        described = f"outputs shape {shape}" if shape is not None else "has no single output shape"
        raise UnsupportedLayerError(
            f"`{name}` {found.name!r} ({type(found).__name__}) {described}, not a feature map (N, h, w, c). "
            f"{need} a spatial layer (a convolution, pooling or activation layer); the last ones of "
            f"{model.name!r} are {spatial_layers(model)[-6:]}."
        )
    return found


__all__ = [
    "LayerSpec",
    "is_model",
    "child_layers",
    "iter_layers",
    "unique_paths",
    "layer_path",
    "find_layer",
    "output_rank",
    "output_shape",
    "is_conv",
    "conv_layers",
    "find_conv_layer",
    "spatial_layers",
    "find_spatial_layer",
    "UnsupportedLayerError",
    "InvalidArgumentError",
]
