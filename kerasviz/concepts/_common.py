"""Plumbing shared by the concept methods: argument checks, layer shapes, chunked activations.

Every concept method reads one layer's activations (and sometimes the gradient
of a class score with respect to them) for sets of images, in chunks through
the core's compiled steps, and turns whatever the core or NumPy would raise on
bad input into a `KerasvizError` that names the user's argument.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from kerasviz.activations import activations
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, KerasvizError, LayerNotFoundError
from kerasviz.core.inputs import as_image_batch, batches
from kerasviz.core.layers import find_layer
from kerasviz.core.validate import check_int


@contextlib.contextmanager
def argument_errors(name: str):
    """Re-raise plain ValueError / TypeError from the core or NumPy as kerasviz errors naming `name`."""
    try:
        yield
    except KerasvizError as err:
        if name == "images" or "`images`" not in str(err) or f"`{name}`" in str(err):
            raise
        raise type(err)(_named(err, name)) from None
    except TypeError as err:
        raise ArgumentTypeError(_named(err, name)) from None
    except ValueError as err:
        raise InvalidArgumentError(_named(err, name)) from None


def _named(err: Exception, name: str) -> str:
    """The message with the core's generic `images` renamed to the user's argument, and that name up front."""
    text = str(err).replace("`images`", f"`{name}`")
    return text if f"`{name}`" in text else f"`{name}`: {text}"


def host_threads():
    """One BLAS thread for the host-side linear algebra (scikit-learn fits, projections).

    The matrices here are thin (vectors x channels); OpenBLAS's threads spin
    against TensorFlow's on a busy machine and slow such products 10-40x.
    The previous limits come back on exit.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def check_model(model) -> keras.Model:
    from kerasviz.core.layout import require_channels_last

    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(f"`model` must be a keras.Model; got {type(model).__name__}.")
    # the concept methods read feature maps and layer shapes channels last
    require_channels_last(
        model,
        "Concept-based explanation (kv.tcav, kv.cav, kv.nmf_concepts, kv.crp, "
        "kv.relevance_maximization, kv.activation_atlas, kv.caricature)",
    )
    return model


def check_layer(model, layer, name: str = "layer") -> tuple[object, str, tuple]:
    """`(spec, key, shape)` of a layer with a `(N, h, w, C)` or `(N, C)` output.

    `spec` is the user's spec in a form the core accepts (NumPy ints as int),
    `key` the name the core's taps use for it, `shape` the output shape
    without the batch axis.
    """
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (str, numbers.Integral, keras.layers.Layer)):
        raise ArgumentTypeError(f"`{name}` must be a layer name, index or Layer; got {type(layer).__name__}.")
    spec = int(layer) if isinstance(layer, numbers.Integral) else layer
    try:
        found = find_layer(model, spec)
    except LayerNotFoundError as err:
        raise LayerNotFoundError(f"`{name}`: {err}") from None
    with argument_errors(name):
        try:
            shape = tuple(found.output.shape[1:])
        except (AttributeError, ValueError):
            raise InvalidArgumentError(f"layer {found.name!r} has no single output shape.") from None
    if len(shape) not in (1, 3):
        raise InvalidArgumentError(
            f"`{name}` {found.name!r} has output shape {(None,) + shape}; concept methods need a feature map "
            "(N, h, w, C) or a vector of units (N, C)."
        )
    key = spec if isinstance(spec, str) else found.name
    return spec, key, shape


def check_images(model, images, name: str, *, single: bool = False):
    """A validated float32 batch `(N, H, W, C)` (one image gains a batch axis); with `single`, also
    whether one image was given."""
    if images is None:
        raise ArgumentTypeError(f"`{name}` must be images (N, H, W, C); got None.")
    with argument_errors(name):
        batch, one = as_image_batch(images, model, name=name)
    return (batch, one) if single else batch


def check_batch_size(batch_size) -> int:
    return check_int(batch_size, "batch_size", minimum=1)


def check_seed(seed) -> int:
    return check_int(seed, "seed", minimum=0)


def flat_activations(model, layer, images: tf.Tensor, batch_size: int) -> np.ndarray:
    """`(N, D)` float32: the layer's activations for a validated batch, flattened, read in chunks."""
    parts = []
    for s in batches(int(images.shape[0]), batch_size):
        acts = next(iter(activations(model, images[s], [layer], batch_size=batch_size).values()))
        parts.append(acts.reshape(len(acts), -1))
    return np.concatenate(parts)


def chunks(n: int, batch_size: int) -> list:
    return list(batches(n, batch_size))


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """A private generator (global NumPy state is never touched)."""
    return np.random.default_rng([seed, *stream])


def crop_box(image: np.ndarray, box, pad_value: float = 0.0) -> np.ndarray:
    """`image[top:bottom, left:right]` with `pad_value` where the box leaves the image."""
    top, left, bottom, right = (int(v) for v in box)
    h, w = image.shape[:2]
    out = np.full((bottom - top, right - left) + image.shape[2:], pad_value, np.float32)
    t, l, b, r = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    if b > t and r > l:
        out[t - top : b - top, l - left : r - left] = image[t:b, l:r]
    return out


def iter_chunks(images: tf.Tensor, batch_size: int) -> Iterator[tuple[slice, tf.Tensor]]:
    for s in batches(int(images.shape[0]), batch_size):
        yield s, images[s]


def describe(value) -> str:
    text = repr(value) if not isinstance(value, np.ndarray) else f"array of shape {value.shape}"
    return text if len(text) <= 60 else text[:57] + "..."


def optional_int(value, name: str, minimum: int, default: int, quick: int | None = None) -> int:
    """A count whose default is None: the documented value (capped in quick mode), or the user's value."""
    from kerasviz._config import quick_mode

    if value is None:
        return min(default, quick) if (quick is not None and quick_mode()) else default
    return check_int(value, name, minimum=minimum)
