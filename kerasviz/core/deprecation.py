"""Old call forms that keep working, each with one DeprecationWarning naming the new form.

`renamed(old="new")`: a keyword argument's old name. `keyword_only("unpool", positional=2)`:
arguments that used to be positional and are now keyword-only. The decorated function keeps its
documented signature (`inspect.signature` follows `functools.wraps`), so only the new form is shown.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

from kerasviz.core.errors import ArgumentTypeError


def renamed(**aliases: str) -> Callable:
    """Decorator: keyword `old=` still works for `new=` (`@renamed(reading="kernel_op")`), with a DeprecationWarning.

    Args:
        **aliases: `old="new"` pairs of keyword names.

    Returns:
        The decorator.

    Example:
        >>> @renamed(image="images")
        ... def plot(images): ...
    """

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


def keyword_only(*legacy: str, positional: int) -> Callable:
    """Decorator: keyword-only arguments `legacy` are still accepted by position after the first `positional`.

    Args:
        *legacy: the keyword-only arguments that used to be positional, in their old order.
        positional: how many arguments the signature takes by position.

    Returns:
        The decorator.

    Example:
        >>> @keyword_only("unpool", positional=2)
        ... def decode_filters(model, layer, *, unpool="bicubic"): ...
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if len(args) > positional:
                extra, args = args[positional:], args[:positional]
                if len(extra) > len(legacy):
                    raise ArgumentTypeError(
                        f"{fn.__name__}() takes {positional} positional arguments and the rest by keyword; "
                        f"got {positional + len(extra)} positional arguments."
                    )
                for key, value in zip(legacy, extra):
                    if key in kwargs:
                        raise ArgumentTypeError(f"{fn.__name__}() got `{key}` both by position and by keyword.")
                    kwargs[key] = value
                given = ", ".join(f"`{key}=`" for key in legacy[: len(extra)])
                warnings.warn(f"{fn.__name__}: pass {given} by keyword.", DeprecationWarning, stacklevel=2)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
