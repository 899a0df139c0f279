"""Receptive-field geometry of a layer's output positions, from the layer stack.

Each spatial layer maps the geometry of its input (in input-image pixels) to
that of its output with the classic recursion (Araujo et al., Distill 2019;
nefesi's `get_image_receptive_field`), per axis:

    effective kernel  ke   = dilation * (kernel - 1) + 1
    size_out  = size_in + (ke - 1) * jump_in
    jump_out  = jump_in * stride
    start_out = start_in - pad_before * jump_in

`start` is the input coordinate of the top-left pixel of output position 0;
output position `i` covers input pixels `[start + i * jump, start + i * jump + size)`
(it can stick out of the image where the layers pad). TensorFlow's 'same'
padding puts the extra pixel after, so `pad_before = pad_total // 2`.

The geometry is traced through the model's own graph with `core.graph.rebuild`
(nested models flattened, branches merged by their union), so it is the
geometry of the layers that actually run, not of a guessed list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import keras

from kerasviz.core.graph import rebuild
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.layers import LayerSpec, find_layer, is_conv


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one layer's output positions, in input pixels, per axis (rows, cols).

    Attributes:
        size: `(h, w)` extent of one output position's receptive field.
        jump: `(h, w)` input pixels between neighbouring output positions (cumulative stride).
        start: `(h, w)` input coordinate of the top-left pixel of output
            position (0, 0); negative where 'same' padding reaches outside.
        input_size: `(H, W)` the image size the geometry was computed for.
        output_size: `(h, w)` the layer's spatial output size.
    """

    size: tuple
    jump: tuple
    start: tuple
    input_size: tuple
    output_size: tuple

    def box(self, row: int, col: int) -> tuple:
        """`(top, left, bottom, right)` input window of output position `(row, col)` (bottom/right exclusive)."""
        top = self.start[0] + row * self.jump[0]
        left = self.start[1] + col * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]

    def center(self, row: int, col: int) -> tuple:
        """Input coordinates (may be fractional) of the centre of `(row, col)`'s field."""
        top, left, bottom, right = self.box(row, col)
        return (top + bottom - 1) / 2, (left + right - 1) / 2


@dataclass(frozen=True)
class _Axis:
    size: int
    jump: int
    start: int
    n: Optional[int]  # spatial length of the tensor, None if unknown


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
        n_out = None if axis.n is None else math.ceil(axis.n / stride)
        total = ke - 1 if axis.n is None else max((n_out - 1) * stride + ke - axis.n, 0)
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
            raise UnsupportedLayerError(f"Layer {name!r} merges inputs with different strides {[a.jump for a in axes]}.")
        start = min(a.start for a in axes)
        end = max(a.start + a.size for a in axes)
        merged.append(_Axis(end - start, axes[0].jump, start, axes[0].n))
    return tuple(merged)


def _spatial(tensor) -> Optional[tuple]:
    shape = getattr(tensor, "shape", None)
    return tuple(shape[1:3]) if shape is not None and len(shape) == 4 else None


def trace_geometry(model: keras.Model, input_size: Optional[tuple] = None) -> dict:
    """Geometry `(rows, cols)` of every leaf layer's first output, keyed by `id(layer)`.

    Layers whose output is not a spatial map, or that follow a layer the
    recursion cannot handle, map to an exception (raised only if asked for).
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
        hw = tuple(input_size) if input_size is not None else _spatial(tensor) or (None, None)
        return tuple(_Axis(1, 1, 0, n) for n in hw)

    def substitute(layer, path):
        if isinstance(layer, keras.Model):
            return None

        def call(*args, **kwargs):
            outputs = layer(*args, **kwargs)
            inputs = [t for t in keras.tree.flatten(args) if hasattr(t, "shape")]
            try:
                sources = [input_axes(t) for t in inputs if _spatial(t) is not None]
                for src in sources:
                    if isinstance(src, Exception):
                        raise src
                if not sources or _spatial(keras.tree.flatten(outputs)[0]) is None:
                    raise UnsupportedLayerError(f"Layer {layer.name!r} has no spatial (N, h, w, c) output.")
                result = _layer_geometry(layer, _merge(sources, layer.name))
                _check_shape(layer, inputs, outputs, result)
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
    out_hw = _spatial(keras.tree.flatten(outputs)[0])
    known = [a.n for a in axes]
    if None in out_hw or None in known:
        return
    if tuple(out_hw) != tuple(known) and not any(a.n is None for a in axes):
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({type(layer).__name__}) changes the spatial size from "
            f"{[_spatial(t) for t in inputs]} to {out_hw} in a way kerasviz cannot map to receptive fields."
        )


def receptive_field(model: keras.Model, layer: LayerSpec, input_size: Optional[tuple] = None) -> ReceptiveField:
    """Receptive-field size, cumulative stride and offset of a layer's output positions.

    Computed from the layers that actually run between the input and `layer`
    (convolutions incl. dilation, max/average pooling, zero padding, cropping;
    'valid' and 'same' padding; nested models; branches merge by union), not
    from the gradient. Element-wise layers (activations, batch norm, add) keep
    the geometry.

    Args:
        model: a Keras image model; never changed.
        layer: name, "outer/inner" path, index or layer object of a layer with
            a 4-D output.
        input_size: `(H, W)` of the images, needed only when the model's input
            size is undefined and a strided 'same' layer precedes `layer`.

    Returns:
        `ReceptiveField` with `size`, `jump`, `start` per axis (rows, cols),
        `input_size` and `output_size`.

    Raises:
        LayerNotFoundError: unknown layer (closest names listed).
        UnsupportedLayerError: the layer has no spatial output, or a layer on
            the way (e.g. UpSampling2D) cannot be mapped.

    Example:
        >>> rf = kv.receptive_field(kv.lenet(), "conv2")
        >>> rf.size, rf.jump, rf.start
        ((14, 14), (2, 2), (0, 0))
        >>> rf.box(0, 1)            # input rows/cols [top, bottom) x [left, right)
        (0, 2, 14, 16)
    """
    target = find_layer(model, layer)
    if isinstance(target, keras.Model):
        raise UnsupportedLayerError(f"{target.name!r} is a nested model; pick one of its layers.")
    traced = trace_geometry(model, input_size)
    axes = traced.get(id(target))
    if axes is None:
        raise ValueError(f"Layer {target.name!r} is not on the path from the model's input to its outputs.")
    if isinstance(axes, Exception):
        raise axes
    rows, cols = axes
    in_size = tuple(input_size) if input_size is not None else tuple(model.inputs[0].shape[1:3])
    return ReceptiveField(
        size=(rows.size, cols.size),
        jump=(rows.jump, cols.jump),
        start=(rows.start, cols.start),
        input_size=in_size,
        output_size=(rows.n, cols.n),
    )
