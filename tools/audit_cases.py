"""The bad values of tools/audit_edges.py, per argument name (models: audit_models.py, good calls: audit_calls.py).

A case is (shape, function, argument, label): call `function` as a user would on the model of that
shape, with `argument` replaced by a bad value (or, with argument None, as is on an unusual model).
Everything is built from the public signatures, so a new public function is audited without edits
here; `GOOD` only fills the required arguments a name alone does not explain.
"""

from __future__ import annotations

import inspect
import math

import keras
import numpy as np
from audit_calls import BY_NAME, call, good_call, is_map_method, parameters, positions_found, required  # noqa: F401
from audit_models import Ctx, build_shapes  # noqa: F401

_IMAGE_ARGS = ("images", "image", "data", "concept_images", "random_images", "original", "probe", "x_train")
_INT_ARGS = (
    "steps",
    "samples",
    "k",
    "batch_size",
    "octaves",
    "n_segments",
    "grid_size",
    "top",
    "max_iter",
    "designs",
    "image_batch_size",
    "mask_batch_size",
    "path_batch_size",
    "sample_batch_size",
    "filter_batch_size",
    "max_filters",
    "cols",
    "n_baselines",
    "pca_dims",
    "max_channels",
    "epochs",
    "max_maps",
    "test_size",
    "samples_per_image",
    "min_count",
    "set_size",
    "random_sets",
    "fit_images",
    "max_vectors",
    "max_images",
    "jitter",
    "limit",
    "max_samples",
)
_ONE_INDEX_ARGS = ("filter_index", "channel")
_FLOAT_ARGS = (
    "lr",
    "step_size",
    "noise",
    "octave_scale",
    "threshold",
    "apoz_threshold",
    "cosine_threshold",
    "correlation_threshold",
    "epsilon",
    "gamma",
    "alpha",
    "beta",
    "radius",
    "percentile",
    "fraction",
    "keep_probability",
    "test_fraction",
    "perplexity",
    "blur_sigma",
    "tolerance",
    "subset_fraction",
    "cosine_power",
    "weight_decay",
    "learning_rate",
    "momentum",
    "tv_weight",
    "alpha_weight",
    "lower_fraction",
    "tol",
    "compactness",
    "sigma",
    "dpi",
    "font_size",
)
_CHOICE_ARGS = (
    "method",
    "rule",
    "unpool",
    "reduce",
    "mode",
    "kind",
    "weighting",
    "precision",
    "param",
    "classifier",
    "correction",
    "field_method",
    "objective",
    "family",
    "kernel_op",
    "dtype",
    "transforms",
    "cmap",
)
_INDEX_ARGS = ("filters", "classes", "units", "concepts", "channels")


# Values the audit would call bad that a function documents as meaningful: (function, argument, label) -> why.
ALLOWED = {
    ("redundant_filters", "cosine_threshold", "negative"): "documented range [-1, 1]",
    ("redundant_filters", "correlation_threshold", "negative"): "documented range [-1, 1]",
    ("pointing_game", "classes", "list out of range"): "class labels, not indices",
    ("superpixels", "images", "wrong channels"): "SLIC segments any number of channels",
    ("inspect_report", "images", "different shapes"): "photos of any size, each fitted to the model",
    ("inspect_report", "filters", "out of range"): "a count per layer, capped at the layer's filters",
    ("plot_channel", "layer", "unknown"): "a layer name shown in the title",
    ("plot_channel", "layer", "input layer"): "a layer name shown in the title",
    ("plot_filter_grid", "units", "list out of range"): "unit labels of the tiles, not indices",
}
# Results documented to hold NaN (function -> why); not counted as silent wrong answers.
DOCUMENTED_NAN = {"filter_similarity": "correlation is NaN for constant (dead) filters, as documented"}
# Functions whose audited good call needs no `output=` on a multi-output model (the objective reads a channel).
NO_OUTPUT_NEEDED = {"render_objective", "render"}


def bad_values_for(fn, arg: str, c: Ctx) -> list:
    """`bad_values` of one argument of `fn`, without None where None is the documented default."""
    try:
        default = inspect.signature(fn).parameters[arg].default
    except (TypeError, ValueError, KeyError):
        default = inspect.Parameter.empty
    values = bad_values(arg, c, int_default=isinstance(default, int) and not isinstance(default, bool))
    return [v for v in values if not (v[1] is None and default is None)]


def bad_values(arg: str, c: Ctx, int_default: bool = False) -> list:
    """(label, value, must_refuse) for the bad values of an argument named `arg` (empty: not audited)."""
    if arg == "model":
        return [
            ("None", None, True),
            ("text", "not-a-model", True),
            ("array", np.zeros(3), True),
            ("layer", keras.layers.Dense(2), True),
        ]
    if arg in _IMAGE_ARGS and not (arg == "image" and int_default):
        if not isinstance(c.x, np.ndarray):
            return []
        x = c.x if arg != "image" else c.x[:1]
        shape = x.shape
        return [
            ("None", None, True),
            ("text", "cat.jpg", True),
            ("empty", np.zeros((0, *shape[1:]), np.float32), True),
            ("wrong rank", x[None], True),
            ("NaN", np.full(shape, np.nan, np.float32), True),
            ("Inf", np.full(shape, np.inf, np.float32), True),
            ("beyond float32", np.full(shape, 1e300), True),
            ("object", np.array([x[0], None], dtype=object), True),
            ("wrong channels", np.zeros((*shape[:-1], shape[-1] + 2), np.float32), True),
            ("different shapes", [x[0], x[0][:-1]], True),
            ("complex", x.astype(complex), True),
        ]
    if arg in ("layer", "layers"):
        return [
            ("unknown", "nope", True),
            ("index out of range", 999, True),
            ("float", 2.5, True),
            ("empty list", [], True),
            ("input layer", c.model.layers[0].name if c.model.layers else "x", True),
            ("dict", {"a": 1}, True),
            ("dense layer", c.dense, False),
        ]
    if arg == "target":
        return [
            ("out of range", 999, True),
            ("float", 2.5, True),
            ("text", "cat", True),
            ("wrong length", [0] * 5, True),
            ("NaN", math.nan, True),
            ("out of range list", [0, 999], True),
        ]
    if arg in ("output", "input"):
        return [("out of range", 5, True), ("unknown", "nope", True), ("float", 2.5, True)]
    if arg in _ONE_INDEX_ARGS or (arg == "image" and int_default):
        return [("out of range", 999, True), ("float", 2.5, True), ("text", "a", True), ("NaN", math.nan, True)]
    if arg == "strategy":
        return [("text", "nope", True), ("number", 3, True)]
    if arg in _INDEX_ARGS:
        return [
            ("out of range", 999, True),
            ("float", 2.5, True),
            ("empty", [], True),
            ("text", "a", True),
            ("list out of range", [0, 999], True),
        ]
    if arg in _INT_ARGS:
        return [
            ("zero", 0, True),
            ("negative", -1, True),
            ("float", 2.5, True),
            ("text", "8", True),
            ("NaN", math.nan, True),
            ("bool", True, True),
        ]
    if arg in _FLOAT_ARGS:
        return [("NaN", math.nan, True), ("Inf", math.inf, True), ("negative", -1.0, True), ("text", "0.1", True)]
    if arg in _CHOICE_ARGS:
        return [("unknown", "nope", True), ("number", 3, True)]
    if arg in ("baseline", "substrate"):
        return [("NaN", math.nan, True), ("unknown", "nope", True), ("wrong shape", np.zeros((3, 3)), True)]
    if arg == "seed":
        return [("text", "x", True), ("float", 2.5, True)]
    if arg in ("maps", "heatmap", "relevance"):
        return [
            ("None", None, True),
            ("NaN", np.full(c.maps.shape, np.nan, np.float32), True),
            ("wrong rank", np.ones(5, np.float32), True),
            ("empty", np.zeros((0, *c.maps.shape[1:])), True),
        ]
    return []
