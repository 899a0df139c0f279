"""Argument checks shared by every public function.

Each checker takes the value and the argument's name, returns the value in a
canonical type, and raises a `KerasvizError` whose message names the argument,
what was given and what was expected. Public functions check their settings
first, before any model work, so a bad setting fails in milliseconds.

    steps = check_int(steps, "steps", minimum=1)
    noise = check_number(noise, "noise", minimum=0.0)
    method = check_choice(method, "method", ("riemann", "gausslegendre"))
    filters = check_indices(filters, "filters", size=layer_channels)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Literal, overload

import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range_text(minimum, maximum, strict_minimum: bool = False) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}"
    if minimum is not None:
        return f"> {minimum}" if strict_minimum else f">= {minimum}"
    if maximum is not None:
        return f"<= {maximum}"
    return "any value"


@overload
def check_int(
    value, name: str, *, minimum: int | None = None, maximum: int | None = None, allow_none: Literal[False] = False
) -> int: ...
@overload
def check_int(
    value, name: str, *, minimum: int | None = None, maximum: int | None = None, allow_none: bool = ...
) -> int | None: ...
def check_int(
    value,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """An integer setting (a count, a size, an index) as a Python int.

    Python and NumPy integers are accepted; booleans, floats (also `3.0` and
    `1e8`) and strings are not, since a count given as a float is almost always
    a slip.

    Args:
        value: the user's value.
        name: the argument's name, for the message.
        minimum, maximum: inclusive bounds (None: unbounded).
        allow_none: accept None and return it.

    Raises:
        ArgumentTypeError: not an integer.
        InvalidArgumentError: outside `[minimum, maximum]`.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ArgumentTypeError(
            f"`{name}` must be an integer{' (or None)' if allow_none else ''}; got {_describe(value)} "
            f"({type(value).__name__})."
        )
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidArgumentError(f"`{name}` must be an integer {_range_text(minimum, maximum)}; got {value}.")
    return value


@overload
def check_number(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    allow_none: Literal[False] = False,
) -> float: ...
@overload
def check_number(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    allow_none: bool = ...,
) -> float | None: ...
def check_number(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    allow_none: bool = False,
) -> float | None:
    """A finite real setting (a rate, a noise level, a threshold) as a Python float.

    Args:
        value: the user's value (int, float or a NumPy scalar).
        name: the argument's name, for the message.
        minimum, maximum: bounds; `minimum` is exclusive with `strict_minimum`.
        allow_none: accept None and return it.

    Raises:
        ArgumentTypeError: not a real number (booleans and strings included).
        InvalidArgumentError: NaN, infinite, or out of range.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ArgumentTypeError(
            f"`{name}` must be a number{' (or None)' if allow_none else ''}; got {_describe(value)} "
            f"({type(value).__name__})."
        )
    value = float(value)
    if not math.isfinite(value):
        raise InvalidArgumentError(f"`{name}` must be a finite number; got {value}.")
    too_low = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        raise InvalidArgumentError(f"`{name}` must be {_range_text(minimum, maximum, strict_minimum)}; got {value:g}.")
    return value


@overload
def check_positive(value, name: str, *, allow_none: Literal[False] = False) -> float: ...
@overload
def check_positive(value, name: str, *, allow_none: bool = ...) -> float | None: ...
def check_positive(value, name: str, *, allow_none: bool = False) -> float | None:
    """A finite number > 0 (a learning rate, a step size, a scale)."""
    return check_number(value, name, minimum=0.0, strict_minimum=True, allow_none=allow_none)


def check_fraction(value, name: str, *, allow_none: bool = False) -> float | None:
    """A finite number in [0, 1] (a threshold on a fraction, a percentile / 100)."""
    return check_number(value, name, minimum=0.0, maximum=1.0, allow_none=allow_none)


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """One of a fixed set of strings (a method, a rule, a reduction)."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgumentError(
            f"`{name}` must be one of {', '.join(repr(c) for c in choices)}; got {_describe(value)}."
        )
    return value


def check_indices(
    value,
    name: str,
    *,
    size: int,
    allow_none: bool = True,
    allow_empty: bool = False,
) -> list[int]:
    """Indices into `range(size)` (filters, channels, classes) as a list of ints.

    The one index convention: None means all of them (when `allow_none`), an
    int means one, a sequence or 1-D integer array means those, in the order
    given. Negative indices count from the end, as in NumPy, and are returned
    as their positive equivalents.

    Raises:
        ArgumentTypeError: not an int, a sequence of ints or None.
        InvalidArgumentError: an index outside `[-size, size)`, or an empty list.
    """
    if value is None:
        if not allow_none:
            raise ArgumentTypeError(f"`{name}` must be an index or a list of indices; got None.")
        return list(range(size))
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        items: Sequence = [value]
    elif isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray, range)):
        raise ArgumentTypeError(
            f"`{name}` must be None, an integer index or a list of integer indices; got {_describe(value)}."
        )
    else:
        items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
    if not items and not allow_empty:
        raise InvalidArgumentError(f"`{name}` is empty; give at least one index in 0..{size - 1}.")
    out = []
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, np.integer)):
            raise ArgumentTypeError(f"`{name}` must hold integer indices; got {_describe(item)} in {_describe(value)}.")
        index = int(item)
        if not -size <= index < size:
            raise InvalidArgumentError(
                f"`{name}` index {index} is out of range: there are {size} (valid 0..{size - 1}, "
                f"or -{size}..-1 from the end)."
            )
        out.append(index % size)
    return out


def check_finite_array(value, name: str, *, dtype=np.float32) -> np.ndarray:
    """A numeric array with no NaN or Inf, converted to `dtype` (float32 by default).

    Values that are finite but overflow `dtype` (float64 data above float32's
    range) are reported as such, not as NaN.
    """
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)) or array.dtype == np.bool_:
        raise ArgumentTypeError(f"`{name}` must be a numeric array; got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ArgumentTypeError(f"`{name}` must be real-valued; got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InvalidArgumentError(f"`{name}` contains {bad} NaN or Inf value(s); it must be finite.")
    target = np.dtype(dtype)
    if np.issubdtype(target, np.floating) and array.size:
        limit = float(np.finfo(target).max)
        peak = float(np.max(np.abs(array)))
        if peak > limit:
            raise InvalidArgumentError(
                f"`{name}` holds values up to {peak:.3g}, beyond {target.name}'s range (±{limit:.3g})."
            )
    return array.astype(target, copy=False)


def check_bool(value, name: str) -> bool:
    """A flag: True or False (NumPy booleans too), not 0/1 or a string."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"`{name}` must be True or False; got {_describe(value)} ({type(value).__name__}).")
    return bool(value)


def check_seed(value, name: str = "seed") -> int:
    """A random seed: an integer in [0, 2**31 - 1]."""
    return check_int(value, name, minimum=0, maximum=2**31 - 1)


def check_optional_choice(value, name: str, choices: Iterable[str]) -> str | None:
    """None or one of a fixed set of strings (e.g. a channel reduction)."""
    return None if value is None else check_choice(value, name, choices)


def renamed_arguments(function: str, extra: dict, renames: dict, given: dict, defaults: dict) -> dict:
    """Apply deprecated keyword names a function still accepts through `**extra`.

    Args:
        function: the public function's name, for messages.
        extra: the function's `**kwargs`.
        renames: `{old name: new name}`.
        given: `{new name: value}` as the function received them.
        defaults: `{new name: default}` of the signature (an old name may only
            be used while the new one is left at its default).

    Returns:
        `given`, with values passed under an old name moved to the new name (a
        `DeprecationWarning` says which name to use).

    Raises:
        ArgumentTypeError: an unknown keyword, or both the old and new name given.
    """
    import warnings

    out = dict(given)
    for key, value in extra.items():
        if key not in renames:
            raise ArgumentTypeError(f"{function}() got an unexpected keyword argument `{key}`.")
        new = renames[key]
        current, default = out.get(new), defaults.get(new)
        scalar = isinstance(current, (int, float, str)) and isinstance(default, (int, float, str))
        if (current != default) if scalar else (current is not default):
            raise ArgumentTypeError(f"{function}(): give `{new}` only (`{key}` is its old name).")
        message = f"{function}(): `{key}` is now called `{new}`; the old name will be removed."
        warnings.warn(message, DeprecationWarning, stacklevel=3)
        out[new] = value
    return out


__all__ = [
    "check_bool",
    "check_seed",
    "check_optional_choice",
    "renamed_arguments",
    "check_int",
    "check_number",
    "check_positive",
    "check_fraction",
    "check_choice",
    "check_indices",
    "check_finite_array",
]
