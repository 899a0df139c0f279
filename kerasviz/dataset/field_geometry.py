"""Receptive-field geometry traced through a model's graph, layer call by layer call.

Each tensor's geometry per spatial axis: the size of the input window one
position sees, the jump (stride product) between neighbouring positions and
the first window's start, or `GLOBAL` after a global pooling. Convolutions and
poolings (any padding, stride, dilation), element-wise merges and gates are
traced; layers that change the spatial size otherwise are refused.
`kerasviz.dataset.receptive_field` reads a layer's field from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras

from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.graph import rebuild
from kerasviz.core.layers import is_conv


@dataclass(frozen=True)
class _Axis:
    size: int
    jump: int
    start: int
    n: int | None  # spatial length of the tensor, None if unknown
    gated: bool = False  # a global gate (squeeze-excite) acts on the way


class _Global:
    """Geometry of a tensor computed from a global pooling: no position, the whole image."""

    def __repr__(self):
        return "GLOBAL"


GLOBAL = _Global()
_GLOBAL_POOLS = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _window(axis: _Axis, kernel: int, stride: int, dilation: int, padding: str, name: str) -> _Axis:
    ke = dilation * (kernel - 1) + 1
    if padding == "valid":
        before, n_out = 0, None if axis.n is None else (axis.n - ke) // stride + 1
    elif padding == "same":
        if axis.n is None and stride > 1:
            raise ValueError(
                f"Layer {name!r} uses 'same' padding with stride {stride} on an input of unknown size: "
                "pass input_size=(H, W) so the padding offset can be computed."
            )
        if axis.n is None:
            n_out, total = None, ke - 1
        else:
            n_out = math.ceil(axis.n / stride)
            total = max((n_out - 1) * stride + ke - axis.n, 0)
        before = total // 2
    else:
        raise UnsupportedLayerError(f"Layer {name!r} uses padding {padding!r}; only 'valid' and 'same' are supported.")
    return _Axis(axis.size + (ke - 1) * axis.jump, axis.jump * stride, axis.start - before * axis.jump, n_out)


def _shift(axis: _Axis, before: int, after: int) -> _Axis:
    """Zero padding (positive) or cropping (negative `before`/`after`)."""
    n = None if axis.n is None else axis.n + before + after
    return _Axis(axis.size, axis.jump, axis.start - before * axis.jump, n)


def _layer_geometry(layer, axes: tuple) -> tuple:
    """The (rows, cols) geometry after `layer` given its input's; identity for element-wise layers."""
    from keras.src.layers.pooling.base_pooling import BasePooling

    name = layer.name
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        raise UnsupportedLayerError(f"Layer {name!r} is channels_first; kerasviz assumes channels_last images.")
    if is_conv(layer):
        k, s, d = _pair(layer.kernel_size), _pair(layer.strides), _pair(layer.dilation_rate)
        return tuple(_window(a, k[i], s[i], d[i], layer.padding, name) for i, a in enumerate(axes))
    if isinstance(layer, BasePooling) and len(_pair(layer.pool_size)) == 2:
        k, s = _pair(layer.pool_size), _pair(layer.strides)
        return tuple(_window(a, k[i], s[i], 1, layer.padding, name) for i, a in enumerate(axes))
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return tuple(_shift(a, *layer.padding[i]) for i, a in enumerate(axes))
    if isinstance(layer, keras.layers.Cropping2D):
        return tuple(_shift(a, -layer.cropping[i][0], -layer.cropping[i][1]) for i, a in enumerate(axes))
    return axes


def _merge(geometries: Sequence[tuple], name: str) -> tuple:
    """Union of the fields of several inputs (Add, Concatenate): same jump required."""
    if len(geometries) == 1:
        return geometries[0]
    merged = []
    for i in range(2):
        axes = [g[i] for g in geometries]
        if len({a.jump for a in axes}) > 1:
            raise UnsupportedLayerError(
                f"Layer {name!r} merges inputs with different strides {[a.jump for a in axes]}."
            )
        start = min(a.start for a in axes)
        end = max(a.start + a.size for a in axes)
        merged.append(_Axis(end - start, axes[0].jump, start, axes[0].n, any(a.gated for a in axes)))
    return tuple(merged)


def spatial_size(tensor) -> tuple | None:
    """`(h, w)` of a 4-D tensor, None for any other rank."""
    shape = getattr(tensor, "shape", None)
    return tuple(shape[1:3]) if shape is not None and len(shape) == 4 else None


def _call_geometry(layer, inputs, outputs, input_axes):
    """The geometry of one layer call: axes, GLOBAL, or an exception raised."""
    known = [input_axes(t) for t in inputs]
    for geo in known:
        if isinstance(geo, Exception):
            raise geo
    spatial = [g for g, t in zip(known, inputs) if isinstance(g, tuple) and spatial_size(t) is not None]
    global_context = any(g is GLOBAL for g in known)
    if isinstance(layer, _GLOBAL_POOLS) and (spatial or global_context):
        return GLOBAL
    if not spatial:
        if global_context:  # the gate's own path (squeeze, excite) or a classifier head
            return GLOBAL
        raise UnsupportedLayerError(f"Layer {layer.name!r} has no spatial (N, h, w, c) input.")
    if spatial_size(keras.tree.flatten(outputs)[0]) is None:
        raise UnsupportedLayerError(f"Layer {layer.name!r} has no spatial (N, h, w, c) output.")
    result = _layer_geometry(layer, _merge(spatial, layer.name))
    _check_shape(layer, inputs, outputs, result)
    if global_context or any(a.gated for axes in spatial for a in axes):
        result = tuple(_Axis(a.size, a.jump, a.start, a.n, True) for a in result)
    return result


def trace_geometry(model: keras.Model, input_size: tuple | None = None) -> dict:
    """Geometry `(rows, cols)` of every leaf layer's first output, keyed by `id(layer)`.

    Layers computed from a global pooling map to `GLOBAL`; layers whose output
    is not a spatial map, or that follow a layer the recursion cannot handle,
    map to an exception (raised only if asked for).
    """
    geometry: dict[int, object] = {}  # id(tensor) -> axes | exception
    keep: list = []  # keeps the symbolic tensors alive so their ids stay unique
    per_layer: dict[int, object] = {}
    first_input: list = []

    def input_axes(tensor):
        if id(tensor) in geometry:
            return geometry[id(tensor)]
        # The model's input: identity geometry over the image.
        if not first_input:
            first_input.append(tensor)
        hw = tuple(input_size) if input_size is not None else spatial_size(tensor) or (None, None)
        return tuple(_Axis(1, 1, 0, n) for n in hw)

    def substitute(layer, path):
        if isinstance(layer, keras.Model):
            return None

        def call(*args, **kwargs):
            outputs = layer(*args, **kwargs)
            inputs = [t for t in keras.tree.flatten(args) if hasattr(t, "shape")]
            try:
                result = _call_geometry(layer, inputs, outputs, input_axes)
            except (UnsupportedLayerError, ValueError) as err:
                result = err
            for out in keras.tree.flatten(outputs):
                geometry[id(out)] = result
                keep.append(out)
            per_layer.setdefault(id(layer), result)
            return outputs

        return call

    rebuild(model, substitute=substitute)
    return per_layer


def _check_shape(layer, inputs, outputs, axes) -> None:
    """Element-wise layers must keep the spatial size; others (UpSampling, Resizing) are unsupported."""
    out_hw = spatial_size(keras.tree.flatten(outputs)[0])
    known = [a.n for a in axes]
    if out_hw is None or None in out_hw or None in known:
        return
    if tuple(out_hw) != tuple(known) and not any(a.n is None for a in axes):
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({type(layer).__name__}) changes the spatial size from "
            f"{[spatial_size(t) for t in inputs]} to {out_hw} in a way kerasviz cannot map to receptive fields."
        )
