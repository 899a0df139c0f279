"""Bad input to the shared argument checkers: clear kerasviz errors that name the argument."""

import numpy as np
import pytest
from _checks import assert_clear_error

from kerasviz.core.validate import check_choice, check_finite_array, check_indices, check_int, check_number


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: check_int(3.0, "steps"), "steps"),
        (lambda: check_int(True, "steps"), "steps"),
        (lambda: check_int(0, "steps", minimum=1), "steps"),
        (lambda: check_int(10**9, "k", maximum=100), "k"),
        (lambda: check_number(float("nan"), "lr"), "lr"),
        (lambda: check_number(-1.0, "noise", minimum=0.0), "noise"),
        (lambda: check_number("0.1", "noise"), "noise"),
        (lambda: check_choice("trapz", "method", ("riemann", "gausslegendre")), "method"),
        (lambda: check_indices([4], "filters", size=4), "filters"),
        (lambda: check_indices([], "filters", size=4), "filters"),
        (lambda: check_indices(1.5, "filters", size=4), "filters"),
        (lambda: check_finite_array(np.array([np.nan]), "baseline"), "baseline"),
        (lambda: check_finite_array(np.array([1e300]), "images"), "images"),
    ],
)
def test_checkers_raise_clear_errors(call, argument):
    assert_clear_error(call, argument)


def test_checkers_return_canonical_values():
    assert check_int(np.int64(3), "k") == 3 and type(check_int(np.int64(3), "k")) is int
    assert check_indices(None, "filters", size=3) == [0, 1, 2]
    assert check_indices(-1, "filters", size=3) == [2]
    assert check_indices(np.array([2, 0]), "filters", size=3) == [2, 0]
    assert check_number(np.float32(0.5), "noise") == 0.5
