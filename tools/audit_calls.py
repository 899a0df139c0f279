"""Good calls of tools/audit_edges.py: every required argument filled, cheap settings, real results for plots."""

from __future__ import annotations

import inspect

import numpy as np
from audit_models import RNG, Ctx

import kerasviz as kv

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
