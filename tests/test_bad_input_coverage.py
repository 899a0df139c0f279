"""Every public callable has bad-input rows: a new public function without any fails here.

The rows themselves live in the family tables (`tests/test_bad_inputs_<family>.py`), each expecting a
clear `KerasvizError` that names the argument, with global state unchanged. This module reads those
tables (without running them) and checks that every public name is exercised by at least one row,
and that the bad-input classes of the matrix each appear somewhere. `tools/audit_edges.py` is the
exhaustive, slower counterpart: every public function crossed with every class and model shape.
"""

import ast
import inspect

import pytest
from _surface import _references, bad_input_files, public_callables, rows_per_function

# The bad-input classes of the matrix, and words that mark a row of that class in a table (row ids,
# dict keys, argument names or values written in the row).
CLASSES = {
    "wrong type": ("float", "bool", "text", "None", "dict", "object", "string", "str"),
    "wrong shape or rank": ("rank", "shape", "channels", "wrong size", "different shapes"),
    "NaN or inf": ("nan", "inf", "NaN", "Inf", "beyond float32"),
    "out-of-range index or number": ("out of range", "huge", "=0", "negative", "-1", "10**"),
    "unknown layer or choice": ("unknown", "nope", "conv9", "missing", "Input layer", "input layer"),
    "empty input": ("empty", "[]", "zeros((0"),
    "wrong model kind, output or input": ("output", "subclassed", "multi", "Sequential", "model"),
}


def test_public_surface_is_found():
    surface = public_callables()
    # The families are all there (one name each), and the documented helpers outside the top level.
    for name in (
        "saliency",
        "lrp",
        "visualize_filters",
        "top_activating",
        "decode_filters",
        "tcav",
        "plot_activations",
    ):
        assert name in surface
    assert "testing.unchanged" in surface and "widgets.Explorer" in surface
    assert all(callable(obj) for obj in surface.values())


def test_every_public_callable_has_bad_input_rows():
    counts = rows_per_function()
    missing = sorted(name for name, count in counts.items() if count == 0)
    assert not missing, (
        f"{len(missing)} public callables have no row in any tests/test_bad_inputs_*.py table: {missing}. "
        "Add a row per bad-input class that applies (wrong type, shape, NaN/inf, out of range, unknown "
        "layer or choice, empty, wrong model kind) to the table of that family."
    )


def test_a_new_public_function_without_rows_fails(monkeypatch):
    import kerasviz as kv

    def brand_new_view(model, layer, data=None):
        """A public function nobody wrote rows for."""

    brand_new_view.__module__ = "kerasviz.dataset.new"
    monkeypatch.setattr(kv, "brand_new_view", brand_new_view, raising=False)
    if hasattr(kv, "__all__"):
        monkeypatch.setattr(kv, "__all__", [*kv.__all__, "brand_new_view"])
    counts = rows_per_function()
    assert counts["brand_new_view"] == 0
    tree = ast.parse("import kerasviz as kv\nROWS = [(lambda m: kv.brand_new_view(m, 2.5), 'layer')]\n")
    assert _references(tree, set(counts)) == ["brand_new_view"]


@pytest.mark.parametrize("bad_class", list(CLASSES))
def test_every_bad_input_class_has_rows(bad_class):
    text = "\n".join(path.read_text(encoding="utf-8") for path in bad_input_files())
    assert any(word in text for word in CLASSES[bad_class]), f"no row of class {bad_class!r}"


def test_public_callables_take_arguments_or_are_listed():
    # Everything counted as public has a signature a bad input can reach.
    for name, obj in public_callables().items():
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        assert params, f"{name} takes no argument: list it in _surface.NO_ARGUMENTS"
