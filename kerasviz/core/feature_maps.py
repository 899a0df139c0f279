"""Feature maps of any positional rank, and token layers seen as feature maps.

A feature map has the batch axis, one or more position axes and channels
last: `(N, h, w, c)` in an image model, `(N, t, c)` in a 1-D (signal, time
series) model, `(N, d, h, w, c)` in a 3-D one. `position_rank(model)` is the
number of position axes of the explained input; `map_layers(model)` lists the
layers whose output is a feature map of that rank (the layers Grad-CAM, the
activations and the dataset views read by default).

A transformer's layers output tokens, `(N, tokens, c)`: a class token and then
the patches in row-major order. `reshape=` turns them back into a grid, as
pytorch-grad-cam's `reshape_transform` does: `reshape=(h, w)` keeps the last
`h * w` tokens (dropping class or register tokens in front) and lays them out
as `(N, h, w, c)`; a callable `f(tokens) -> (N, h, w, c)` does it your way
(TensorFlow ops, run in the graph). Methods that also reshape gradients apply
the same function to them, so it must only select and rearrange values
(slicing, reshape, transpose), never compute new ones.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.layers import LayerSpec, find_layer, is_model, output_shape, unique_paths

Reshape = Union[None, tuple, Callable]


def position_rank(model, input=None) -> int:
    """Number of position axes of the explained input: 1 (signals), 2 (images) or 3 (volumes)."""
    from kerasviz.core.graph import model_input

    return len(model_input(model, input).shape) - 2


def map_layers(model, rank: int | None = None) -> list[str]:
    """Paths of every leaf layer whose output is a feature map with `rank` position axes.

    Args:
        model: a Keras model.
        rank: position axes (default: the explained input's, `position_rank`).
    """
    rank = position_rank(model) if rank is None else rank
    paths = []
    for path, layer in unique_paths(model):
        if is_model(layer) or isinstance(layer, keras.layers.InputLayer):
            continue
        shape = output_shape(layer)
        if shape is not None and len(shape) == rank + 2:
            paths.append(path)
    return paths


def token_grid_size(tokens: int) -> tuple | None:
    """A likely `(h, w)` for `tokens` tokens: a square grid after 0, 1 or a few leading tokens."""
    for extra in (1, 0, 2, 4, 5):
        side = math.isqrt(max(tokens - extra, 0))
        if side > 0 and side * side == tokens - extra:
            return (side, side)
    return None


def check_reshape(reshape: Reshape, name: str = "reshape") -> Reshape:
    """`reshape` checked: None, a callable, or `(h, w)` positive ints (returned as a tuple)."""
    if reshape is None or callable(reshape):
        return reshape
    is_int = lambda v: isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))
    if not isinstance(reshape, (tuple, list)) or len(reshape) != 2 or not all(is_int(v) for v in reshape):
        raise ArgumentTypeError(
            f"`{name}` must be None, (h, w) ints (the patch grid of a token layer) or a callable "
            f"tokens -> (N, h, w, c); got {reshape!r}."
        )
    if min(reshape) < 1:
        raise InvalidArgumentError(f"`{name}` sides must be >= 1; got {tuple(reshape)}.")
    return (int(reshape[0]), int(reshape[1]))


def reshaped(tensor, reshape: Reshape):
    """A token tensor `(N, tokens, c)` as `(N, h, w, c)` (in-graph); `reshape=None` returns it unchanged."""
    if reshape is None:
        return tensor
    if callable(reshape):
        return reshape(tensor)
    h, w = reshape
    return tf.reshape(tensor[:, -h * w :, :], (-1, h, w, tensor.shape[-1]))


def check_map_layer(
    model,
    layer: LayerSpec,
    *,
    reshape: Reshape = None,
    name: str = "layer",
    purpose: str = "This technique",
    rank: int | None = None,
):
    """The layer, checked to give a feature map (directly, or through `reshape=` for tokens).

    Returns:
        `(layer, reshape)` with `reshape` checked (see `check_reshape`).

    Raises:
        UnsupportedLayerError: the output is not a feature map of the input's
            rank, and no (fitting) `reshape=` makes it one; the message
            suggests the grid for a token layer.
        InvalidArgumentError: `reshape=(h, w)` asks for more tokens than the
            layer has, or is given for a layer that is already a feature map.
    """
    found = find_layer(model, layer, name=name)
    reshape = check_reshape(reshape)
    shape = output_shape(found)
    rank = position_rank(model) if rank is None else rank
    if reshape is None:
        if not is_model(found) and shape is not None and len(shape) == rank + 2:
            return found, None
        tokens = shape[1] if shape is not None and len(shape) == 3 and rank == 2 else None
        hint = ""
        if tokens is not None:
            grid = token_grid_size(int(tokens)) if tokens else None
            example = f"reshape={grid}" if grid else "reshape=(h, w)"
            hint = (
                f" It looks like a token layer (N, tokens, c): pass {example} to lay its patch tokens out as a grid "
                "(leading class tokens are dropped), or a callable tokens -> (N, h, w, c)."
            )
        kind = {1: "(N, t, c)", 2: "(N, h, w, c)", 3: "(N, d, h, w, c)"}.get(rank, "a feature map")
        described = f"outputs shape {shape}" if shape is not None else "has no single output shape"
        last = map_layers(model, rank)[-6:]
        raise UnsupportedLayerError(
            f"`{name}` {found.name!r} ({type(found).__name__}) {described}, not a feature map {kind}. {purpose} "
            f"needs a layer with positions (a convolution, pooling or activation layer; the last ones of "
            f"{model.name!r} are {last}).{hint}"
        )
    if shape is None or len(shape) != 3:
        raise InvalidArgumentError(
            f"`reshape` lays out a token layer (N, tokens, c); `{name}` {found.name!r} outputs shape {shape}. "
            "Pass reshape=None for a layer that is already a feature map."
        )
    if not callable(reshape) and shape[1] is not None and reshape[0] * reshape[1] > shape[1]:
        raise InvalidArgumentError(
            f"`reshape`={reshape} needs {reshape[0] * reshape[1]} tokens; `{name}` {found.name!r} has {shape[1]} "
            f"(shape {shape})."
        )
    return found, reshape


def position_axes(tensor) -> tuple:
    """The position axes of a feature map `(N, ..., c)`: `(1, ..., rank - 2)`."""
    return tuple(range(1, len(tensor.shape) - 1))


def upsample_maps(maps: tf.Tensor, size) -> tf.Tensor:
    """Linear resize of `(N, *positions)` maps to `size` (half-pixel centres, as `tf.image.resize`).

    Bilinear for `(N, h, w)`, linear for `(N, t)`, and separable trilinear
    for `(N, d, h, w)`. `size` may be a tensor (e.g. `tf.shape(x)[1:-1]`).
    """
    rank = len(maps.shape) - 1
    size = tf.cast(tf.convert_to_tensor(size), tf.int32)
    if rank == 2:
        return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]
    if rank == 1:
        target = tf.stack([size[0], 1])
        return tf.image.resize(maps[:, :, None, None], target, method="bilinear")[:, :, 0, 0]
    if rank == 3:
        n, d = tf.shape(maps)[0], tf.shape(maps)[1]
        planes = tf.reshape(maps, tf.concat([[n * d], tf.shape(maps)[2:]], 0))
        planes = tf.image.resize(planes[..., None], size[1:], method="bilinear")[..., 0]
        depth = tf.reshape(planes, tf.stack([n, d, size[1] * size[2], 1]))
        depth = tf.image.resize(depth, tf.stack([size[0], size[1] * size[2]]), method="bilinear")
        return tf.reshape(depth, tf.stack([n, size[0], size[1], size[2]]))
    raise UnsupportedLayerError(f"Cannot resize maps of shape {tuple(maps.shape)} (1 to 3 position axes).")


__all__ = [
    "Reshape",
    "position_rank",
    "map_layers",
    "token_grid_size",
    "check_reshape",
    "reshaped",
    "check_map_layer",
    "position_axes",
    "upsample_maps",
]
