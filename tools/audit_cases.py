"""The cases of tools/audit_edges.py: model shapes, good calls, and bad values per argument name.

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

import kerasviz as kv

H = W = 16
RNG = np.random.default_rng(0)


class Ctx:
    """One model shape and the arrays a good call on it needs."""

    def __init__(self, name, model, x, conv, dense, hw, multi_output=False, data_format="channels_last"):
        self.name, self.model, self.x, self.conv, self.dense = name, model, x, conv, dense
        self.hw, self.multi_output, self.data_format = hw, multi_output, data_format
        self.image = x[0] if isinstance(x, np.ndarray) else None
        self.maps = np.ones((2, *hw), np.float32)
        self._results = {}

    def result(self, key, make):
        """A real result of another public function, made once (plots draw these)."""
        if key not in self._results:
            self._results[key] = make()
        return self._results[key]


def _conv_net(name, shape=(H, W, 3), data_format="channels_last", kernel=3):
    keras.utils.set_random_seed(1)
    x = inputs = keras.Input(shape, name="pixels")
    x = keras.layers.Conv2D(4, kernel, padding="same", activation="relu", data_format=data_format, name="conv1")(x)
    x = keras.layers.Conv2D(6, kernel, padding="same", activation="relu", data_format=data_format, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(data_format=data_format, name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name=name)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="subclassed")
        self.conv1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")
        self.gap = keras.layers.GlobalAveragePooling2D(name="gap")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, x):
        return self.head(self.gap(self.conv1(x)))


def build_shapes(names=None) -> dict:
    """Model shape name -> a function building its Ctx (built lazily: each costs a graph)."""
    x = RNG.uniform(0, 1, (2, H, W, 3)).astype("float32")

    def functional():
        return Ctx("functional", _conv_net("functional"), x, "conv2", "head", (H, W))

    def sequential():
        keras.utils.set_random_seed(1)
        m = keras.Sequential(
            [
                keras.Input((H, W, 3)),
                keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
                keras.layers.MaxPooling2D(name="pool"),
                keras.layers.Conv2D(4, 3, activation="relu", name="conv2"),
                keras.layers.Flatten(name="flat"),
                keras.layers.Dense(3, name="head"),
            ],
            name="sequential",
        )
        return Ctx("sequential", m, x, "conv2", "head", (H, W))

    def nested():
        return Ctx("nested", kv.testing.nested_model((H, W, 3), 3, sequential=False), x, "conv2", "outer_head", (H, W))

    def multi_output():
        keras.utils.set_random_seed(1)
        i = keras.Input((H, W, 3))
        f = keras.layers.GlobalAveragePooling2D(name="gap")(
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(i)
        )
        m = keras.Model(
            i, [keras.layers.Dense(3, name="a")(f), keras.layers.Dense(2, name="b")(f)], name="multi_output"
        )
        return Ctx("multi_output", m, x, "conv1", "a", (H, W), multi_output=True)

    def multi_input():
        keras.utils.set_random_seed(1)
        i, v = keras.Input((H, W, 3), name="img"), keras.Input((4,), name="meta")
        f = keras.layers.GlobalAveragePooling2D(name="gap")(
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(i)
        )
        m = keras.Model(
            [i, v], keras.layers.Dense(3, name="head")(keras.layers.Concatenate()([f, v])), name="multi_input"
        )
        return Ctx("multi_input", m, [x, np.ones((2, 4), np.float32)], "conv1", "head", (H, W))

    def channels_first():
        xf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return Ctx(
            "channels_first",
            _conv_net("cf", (3, H, W), "channels_first"),
            xf,
            "conv2",
            "head",
            (H, W),
            data_format="channels_first",
        )

    def conv1d():
        keras.utils.set_random_seed(1)
        i = keras.Input((32, 2))
        f = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="conv1")(i)
        f = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="conv2")(f)
        m = keras.Model(i, keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling1D()(f)), name="signal")
        return Ctx("conv1d", m, RNG.normal(size=(2, 32, 2)).astype("float32"), "conv2", "head", (32,))

    def subclassed():
        m = _Subclassed()
        m(x)
        return Ctx("subclassed", m, x, "conv1", "head", (H, W))

    def tiny_1x1():
        return Ctx("tiny_1x1", _conv_net("tiny", (1, 1, 3), kernel=1), x[:, :1, :1], "conv2", "head", (1, 1))

    def mixed_precision():
        before = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            m = _conv_net("mixed")
        finally:
            keras.config.set_dtype_policy(before)
        return Ctx("mixed_precision", m, x, "conv2", "head", (H, W))

    shapes = dict(
        functional=functional,
        sequential=sequential,
        nested=nested,
        multi_output=multi_output,
        multi_input=multi_input,
        channels_first=channels_first,
        conv1d=conv1d,
        subclassed=subclassed,
        tiny_1x1=tiny_1x1,
        mixed_precision=mixed_precision,
    )
    return {k: v for k, v in shapes.items() if names is None or k in names}


# Cheap settings applied whenever a function takes them (never to the argument under test).
CHEAP = dict(
    steps=2,
    samples=4,
    k=2,
    octaves=1,
    size=16,
    n_segments=4,
    grid_size=4,
    designs=8,
    max_iter=250,
    progress=False,
    epochs=1,
    top=2,
    n_baselines=1,
    pca_dims=2,
    fit_images=2,
    max_vectors=64,
    set_size=2,
    random_sets=2,
    image_batch_size=2,
)

# Required arguments a name does not explain: function -> ctx -> {argument: value}.
GOOD = {
    "attribution_metrics": lambda c: {"methods": {"saliency": kv.saliency}},
    "max_sensitivity": lambda c: {"method": "saliency"},
    "randomization_check": lambda c: {"method": "gradient"},
    "visualize_classes": lambda c: {"classes": [0]},
    "render_objective": lambda c: {"objective": kv.objectives.channel(c.conv), "units": [0]},
    "render": lambda c: {"objective": kv.objectives.channel(c.conv), "units": [0]},
    "deconvnet_projection": lambda c: {"filter_index": 0},
    "tcav": lambda c: {"concept_images": c.x, "images": c.x, "random_images": c.x},
    "cav": lambda c: {"concept_images": c.x, "random_images": c.x},
    "testing.unchanged": lambda c: {"probe": c.x},
    "train_lenet": lambda c: {"x_train": np.zeros((4, 28, 28, 1), np.float32), "y_train": np.zeros(4, int)},
    "set_weights_label": lambda c: {"label": "untrained"},
    "token_grid": lambda c: {"tokens": np.zeros((2, 16, 4), np.float32), "reshape": (4, 4)},
    "plot_activations": lambda c: {"acts": _acts(c), "layer": c.conv},
    "plot_channel": lambda c: {"image": c.image, "maps": _acts(c)[c.conv][0], "channel": 0},
    "plot_attribution_grid": lambda c: {"image": c.image, "maps": {"saliency": c.maps[0]}},
    "plot_lrp": lambda c: {"image": c.image, "maps": {"lrp": c.maps[0]}},
    "overlay_heatmap": lambda c: {"ax": _axes(), "image": c.image, "heatmap": c.maps[0]},
    "plot_top_activating": lambda c: {
        "top": c.result("top", lambda: kv.top_activating(c.model, c.conv, c.x, k=2, progress=False))
    },
    "plot_neuron_features": lambda c: {
        "features": c.result("nf", lambda: kv.neuron_feature(c.model, c.conv, c.x, k=2, progress=False))
    },
    "plot_dead_filters": lambda c: {
        "report": c.result("dead", lambda: kv.dead_filters(c.model, c.conv, c.x, progress=False))
    },
    "plot_filter_similarity": lambda c: {
        "similarity": c.result("sim", lambda: kv.filter_similarity(c.model, c.conv, c.x, progress=False))
    },
    "plot_relevance_flow": lambda c: {"layers": {c.conv: np.ones((16, 16, 6), np.float32)}},
    "plot_response_comparison": lambda c: {
        "image": c.image,
        "cnn": {c.conv: np.ones((16, 16, 6))},
        "decoded": {c.conv: np.ones((16, 16, 6))},
    },
    "plot_crp": lambda c: {"result": c.result("crp", lambda: kv.crp(c.model, c.x, layer=c.conv, top=2)), "images": c.x},
    "plot_dream": lambda c: {
        "original": c.image,
        "dream": c.result(
            "dream", lambda: kv.deep_dream(c.model, c.image, [c.conv], steps=2, octaves=1, progress=False)
        ),
    },
    "plot_inversion": lambda c: {
        "original": c.image,
        "inversion": c.result("inv", lambda: kv.invert(c.model, c.image, c.conv, steps=2, progress=False)),
    },
    "plot_decoded_filter": lambda c: {"decoded": np.ones((5, 5, 3), np.float32)},
    "plot_deconvnet_comparison": lambda c: {
        "decoded": np.ones((5, 5, 3), np.float32),
        "images": c.x,
        "projections": np.ones((2, 16, 16, 3), np.float32),
    },
    "plot_filter_grid": lambda c: {"images": np.ones((2, 16, 16, 3), np.float32), "units": [0, 1]},
    "plot_perturbation_curves": lambda c: {"curves": {"saliency": np.linspace(1, 0, 5)}},
    "plot_signal_attribution": lambda c: {"signal": np.ones((32, 2), np.float32), "maps": np.ones(32, np.float32)},
    "plot_signal_activations": lambda c: {"activations": np.ones((32, 4), np.float32)},
    "plot_metrics_table": lambda c: {
        "table": c.result("mt", lambda: kv.attribution_metrics(c.model, c.x, {"saliency": kv.saliency}, progress=False))
    },
}


def _acts(c):
    return c.result("acts", lambda: kv.activations(c.model, c.x, c.conv))


def _axes():
    from matplotlib.figure import Figure

    return Figure().subplots()


# Arguments filled by name for any function (required ones only).
BY_NAME = {
    "model": lambda c: c.model,
    "images": lambda c: c.x,
    "data": lambda c: c.x,
    "image": lambda c: c.image,
    "layer": lambda c: c.conv,
    "layers": lambda c: [c.conv],
    "maps": lambda c: c.maps,
    "heatmap": lambda c: c.maps[0],
    "kernel": lambda c: np.ones((3, 3, 3, 4), np.float32),
    "decoded": lambda c: np.ones((4, 5, 5, 3), np.float32),
    "relevance": lambda c: c.maps,
    "points": lambda c: RNG.normal(size=(6, 2)),
    "ground_truth": lambda c: c.maps > 0,
    "scores": lambda c: np.ones((3, 3)),
    "labels": lambda c: np.zeros(3, int),
    "weights": lambda c: np.ones((3, 3)),
    "responses": lambda c: np.ones((2, 4, 4, 3)),
    "filter_index": lambda c: 0,
    "n": lambda c: 8,
}

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


def good_call(name: str, fn, c: Ctx):
    """(kwargs) for a good call of `fn` on ctx `c`, or None when a required argument cannot be filled."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    special = GOOD.get(name, lambda _: {})(c)
    kwargs = {}
    for p in params.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name.startswith("_"):
            continue
        if p.name in special:
            kwargs[p.name] = special[p.name]
        elif p.default is p.empty:
            if p.name not in BY_NAME:
                return None
            kwargs[p.name] = BY_NAME[p.name](c)
        elif p.name in CHEAP:
            kwargs[p.name] = CHEAP[p.name]
        elif p.name == "layer" and "model" in params and name not in ("activation_summary", "dead_filters"):
            kwargs[p.name] = c.conv
        elif p.name in ("data", "images") and "model" in params:
            kwargs[p.name] = c.x
    return kwargs


def required(fn) -> list[str]:
    """Names of the arguments a call of `fn` must give."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def parameters(fn) -> list[str]:
    try:
        return [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not p.name.startswith("_")
        ]
    except (TypeError, ValueError):
        return []


# Functions whose result is a map over the input positions (checked for shape on every model).
def is_map_method(fn) -> bool:
    names = parameters(fn)
    return names[:3] == ["model", "images", "target"]


def positions_found(shape: tuple, hw: tuple) -> bool:
    """Whether the input positions `hw` appear, in order and contiguous, after the batch axis of `shape`."""
    shape = tuple(shape[1:])
    return any(shape[i : i + len(hw)] == tuple(hw) for i in range(len(shape) - len(hw) + 1))


def call(name: str, fn, kwargs):
    """Call a public callable as its documentation says (a context manager is entered)."""
    if name == "testing.unchanged":
        with fn(**kwargs):
            return None
    return fn(**kwargs)
