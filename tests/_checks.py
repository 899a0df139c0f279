"""Checks shared by the bad-input tests: a clear kerasviz error, and nothing global changed.

from _checks import assert_clear_error, global_state_unchanged

assert_clear_error(lambda: kv.smoothgrad(model, x, noise=float("nan")), "noise")
"""

from __future__ import annotations

import contextlib
import random

import keras
import matplotlib
import numpy as np

import kerasviz as kv

# Words that betray a raw framework error leaking through instead of a kerasviz message.
_RAW_MARKERS = (
    "Traceback",
    "tensorflow.python",
    "InvalidArgumentError:",
    "node ",
    "Graph execution error",
    "autograph",
)


def global_state() -> tuple:
    """What no kerasviz call may change: dtype policy, floatx, Python and NumPy random state, rcParams."""
    return (
        keras.config.dtype_policy().name,
        keras.config.floatx(),
        random.getstate(),
        repr(np.random.get_state()[1][:8]) + repr(np.random.get_state()[2:]),
        dict(matplotlib.rcParams),
    )


@contextlib.contextmanager
def global_state_unchanged():
    """`with global_state_unchanged(): ...` fails if the block changed global state."""
    before = global_state()
    yield
    after = global_state()
    names = ("dtype policy", "floatx", "Python random state", "NumPy random state", "matplotlib rcParams")
    for name, b, a in zip(names, before, after):
        if name == "matplotlib rcParams":
            changed = sorted(k for k in b if repr(b[k]) != repr(a.get(k)))
            assert not changed, f"matplotlib rcParams changed: {changed[:5]}"
        else:
            assert b == a, f"{name} changed"


def assert_clear_error(call, argument: str | None = None, *, match: str | None = None) -> kv.KerasvizError:
    """`call()` must raise a KerasvizError naming `argument` (as `argument`), with no raw framework text.

    Returns the error for further checks.
    """
    import re

    with global_state_unchanged():
        try:
            call()
        except kv.KerasvizError as err:
            error = err
        except Exception as err:  # noqa: BLE001 - the point is to report what leaked
            raise AssertionError(f"expected a kerasviz error, got {type(err).__name__}: {str(err)[:300]}") from err
        else:
            raise AssertionError("expected a kerasviz error, but the call succeeded")
    message = str(error)
    if argument is not None:
        assert f"`{argument}`" in message or repr(argument) in message or argument in message, (
            f"the message does not name `{argument}`: {message}"
        )
    for marker in _RAW_MARKERS:
        assert marker not in message, f"raw framework text {marker!r} in the message: {message[:300]}"
    if match is not None:
        assert re.search(match, message), f"{match!r} not in: {message}"
    return error
