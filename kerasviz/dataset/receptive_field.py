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

from dataclasses import dataclass

import keras
import numpy as np

from kerasviz.core.deprecation import keyword_only
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.layers import LayerSpec, find_layer, output_rank
from kerasviz.core.validate import check_choice
from kerasviz.dataset.field_geometry import GLOBAL, spatial_size, trace_geometry

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


@keyword_only("input_size", positional=2)
def receptive_field(
    model: keras.Model, layer: LayerSpec, *, input_size: tuple | None = None, method: str = "auto", probes=None
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
    if spatial_size(getattr(target, "output", None)) is None and output_rank(target) is not None:
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
