"""Checks by argument name for functions whose settings mean the same everywhere.

Plots and array helpers share many settings (`alpha`, `percentile`, `cmap`, `cols`, `dpi`, `title`,
`figsize`, the array they draw). `checked_arguments` checks the ones a call gives explicitly, by
name, before the function runs, so a bad value raises the one clear `KerasvizError` instead of a
matplotlib or NumPy error from deep inside the drawing:

    @checked_arguments
    def plot_attribution(image, heatmap, *, alpha=0.5, percentile=99.0, cmap=None): ...

Arrays (`image`, `heatmap`, `maps`, ...) are checked only when given as arrays (results and
dicts pass through to the function's own reading of them).
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable

import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.validate import check_fraction, check_int, check_number


def _positive_number(value, name):
    return check_number(value, name, minimum=0.0, strict_minimum=True, allow_none=True)


def _positive_int(value, name):
    return check_int(value, name, minimum=1, allow_none=True)


def _index(value, name):
    return check_int(value, name)


def _percentile(value, name):
    return check_number(value, name, minimum=0.0, maximum=100.0)


def _fraction(value, name):
    return check_fraction(value, name, allow_none=True)


def _non_negative(value, name):
    return check_number(value, name, minimum=0.0, allow_none=True)


def _title(value, name):
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(f"`{name}` must be a string or None; got {value!r} ({type(value).__name__}).")
    return value


def _figsize(value, name):
    if value is None:
        return value
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ArgumentTypeError(f"`{name}` must be (width, height) in inches or None; got {value!r}.")
    for item in value:
        _positive_number(item, name)
    return value


def _cmap(value, name):
    if value is None:
        return value
    import matplotlib
    from matplotlib.colors import Colormap

    if isinstance(value, Colormap):
        return value
    if not isinstance(value, str):
        raise ArgumentTypeError(f"`{name}` must be a colormap name or a matplotlib Colormap; got {value!r}.")
    if value not in matplotlib.colormaps:
        import difflib

        close = difflib.get_close_matches(value, list(matplotlib.colormaps), n=3)
        hint = f" Closest names: {', '.join(close)}." if close else ""
        raise InvalidArgumentError(f"`{name}` {value!r} is not a matplotlib colormap.{hint}")
    return value


def check_array(value, name: str, *, min_ndim: int = 1, max_ndim: int | None = None) -> np.ndarray:
    """A non-empty, finite, real numeric array of `min_ndim`..`max_ndim` dimensions, as float32 or its integers."""
    from kerasviz.core.inputs import as_numeric_array

    array = np.asarray(as_numeric_array(value, name))
    if array.ndim < min_ndim or (max_ndim is not None and array.ndim > max_ndim):
        wanted = f"{min_ndim}" if max_ndim == min_ndim else f"{min_ndim} to {max_ndim or 'any'}"
        raise InvalidArgumentError(f"`{name}` must have {wanted} dimensions; got shape {array.shape}.")
    return array


def _array(min_ndim: int, max_ndim: int | None = None):
    def check(value, name):
        if isinstance(value, (np.ndarray, list, str, bytes, numbers.Number)) or value is None:
            return check_array(value, name, min_ndim=min_ndim, max_ndim=max_ndim)
        return value  # a tensor, a result object or a dict: the function reads it itself

    return check


def _picture(value, name):
    """An image or a batch of images to draw: 2 to 4 dimensions, 1, 3 or 4 channels last when it has channels."""
    array = _array(2, 4)(value, name)
    if isinstance(array, np.ndarray) and array.ndim >= 3 and array.shape[-1] not in (1, 3, 4):
        raise InvalidArgumentError(f"`{name}` must have 1, 3 or 4 channels last to be drawn; got shape {array.shape}.")
    return array


def check_drawable(images, name: str = "images") -> np.ndarray:
    """Images a plot draws: finite numbers, `(H, W, C)` or `(N, H, W, C)` with 1 or 3 channels, as float32."""
    x = np.asarray(check_array(images, name, min_ndim=3, max_ndim=4), np.float32)
    if x.shape[-1] not in (1, 3):
        raise InvalidArgumentError(f"`{name}` must have 1 or 3 channels last to be drawn; got shape {x.shape}.")
    return x


def _image(value, name):
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return value  # an index into a batch (plot_activations): the function knows the batch size
    return _array(2, 3)(value, name)


def check_result(value, name: str, kind: type, made_by: str):
    """`value` must be a `kind` (a result of `made_by`); else a clear ArgumentTypeError.

    Objects shaped like the result (not arrays, numbers, text, containers or None) pass: the plot reads
    their attributes.
    """
    plain = (np.ndarray, numbers.Number, str, bytes, list, tuple, dict, set, type(None))
    if not isinstance(value, kind) and isinstance(value, plain):
        raise ArgumentTypeError(
            f"`{name}` must be the result of {made_by} (a {kind.__name__}); got {type(value).__name__}."
        )
    return value


def check_fields(value, name: str, fields: tuple, made_by: str):
    """`value` must carry `fields` (a result of `made_by`, or an object shaped like one); else ArgumentTypeError."""
    missing = [f for f in fields if not hasattr(value, f)]
    if missing:
        raise ArgumentTypeError(
            f"`{name}` must be the result of {made_by}; got {type(value).__name__} (no {', '.join(missing)})."
        )
    return value


# Argument name -> check(value, name). Only names that mean the same in every function that has them.
CHECKS: dict[str, Callable] = {
    "alpha": _fraction,
    "percentile": _percentile,
    "dpi": _positive_number,
    "tile_inches": _positive_number,
    "font_size": _positive_number,
    "cols": _positive_int,
    "max_filters": _positive_int,
    "max_maps": _positive_int,
    "max_images": _positive_int,
    "filter_index": _index,
    "channel": _index,
    "title": _title,
    "figsize": _figsize,
    "cmap": _cmap,
    "tol": _non_negative,
    "hit_rate": _fraction,
    "stride": _positive_int,
    "fraction": _fraction,
    "image": _image,
    "images": _array(2, 4),  # an image or a batch to draw (each plot checks its own layout)
    "heatmap": _array(2, 3),
    "relevance": _array(2),
    "kernel": _array(3, 4),
    "original": _picture,
    "decoded": _array(3, 4),
}


def checked_arguments(function: Callable | None = None, *, skip: tuple = (), **extra: Callable) -> Callable:
    """Decorator: check the arguments a call gives by name with `CHECKS` (plus `extra`), then call.

    Defaults are not checked (they are right by construction); `skip` names arguments whose meaning
    differs in this function.
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        checks = {n: c for n, c in {**CHECKS, **extra}.items() if n in signature.parameters and n not in skip}

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                bound = signature.bind_partial(*args, **kwargs)
            except TypeError:
                return fn(*args, **kwargs)  # Python's own message for a wrong call
            for name, value in bound.arguments.items():
                if name in checks and value is not signature.parameters[name].default:
                    checks[name](value, name)
            return fn(*args, **kwargs)

        return wrapper

    return decorate(function) if function is not None else decorate
