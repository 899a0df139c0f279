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

Global gates (squeeze-and-excitation, Hu et al. 2018: a global pooling whose
result rescales the channels of a spatial map, as in MobileNetV3 and
EfficientNet) make every later unit depend on the whole image through one
scalar per channel. The trace marks such fields "local": the window is the
field of the spatial path, where the unit's pattern comes from, and the
gate's global context is not counted. Where a layer cannot be traced at all
(upsampling, resizing, reshapes), the field is measured from the support of
the input gradient (`field_measure`), and failing that it is the whole image.
`ReceptiveField.method` says which of "exact", "local", "gradient" and
"whole image" was used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.graph import rebuild
from kerasviz.core.layers import LayerSpec, find_layer, is_conv, output_rank
from kerasviz.core.validate import check_choice

METHODS = ("auto", "exact", "local", "gradient", "whole image")


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
        method: how the field was found: "exact" (traced through every
            layer: the pixels the unit depends on), "local" (traced through
            the spatial path; global gates such as squeeze-excite, which let
            every unit see the whole image through one number per channel,
            are not counted), "gradient" (measured from the support of the
            input gradient, where a layer cannot be traced) or "whole image"
            (every position's field is the image: jump 0).
    """

    size: tuple
    jump: tuple
    start: tuple
    input_size: tuple
    output_size: tuple
    method: str = "exact"
    rows: tuple | None = None  # measured fields: (top, bottom) per output row
    cols: tuple | None = None  # measured fields: (left, right) per output column

    @classmethod
    def whole_image(cls, input_size: tuple, output_size: tuple = (1, 1)) -> ReceptiveField:
        """The field of units that see the whole image (every position maps to the image itself)."""
        size = tuple(int(v) for v in input_size)
        return cls(
            size=size, jump=(0, 0), start=(0, 0), input_size=size, output_size=tuple(output_size), method="whole image"
        )

    def box(self, row: int, col: int) -> tuple:
        """`(top, left, bottom, right)` input window of output position `(row, col)` (bottom/right exclusive)."""
        return tuple(int(v) for v in self.boxes(np.array([[row, col]]))[0])

    def boxes(self, locations: np.ndarray) -> np.ndarray:
        """`(..., 4)` windows `(top, left, bottom, right)` of `(..., 2)` output positions `(row, col)`."""
        locations = np.asarray(locations, np.int64)
        corners = []
        for axis, table in ((0, self.rows), (1, self.cols)):
            where = locations[..., axis]
            if table is None:
                low = self.start[axis] + where * self.jump[axis]
            else:
                low = np.asarray(table, np.int64)[:, 0][where]
            corners.append(low)
        top, left = corners
        return np.stack([top, left, top + self.size[0], left + self.size[1]], axis=-1)

    def center(self, row: int, col: int) -> tuple:
        """Input coordinates (may be fractional) of the centre of `(row, col)`'s field."""
        top, left, bottom, right = self.box(row, col)
        return (top + bottom - 1) / 2, (left + right - 1) / 2


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
            raise UnsupportedLayerError(
                f"Layer {name!r} merges inputs with different strides {[a.jump for a in axes]}."
            )
        start = min(a.start for a in axes)
        end = max(a.start + a.size for a in axes)
        merged.append(_Axis(end - start, axes[0].jump, start, axes[0].n, any(a.gated for a in axes)))
    return tuple(merged)


def _spatial(tensor) -> tuple | None:
    shape = getattr(tensor, "shape", None)
    return tuple(shape[1:3]) if shape is not None and len(shape) == 4 else None


def _call_geometry(layer, inputs, outputs, input_axes):
    """The geometry of one layer call: axes, GLOBAL, or an exception raised."""
    known = [input_axes(t) for t in inputs]
    for geo in known:
        if isinstance(geo, Exception):
            raise geo
    spatial = [g for g, t in zip(known, inputs) if isinstance(g, tuple) and _spatial(t) is not None]
    global_context = any(g is GLOBAL for g in known)
    if isinstance(layer, _GLOBAL_POOLS) and (spatial or global_context):
        return GLOBAL
    if not spatial:
        if global_context:  # the gate's own path (squeeze, excite) or a classifier head
            return GLOBAL
        raise UnsupportedLayerError(f"Layer {layer.name!r} has no spatial (N, h, w, c) input.")
    if _spatial(keras.tree.flatten(outputs)[0]) is None:
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
        hw = tuple(input_size) if input_size is not None else _spatial(tensor) or (None, None)
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
    out_hw = _spatial(keras.tree.flatten(outputs)[0])
    known = [a.n for a in axes]
    if None in out_hw or None in known:
        return
    if tuple(out_hw) != tuple(known) and not any(a.n is None for a in axes):
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({type(layer).__name__}) changes the spatial size from "
            f"{[_spatial(t) for t in inputs]} to {out_hw} in a way kerasviz cannot map to receptive fields."
        )


def _input_size(model, input_size) -> tuple:
    if input_size is not None:
        if (
            not isinstance(input_size, (tuple, list))
            or len(input_size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_size)
        ):
            raise InvalidArgumentError(f"`input_size` must be (H, W), two positive integers; got {input_size!r}.")
        return tuple(input_size)
    from kerasviz.core.inputs import expected_image_shape

    return tuple(expected_image_shape(model)[:2])  # the image input of a multi-input model; channels first too


def receptive_field(
    model: keras.Model, layer: LayerSpec, input_size: tuple | None = None, *, method: str = "auto", probes=None
) -> ReceptiveField:
    """Receptive-field size, cumulative stride and offset of a layer's output positions.

    Computed from the layers that actually run between the input and `layer`
    (convolutions incl. dilation, max/average pooling, zero padding, cropping;
    'valid' and 'same' padding; nested models; branches merge by union), not
    from the gradient. Element-wise layers (activations, batch norm, add) keep
    the geometry. A squeeze-excite gate (a global pooling that rescales a map)
    lets every later unit see the whole image through one number per channel;
    the field of the spatial path is then reported with `method="local"`.
    Where a layer cannot be traced (upsampling, resizing, reshape), "auto"
    measures the field from the input gradient's support, and failing that
    gives the whole image.

    Args:
        model: a Keras image model; never changed.
        layer: name, "outer/inner" path, index or layer object of a layer with
            a 4-D output.
        input_size: `(H, W)` of the images, needed only when the model's input
            size is undefined (for a strided 'same' layer or a measured field).
        method: "auto" (default: "exact", else "local", else "gradient", else
            "whole image"), or one of them to insist on it ("exact" and
            "local" raise where the trace cannot give them).
        probes: images `(n, H, W, C)` the "gradient" measurement runs on
            (default: two random images).

    Returns:
        `ReceptiveField` with `size`, `jump`, `start` per axis (rows, cols),
        `input_size`, `output_size` and `method`.

    Raises:
        LayerNotFoundError: unknown layer (closest names listed).
        UnsupportedLayerError: the layer has no spatial output, or (with
            method "exact"/"local") a layer on the way cannot be traced.

    Example:
        >>> rf = kv.receptive_field(kv.lenet(), "conv2")
        >>> rf.size, rf.jump, rf.start, rf.method
        ((14, 14), (2, 2), (0, 0), 'exact')
        >>> rf.box(0, 1)            # input rows/cols [top, bottom) x [left, right)
        (0, 2, 14, 16)
    """
    method = check_choice(method, "method", METHODS)
    if isinstance(layer, (float, list, dict)) or layer is None:
        raise ArgumentTypeError(f"`layer` must be a layer name, path, index or Layer; got {layer!r}.")
    target = find_layer(model, layer)
    if isinstance(target, keras.Model):
        raise UnsupportedLayerError(f"{target.name!r} is a nested model; pick one of its layers.")
    if _spatial(getattr(target, "output", None)) is None and output_rank(target) is not None:
        raise UnsupportedLayerError(
            f"Layer {target.name!r} has no spatial (N, h, w, c) output (shape {tuple(target.output.shape)}); "
            "its units see the whole image."
        )
    in_size = _input_size(model, input_size)
    if method == "whole image":
        return ReceptiveField.whole_image(in_size, _output_size(target))
    traced = None
    if method != "gradient":
        traced = trace_geometry(model, input_size).get(id(target))
        if traced is None:
            raise InvalidArgumentError(
                f"`layer` {target.name!r} is not on the path from the model's input to its outputs."
            )
        if traced is GLOBAL:
            if method in ("exact", "local"):
                raise UnsupportedLayerError(
                    f"Layer {target.name!r} is computed from a global pooling: it has no positions, its units "
                    "see the whole image."
                )
            return ReceptiveField.whole_image(in_size, _output_size(target))
        if isinstance(traced, tuple):
            rows, cols = traced
            if rows.gated and method == "exact":
                raise UnsupportedLayerError(
                    f"Layer {target.name!r} follows a global gate (squeeze-excite): through it every unit sees "
                    "the whole image. method='local' gives the field of the spatial path, 'whole image' the image."
                )
            return ReceptiveField(
                size=(rows.size, cols.size),
                jump=(rows.jump, cols.jump),
                start=(rows.start, cols.start),
                input_size=in_size,
                output_size=(rows.n, cols.n),
                method="local" if rows.gated else "exact",
            )
        if method in ("exact", "local"):
            raise traced
    from kerasviz.dataset.field_measure import measured_field

    if None in in_size:
        raise InvalidArgumentError(
            f"Model {model.name!r} takes images of any size; pass `input_size=(H, W)` to measure the field "
            f"of {target.name!r}."
        )
    measured = measured_field(model, target, in_size, probes=probes)
    if measured is None:
        if method == "gradient":
            raise UnsupportedLayerError(
                f"The input-gradient support of {target.name!r} is not one window sliding with the position; "
                "use method='whole image'."
            )
        return ReceptiveField.whole_image(in_size, _output_size(target))
    return measured


def _output_size(layer) -> tuple:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return (1, 1)
    return tuple(shape[1:3]) if len(shape) == 4 else (1, 1)
