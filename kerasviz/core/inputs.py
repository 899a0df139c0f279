"""The one image normaliser: validate images against a model and return one float32 batch.

`as_image_batch(images, model)` is the single entry point every technique uses
for per-image input. It accepts one image or a batch, as a NumPy array, a
tensor, or a list of equally shaped arrays, in the model's own input space and
layout, and returns a float32 `(N, H, W, C)` tensor: channels last whatever the
model's `data_format` (see `core.layout`). `as_numeric_array` is its
model-independent first half (type, dtype, finiteness and range checks), for
code that normalises images without a model (display images, photos).

Bad input raises a `KerasvizError` naming the argument: a list of arrays of
different shapes, object, boolean, complex or text data, float64 values beyond
float32's range, NaN or Inf, an empty batch, a wrong rank, channel count or
size.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedModelError
from kerasviz.core.graph import check_model, is_subclassed, model_input
from kerasviz.core.layout import (  # noqa: F401
    channels_axis,
    image_layout,
    is_channels_first,
    require_channels_last,
    require_channels_last_signals,
)
from kerasviz.core.model_inputs import (
    NO_SIDE,
    SideInputs,
    explained_index,
    input_tensors,
    side_inputs,
    single_input_only,
    split_images,
)

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def expected_input_shape(model, input=None) -> tuple:
    """The explained input's shape without the batch axis, channels last (sizes may be None).

    `(T, C)` for a 1-D signal or token model, `(H, W, C)` for an image model
    (also channels-first ones, whose input is `(None, C, H, W)`), `(D, H, W, C)`
    for a volume. `input` picks one input of a multi-input model (see
    `model_inputs.explained_index`).

    Raises:
        UnsupportedModelError: the input is not `(N, ..., C)` with 1 to 3
            positional axes, or holds integers (token ids: gradients need a
            float input).
    """
    tensor = model_input(model, input)
    shape = tuple(tensor.shape[1:])
    if not 2 <= len(shape) <= 4:
        raise UnsupportedModelError(
            f"Model {model.name!r} takes inputs of shape {(None,) + shape}, not images (N, H, W, C), signals "
            "(N, T, C) or volumes (N, D, H, W, C); kerasviz explains inputs with positions and channels."
        )
    if not tf.as_dtype(tensor.dtype).is_floating:
        raise UnsupportedModelError(
            f"Model {model.name!r}'s input {tensor.name!r} holds {tf.as_dtype(tensor.dtype).name} values (e.g. token "
            "ids): gradients and perturbations need a float input. Explain a layer after the embedding instead."
        )
    if is_channels_first(model) and len(shape) == 3:
        c, h, w = shape
        return (h, w, c)
    if len(shape) != 3:
        require_channels_last_signals(model, len(shape) - 1)
    return shape


def expected_image_shape(model) -> tuple:
    """The model's image shape without the batch axis, channels last: `(H, W, C)` (H, W may be None).

    For a channels-first model whose input is `(None, C, H, W)` this is
    `(H, W, C)` as well: the layout kerasviz works in. For a multi-input
    model, the image input's (its first input of highest rank).

    Raises:
        UnsupportedModelError: the model's input is not an image `(H, W, C)`.
    """
    shape = tuple(model_input(model).shape[1:])
    if len(shape) != 3:
        raise UnsupportedModelError(
            f"Model {model.name!r} takes inputs of shape {(None,) + shape}, not images "
            "(N, H, W, C); this works on image models."
        )
    return expected_input_shape(model)


def model_image_shape(model, input=None) -> tuple:
    """The model's own input shape without the batch axis (`(C, H, W)` for channels-first models)."""
    return tuple(model_input(model, input).shape[1:])


def _describe_list(items) -> str:
    shapes = []
    for item in items:
        shape = tuple(np.shape(item)) if not isinstance(item, (str, bytes)) else "text"
        if shape not in shapes:
            shapes.append(shape)
    return ", ".join(str(s) for s in shapes[:4]) + (", ..." if len(shapes) > 4 else "")


def as_numeric_array(images, name: str = "images"):
    """`images` as a numeric NumPy array or tensor, checked but not reshaped.

    Accepts a NumPy array, a tf.Tensor / tf.Variable, anything `np.asarray`
    reads (PIL images, nested lists), or a list / tuple of equally shaped arrays
    (stacked). Integer data is kept as is; float data is checked for NaN, Inf
    and values beyond float32's range.

    Raises:
        ArgumentTypeError: None, text, objects, booleans or complex numbers.
        InvalidArgumentError: arrays of different shapes, an empty array, NaN,
            Inf, or float64 values float32 cannot hold.
    """
    if images is None:
        raise ArgumentTypeError(f"`{name}` is None; pass an image (H, W, C) or a batch (N, H, W, C) as an array.")
    if isinstance(images, (str, bytes)):
        raise ArgumentTypeError(
            f"`{name}` must be an array of pixels, not text ({images[:60]!r}); read the file first "
            "(e.g. skimage.io.imread(path)) and preprocess it for the model."
        )
    if isinstance(images, (tf.Tensor, tf.Variable)):
        array = images
        dtype = tf.as_dtype(array.dtype)
        kinds = ((dtype.is_bool, "b"), (dtype.is_complex, "c"), (dtype.is_floating, "f"), (dtype.is_integer, "i"))
        kind = next((k for flag, k in kinds if flag), "O")
    else:
        if isinstance(images, (list, tuple)):
            if not images:
                raise InvalidArgumentError(f"`{name}` is an empty list; give at least one image.")
            shapes = {tuple(np.shape(i)) if not isinstance(i, (str, bytes)) else None for i in images}
            if len(shapes) > 1:
                raise InvalidArgumentError(
                    f"`{name}` is a list of {len(images)} arrays with different shapes ({_describe_list(images)}); "
                    "a batch needs one size: resize them to one size first (e.g. tf.image.resize) or explain them "
                    "one at a time."
                )
        try:
            array = np.asarray(images)
        except (ValueError, TypeError) as err:
            first = str(err).splitlines()[0][:160]
            raise InvalidArgumentError(f"`{name}` cannot be read as one array: {first}.") from None
        kind = array.dtype.kind
    if kind == "O" or kind in "SUV":
        what = "Python objects (e.g. arrays of different shapes)" if kind == "O" else f"values of dtype {array.dtype}"
        raise ArgumentTypeError(f"`{name}` must hold numbers; got {what}. Pass a numeric array (N, H, W, C).")
    if kind == "b":
        raise ArgumentTypeError(
            f"`{name}` holds booleans; convert a mask to numbers first (e.g. mask.astype('float32'))."
        )
    if kind == "c":
        raise ArgumentTypeError(f"`{name}` holds complex numbers; images must be real-valued.")
    if kind not in "fiu":
        raise ArgumentTypeError(f"`{name}` must hold numbers (float or integer); got dtype {array.dtype}.")
    if int(np.prod(array.shape)) == 0:
        raise InvalidArgumentError(f"`{name}` is empty (shape {tuple(array.shape)}); give at least one image.")
    if kind == "f":
        _check_finite(array, name)
    return array


def _check_finite(array, name: str) -> None:
    if isinstance(array, np.ndarray):
        finite = np.isfinite(array)
        if not finite.all():
            bad = int((~finite).sum())
            raise InvalidArgumentError(f"`{name}` contains {bad} NaN or Inf value(s); images must be finite.")
        if array.dtype.itemsize > 4:
            peak = float(np.max(np.abs(array)))
            if peak > _FLOAT32_MAX:
                raise InvalidArgumentError(
                    f"`{name}` holds values up to {peak:.3g}, beyond float32's range (±{_FLOAT32_MAX:.3g}), in which "
                    "models compute; rescale the images (e.g. to [0, 1] or [0, 255])."
                )
        return
    values = tf.cast(array, tf.float64) if array.dtype.size > 4 else array
    if not bool(tf.reduce_all(tf.math.is_finite(values))):
        bad = int(tf.reduce_sum(tf.cast(~tf.math.is_finite(values), tf.int32)))
        raise InvalidArgumentError(f"`{name}` contains {bad} NaN or Inf value(s); images must be finite.")
    if array.dtype.size > 4:
        peak = float(tf.reduce_max(tf.abs(values)))
        if peak > _FLOAT32_MAX:
            raise InvalidArgumentError(
                f"`{name}` holds values up to {peak:.3g}, beyond float32's range (±{_FLOAT32_MAX:.3g}); rescale them."
            )


def _shape_text(model, shape) -> str:
    return f"(N, {', '.join(str(s) for s in shape)})" + (" (channels first)" if is_channels_first(model) else "")


def as_image_batch(
    images,
    model,
    *,
    name: str = "images",
    prepared: bool = False,
    input=None,
) -> tuple[tf.Tensor, bool]:
    """Check `images` against `model` and return a float32 channels-last batch.

    Accepts one image or a batch in the model's own layout: `(H, W, C)` /
    `(N, H, W, C)` for channels-last models, `(C, H, W)` / `(N, C, H, W)` for
    channels-first ones, and for one-channel models also `(H, W)` and
    `(N, H, W)`; a NumPy array, a tensor, or a list of equally shaped arrays,
    float or integer. Integers (e.g. uint8 photos) are cast to float32 without
    rescaling: images are always in the model's own input space. For a
    subclassed model (no declared input), the shape is taken from `images`.
    1-D models take signals `(T, C)` / `(N, T, C)` the same way (and `(T,)` /
    `(N, T)` with one channel), 3-D models volumes `(D, H, W, C)`.

    For a multi-input model this is the explained input alone (`input=`, by
    default the image input); `as_model_batch` also takes the other inputs.

    Returns:
        `(batch, single)`: a float32 tensor `(N, H, W, C)` (channels last) and
        whether a single image was given (so callers can drop the batch axis
        again).

    `prepared=True` marks a batch this function already returned (internal
    calls pass it on): it is used as is.

    Raises:
        ArgumentTypeError: None, text, objects, booleans or complex numbers.
        InvalidArgumentError: wrong rank, channel count or size, arrays of
            different shapes, empty batch, NaN, Inf or values beyond float32.
        UnsupportedModelError: the other inputs of a multi-input model are
            given (this caller reads the explained input only).
    """
    batch = as_model_batch(images, model, name=name, prepared=prepared, input=input)
    single_input_only(model, batch.side, "This technique")
    return batch.x, batch.single


class ModelBatch(NamedTuple):
    """What `as_model_batch` returns.

    Attributes:
        x: float32 explained batch, channels last.
        single: one image was given (drop the batch axis of results).
        side: the other inputs of a multi-input model, row-aligned with `x`.
        index: the explained input's position in `model.inputs`.
    """

    x: tf.Tensor
    single: bool
    side: SideInputs
    index: int


def as_model_batch(images, model, *, name: str = "images", prepared: bool = False, input=None) -> ModelBatch:
    """`as_image_batch` for any model: the explained batch and the inputs held fixed.

    Args:
        images: for a single-input model as `as_image_batch`; for a
            multi-input model a list with one array per model input
            (`model.inputs` order), a dict keyed by input name, or the
            explained input alone (see `core.model_inputs`).
        model: the Keras model.
        input: the explained input (index or name; None: the image input).

    Returns:
        `ModelBatch(x, single, side, index)`.

    Raises:
        As `as_image_batch`, plus InvalidArgumentError for side inputs of the
        wrong shape or row count, or an unknown `input`.
    """
    if prepared:
        return ModelBatch(tf.convert_to_tensor(images, tf.float32), False, NO_SIDE, 0)
    if is_subclassed(model):
        if input not in (None, 0):
            raise InvalidArgumentError(
                f"`input`={input!r}: a subclassed model is explained on the input it is called with."
            )
        array = as_numeric_array(images, name)
        x, single = _free_batch(array, tuple(int(s) for s in array.shape), name, is_channels_first(model))
        return ModelBatch(x, single, NO_SIDE, 0)
    check_model(model)
    model_input(model)  # unbuilt model: a clear error
    index = explained_index(model, input)
    explained, others = split_images(images, model, index, name)
    x, single = _explained_batch(as_numeric_array(explained, name), model, index, name)
    several = len(input_tensors(model)) > 1
    side = side_inputs(model, others, index, int(x.shape[0]), name=name) if several else NO_SIDE
    return ModelBatch(x, single, side, index)


def _explained_batch(array, model, index: int, name: str) -> tuple[tf.Tensor, bool]:
    shape = tuple(int(s) for s in array.shape)
    want = expected_input_shape(model, index)
    first = is_channels_first(model) and len(want) == 3
    own = model_image_shape(model, index)
    c, rank = want[-1], len(want)
    what = {2: "signal", 3: "image", 4: "volume"}[rank]
    single = len(shape) in (rank - 1, rank)
    if len(shape) == rank - 1 and c == 1:
        array = tf.reshape(array, (1,) + shape)
        array = array[:, None] if first else array[..., None]
    elif len(shape) == rank and c == 1 and shape[0 if first else -1] != 1:
        array = tf.expand_dims(array, 1 if first else -1)  # a batch of one-channel inputs without the channel axis
        single = False
    elif len(shape) == rank:
        array = tf.expand_dims(array, 0)
    elif len(shape) != rank + 1:
        raise InvalidArgumentError(
            f"`{name}` must be one {what} {tuple(own)} or a batch (N, {', '.join(map(str, own))}); got shape {shape}. "
            f"Model {model.name!r} expects {_shape_text(model, own)}."
        )
    batch = tf.cast(array, tf.float32)
    if first:
        batch = tf.transpose(batch, (0, 2, 3, 1))
    sizes, bc = tuple(batch.shape[1:-1]), batch.shape[-1]
    if bc != c:
        hint = ""
        if first and shape[-1] == c:
            hint = " The images look channels last; this model is channels first: np.transpose(images, (0, 3, 1, 2))."
        elif not first and rank == 3 and len(shape) >= 3 and shape[-3] == c:
            hint = " The images look channels first; this model is channels last: np.transpose(images, (0, 2, 3, 1))."
        elif bc == 1 and c == 3:
            hint = " Repeat a grayscale image to RGB with np.repeat(img[..., None], 3, -1)."
        raise InvalidArgumentError(
            f"Model {model.name!r} expects {c} channel(s) (input {_shape_text(model, own)}); `{name}` has {bc} "
            f"(shape {shape}).{hint}"
        )
    if any(w is not None and s != w for w, s in zip(want[:-1], sizes)):
        if rank == 3:
            h, w = want[:2]
            raise InvalidArgumentError(
                f"Model {model.name!r} expects images of {h}x{w} pixels; `{name}` is {sizes[0]}x{sizes[1]} "
                f"(shape {shape}); resize with tf.image.resize (or kv.sample_image(name, size=...) for the sample "
                "photos)."
            )
        raise InvalidArgumentError(
            f"Model {model.name!r} expects {what}s of size {'x'.join(map(str, want[:-1]))}; `{name}` has "
            f"{'x'.join(map(str, sizes))} (shape {shape})."
        )
    return batch, single


def _free_batch(array, shape: tuple, name: str, first: bool) -> tuple[tf.Tensor, bool]:
    """Images for a model without a declared input: one image or a batch, rank 3 or 4."""
    if len(shape) not in (3, 4):
        layout = "(C, H, W) or a batch (N, C, H, W)" if first else "(H, W, C) or a batch (N, H, W, C)"
        raise InvalidArgumentError(
            f"`{name}` must be one image {layout} for a subclassed model (its input shape is taken from the "
            f"images); got shape {shape}."
        )
    batch = tf.cast(array, tf.float32)
    batch = batch[None] if len(shape) == 3 else batch
    return (tf.transpose(batch, (0, 2, 3, 1)) if first else batch), len(shape) == 3


def to_model_layout(maps, model):
    """Input-shaped maps `(N, H, W, C)` / `(H, W, C)` back in the model's layout (NumPy).

    Identity for channels-last models; `(N, C, H, W)` / `(C, H, W)` for
    channels-first ones. Maps without a channel axis are returned unchanged by
    callers (they are the same in both layouts).
    """
    maps = np.asarray(maps)
    if not is_channels_first(model) or maps.ndim not in (3, 4):
        return maps
    return np.moveaxis(maps, -1, -3)


def from_model_layout(array: np.ndarray, model) -> np.ndarray:
    """An image-shaped array given in the model's layout, channels last (NumPy).

    `(..., C, H, W)` -> `(..., H, W, C)` for channels-first models (arrays of
    rank 3 or more); anything else is returned unchanged.
    """
    array = np.asarray(array)
    if not is_channels_first(model) or array.ndim < 3:
        return array
    return np.moveaxis(array, -3, -1)


def check_batch_size(value, name: str = "batch_size") -> int:
    """A positive integer number of rows per compiled call."""
    from kerasviz.core.validate import check_int

    return check_int(value, name, minimum=1)


def batches(n: int, batch_size: int):
    """Slices `[start, stop)` covering `range(n)` in chunks of `batch_size` (lazily)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (numbers.Integral, np.integer)) or batch_size < 1:
        raise InvalidArgumentError(f"`batch_size` must be an integer >= 1; got {batch_size!r}.")
    batch_size = int(batch_size)
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def chunk_count(n: int, batch_size: int) -> int:
    """How many `batches(n, batch_size)` there are."""
    return -(-int(n) // int(batch_size))
