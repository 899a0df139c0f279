"""Argument conventions shared by the dataset views: layer specs, data sources, argument order.

Every dataset view is `fn(model, layer, data=None, *, ...)`. Older releases had
`dead_filters(model, data, layer)`, `activation_summary(model, images, layer)`
and `embedding_grid(model, images, layer)`, and some took `k` or `unpool` as a
fourth positional argument. `layer_and_data` tells a layer spec from a data
source, so such calls keep working; `dataset_view` wraps a public function so
that an old-order call is rearranged with ONE `DeprecationWarning` naming the
new order.

    @dataset_view(legacy=("k",))
    def top_activating(model, layer, data=None, *, k=None, ...): ...
"""

from __future__ import annotations

import functools
import inspect
import numbers
import warnings
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, LayerNotFoundError, UnsupportedLayerError
from kerasviz.core.layers import find_layer, is_model, output_rank

_MISSING = object()


def is_layer_spec(value) -> bool:
    """A layer name, "outer/inner" path, index (Python or NumPy integer) or Layer object."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (str, keras.layers.Layer, numbers.Integral, np.integer))


def is_layer_list(value) -> bool:
    """A non-empty list or tuple of layer specs."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(is_layer_spec(v) for v in value)


def is_data_source(value) -> bool:
    """Something the data adapter reads: an array or tensor, a `tf.data.Dataset`, a list or tuple of
    batches, or an iterator / generator of batches."""
    if value is None or isinstance(value, (str, bytes, dict, keras.layers.Layer)) or is_layer_spec(value):
        return False
    if isinstance(value, (np.ndarray, tf.Tensor, tf.data.Dataset)):
        return True
    if hasattr(value, "__array__") and hasattr(value, "shape"):
        return True
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and not is_layer_list(value) and all(_is_batch_like(v) for v in value)
    return (
        inspect.isgenerator(value)
        or isinstance(value, (map, filter, zip))
        or (hasattr(value, "__iter__") and hasattr(value, "__next__"))
    )


def _is_batch_like(value) -> bool:
    if isinstance(value, (tuple, list)):
        return len(value) > 0 and _is_batch_like(value[0])
    return isinstance(value, (np.ndarray, tf.Tensor)) or (hasattr(value, "__array__") and hasattr(value, "shape"))


def _in_order(layer, data, several: bool) -> tuple:
    """`(layer, data, swapped)`, swapping an old `(data, layer)` pair."""
    is_layer = lambda v: is_layer_spec(v) or (several and is_layer_list(v))
    if is_data_source(layer) and (data is None or is_layer(data)):
        return data, layer, True
    return layer, data, False


def layer_and_data(layer, data, fn_name: str, *, several: bool = False) -> tuple:
    """`(layer, data)` in the new order; an old `(data, layer)` call is swapped with one DeprecationWarning.

    For functions that take `(model, layer, data)` positionally and want to
    keep an older `(model, data, layer)` order working. A layer spec is a
    str, int, NumPy integer or Layer (or, with `several`, a list of them); data
    is an array, tensor, list of batches, `tf.data.Dataset` or generator.

    Example:
        >>> layer, data = layer_and_data(layer, data, "my_view")
    """
    layer, data, swapped = _in_order(layer, data, several)
    if swapped:
        warnings.warn(
            f"{fn_name}: `data` now comes after `layer`; call {fn_name}(model, layer, data, *, ...).",
            DeprecationWarning,
            stacklevel=3,
        )
    return layer, data


def dataset_view(
    *, legacy: Sequence[str] = (), several: bool = False, data_name: str = "data", aliases: dict | None = None
) -> Callable:
    """Decorator for `fn(model, layer, data=None, *, ...)` that accepts the older call forms.

    Accepted with one `DeprecationWarning` (the function's own signature stays
    the documented one, so `inspect.signature` shows the new order):
    `fn(model, data, layer)`, `fn(model, data, layer=...)`, `fn(model, data)`
    (layer defaulted), extra positional values after `data`, which go to
    the keyword-only arguments named in `legacy`, in order, and renamed
    keywords listed in `aliases`.

    Args:
        legacy: keyword-only argument names that used to be positional after `data`.
        several: `layer` may be a list of layers (for telling it from data).
        data_name: the name of the function's data parameter (`data` or `images`).
        aliases: `{old keyword: new keyword}` for renamed keyword arguments.
    """

    def decorate(fn):
        name = fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            notes = []
            for old, new in (aliases or {}).items():
                if old in kwargs:
                    if new in kwargs:
                        raise ArgumentTypeError(f"{name}() got both `{old}` and its new name `{new}`; pass `{new}`.")
                    kwargs[new] = kwargs.pop(old)
                    notes.append(f"`{old}=` is now `{new}=`")
            if args:
                model, args = args[0], args[1:]
            elif "model" in kwargs:
                model = kwargs.pop("model")
            else:
                raise ArgumentTypeError(f"{name}() needs a `model`.")
            if len(args) > 2:
                extra, args = args[2:], args[:2]
                if len(extra) > len(legacy):
                    raise ArgumentTypeError(
                        f"{name}() takes `model`, `layer` and `{data_name}` positionally and the rest by keyword; "
                        f"got {len(extra) + 3} positional arguments."
                    )
                for key, value in zip(legacy, extra):
                    if key in kwargs:
                        raise ArgumentTypeError(f"{name}() got `{key}` both by position and by keyword.")
                    kwargs[key] = value
                notes.append("pass " + ", ".join(f"`{k}=`" for k in legacy[: len(extra)]) + " by keyword")
            layer = args[0] if len(args) > 0 else kwargs.pop("layer", _MISSING)
            data = args[1] if len(args) > 1 else kwargs.pop(data_name, _MISSING)
            if layer is not _MISSING and data is _MISSING and is_data_source(layer) and len(args) == 1:
                # fn(model, data) or fn(model, data, layer=...): the data came first.
                layer, data = kwargs.pop("layer", _MISSING), layer
                notes.insert(0, f"`{data_name}` now comes after `layer`")
            elif layer is not _MISSING and data is not _MISSING:
                layer, data, swapped = _in_order(layer, data, several)
                if swapped:
                    notes.insert(0, f"`{data_name}` now comes after `layer`")
            if notes:
                warnings.warn(
                    f"{name}: this call uses an older form ({'; '.join(notes)}); call "
                    f"{name}(model, layer, {data_name}, *, ...) instead.",
                    DeprecationWarning,
                    stacklevel=2,
                )
            call = {}
            if layer is not _MISSING:
                call["layer"] = layer
            if data is not _MISSING:
                call[data_name] = data
            return fn(model, **call, **kwargs)

        return wrapper

    return decorate


def _input_layer_names(model) -> set:
    names = set()
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.InputLayer):
            names.add(layer.name)
        elif is_model(layer):
            names |= _input_layer_names(layer)
    try:
        names |= {t._keras_history.operation.name for t in model.inputs}
    except (AttributeError, ValueError, TypeError):
        pass
    return names


def resolve_layer(model, layer, *, name: str = "layer", allow_model: bool = False):
    """The spec (NumPy integers as int) and the Layer it names, with errors that name `name`.

    Raises:
        ArgumentTypeError: not a name, index or Layer (e.g. a float, a list, None).
        LayerNotFoundError: unknown name (closest names listed) or the model's Input layer.
        UnsupportedLayerError: a nested model (when not allowed).
    """
    if not is_layer_spec(layer):
        raise ArgumentTypeError(
            f'`{name}` must be a layer name, an "outer/inner" path, an integer index or a Layer; '
            f"got {_describe(layer)}."
        )
    if isinstance(layer, np.integer):
        layer = int(layer)
    if isinstance(layer, keras.layers.InputLayer) or (isinstance(layer, str) and layer in _input_layer_names(model)):
        shown = layer if isinstance(layer, str) else layer.name
        raise LayerNotFoundError(
            f"`{name}` {shown!r} is the model's Input layer, which holds the images themselves; "
            "pick a layer after it (e.g. a convolution)."
        )
    found = find_layer(model, layer)
    if is_model(found) and not allow_model:
        raise UnsupportedLayerError(
            f'`{name}` {found.name!r} is a nested model; pick one of its layers (e.g. "{found.name}/<layer>").'
        )
    return layer, found


def resolve_layers(model, layer, *, name: str = "layer", default: Callable | None = None) -> tuple[list, bool]:
    """`([(spec, Layer), ...], several)` for one spec, a list of specs, or None (`default(model)`)."""
    if layer is None and default is not None:
        specs = default(model)
        if not specs:
            raise UnsupportedLayerError(f"Model {model.name!r} has no convolution layer; pass `{name}=` explicitly.")
        return [resolve_layer(model, s, name=name) for s in specs], True
    if isinstance(layer, (list, tuple)):
        if not layer:
            raise ArgumentTypeError(f"`{name}` is an empty list; give a layer or a list of layers.")
        return [resolve_layer(model, s, name=name) for s in layer], True
    return [resolve_layer(model, layer, name=name)], False


def check_output_rank(found, ranks: Sequence[int], what: str, *, name: str = "layer") -> int | None:
    """The rank of `found`'s output if it is one of `ranks` (None if unknown yet); a clear error otherwise."""
    rank = output_rank(found)
    if rank is not None and rank not in ranks:
        shape = tuple(found.output.shape)
        raise UnsupportedLayerError(
            f"`{name}` {found.name!r} ({type(found).__name__}) has output shape {shape}; {what}."
        )
    return rank


def _describe(value) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_model(model, *, name: str = "model") -> None:
    """A functional or Sequential image model, or a clear error naming `name`."""
    from kerasviz.core.errors import UnsupportedModelError
    from kerasviz.core.inputs import expected_image_shape

    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(f"`{name}` must be a keras.Model; got {type(model).__name__}.")
    try:
        expected_image_shape(model)
    except UnsupportedModelError:
        raise
    except (ValueError, TypeError) as err:
        raise UnsupportedModelError(f"`{name}`: {err}") from None


def renamed(**aliases) -> Callable:
    """Decorator: keyword `old=` still works for `new=` (`@renamed(reading="kernel_op")`), with a DeprecationWarning."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in aliases.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ArgumentTypeError(
                            f"{fn.__name__}() got both `{old}` and its new name `{new}`; pass `{new}`."
                        )
                    kwargs[new] = kwargs.pop(old)
                    warnings.warn(f"{fn.__name__}: `{old}=` is now `{new}=`.", DeprecationWarning, stacklevel=2)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
