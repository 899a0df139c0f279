"""Bad input to the plots: a clear kerasviz error naming the argument, never a matplotlib or NumPy one.

Plots take what another call computed; each row gives one of them a wrong type, shape, NaN, an
out-of-range setting or an unknown colormap.
"""

import keras
import matplotlib
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv

matplotlib.use("Agg")
RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
IMAGE = X[0]
MAP = RNG.uniform(0, 1, (8, 8)).astype("float32")
NAN_MAP = np.full((8, 8), np.nan, np.float32)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(5)
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="plots_net")


@pytest.fixture(scope="module")
def acts(model):
    return kv.activations(model, X, "conv1")


def _axes():
    from matplotlib.figure import Figure

    return Figure().subplots()


ROWS = [
    # per-pixel maps over an image
    ("attribution alpha NaN", lambda m, a: kv.plot_attribution(IMAGE, MAP, alpha=float("nan")), "alpha"),
    ("attribution alpha above 1", lambda m, a: kv.plot_attribution(IMAGE, MAP, alpha=2.0), "alpha"),
    ("attribution percentile negative", lambda m, a: kv.plot_attribution(IMAGE, MAP, percentile=-1), "percentile"),
    ("attribution percentile text", lambda m, a: kv.plot_attribution(IMAGE, MAP, percentile="99"), "percentile"),
    ("attribution cmap unknown", lambda m, a: kv.plot_attribution(IMAGE, MAP, cmap="nope"), "cmap"),
    ("attribution dpi negative", lambda m, a: kv.plot_attribution(IMAGE, MAP, dpi=-1), "dpi"),
    ("attribution heatmap NaN", lambda m, a: kv.plot_attribution(IMAGE, NAN_MAP), "heatmap"),
    ("attribution heatmap None", lambda m, a: kv.plot_attribution(IMAGE, None), "heatmap"),
    ("attribution heatmap wrong rank", lambda m, a: kv.plot_attribution(IMAGE, np.ones(5)), "heatmap"),
    ("attribution image wrong rank", lambda m, a: kv.plot_attribution(X[None], MAP), "image"),
    ("attribution grid cols zero", lambda m, a: kv.plot_attribution_grid(IMAGE, {"s": MAP}, cols=0), "cols"),
    ("attribution grid image None", lambda m, a: kv.plot_attribution_grid(None, {"s": MAP}), "image"),
    ("overlay alpha negative", lambda m, a: kv.overlay_heatmap(_axes(), IMAGE, MAP, alpha=-1.0), "alpha"),
    ("overlay heatmap empty", lambda m, a: kv.overlay_heatmap(_axes(), IMAGE, np.zeros((0, 8))), "heatmap"),
    ("lrp percentile Inf", lambda m, a: kv.plot_lrp(IMAGE, {"lrp": MAP}, percentile=float("inf")), "percentile"),
    ("lrp cmap number", lambda m, a: kv.plot_lrp(IMAGE, {"lrp": MAP}, cmap=3), "cmap"),
    (
        "relevance flow max_maps zero",
        lambda m, a: kv.plot_relevance_flow({"c": np.ones((8, 8, 4))}, max_maps=0),
        "max_maps",
    ),
    (
        "signal attribution percentile",
        lambda m, a: kv.plot_signal_attribution(np.ones((9, 2)), np.ones(9), percentile=200),
        "percentile",
    ),
    ("signal activations title number", lambda m, a: kv.plot_signal_activations(np.ones((9, 2)), title=3), "title"),
    # activations and weights
    ("activations cols negative", lambda m, a: kv.plot_activations(a, "conv1", cols=-1), "cols"),
    ("activations max_maps float", lambda m, a: kv.plot_activations(a, "conv1", max_maps=2.5), "max_maps"),
    ("activations image out of range", lambda m, a: kv.plot_activations(a, "conv1", image=9), "image"),
    ("activations unknown layer", lambda m, a: kv.plot_activations(a, "nope"), "layer"),
    ("channel index out of range", lambda m, a: kv.plot_channel(IMAGE, a["conv1"][0], 99), "channel"),
    ("channel index float", lambda m, a: kv.plot_channel(IMAGE, a["conv1"][0], 1.5), "channel"),
    ("filter weights kernel wrong rank", lambda m, a: kv.plot_filter_weights(np.ones(5)), "kernel"),
    (
        "filter weights max_filters zero",
        lambda m, a: kv.plot_filter_weights(np.ones((3, 3, 3, 4)), max_filters=0),
        "max_filters",
    ),
    ("filters cols text", lambda m, a: kv.plot_filters(m, "conv1", cols="4"), "cols"),
    ("filters figsize", lambda m, a: kv.plot_filters(m, "conv1", figsize=(4,)), "figsize"),
    # feature visualization, decoding
    ("dream original NaN", lambda m, a: kv.plot_dream(np.full((8, 8, 3), np.nan), IMAGE), "original"),
    ("inversion tile_inches zero", lambda m, a: kv.plot_inversion(IMAGE, IMAGE, tile_inches=0), "tile_inches"),
    ("filter grid cols zero", lambda m, a: kv.plot_filter_grid(images=np.ones((2, 8, 8, 3)), cols=0), "cols"),
    ("decoded filter NaN", lambda m, a: kv.plot_decoded_filter(np.full((5, 5, 3), np.nan)), "decoded"),
    ("decoded filters wrong rank", lambda m, a: kv.plot_decoded_filters(np.ones(4)), "decoded"),
    ("decoded filters cols zero", lambda m, a: kv.plot_decoded_filters(np.ones((2, 5, 5, 3)), cols=0), "cols"),
    ("response comparison maps zero", lambda m, a: kv.plot_response_comparison(IMAGE, {}, {}, maps=0), "maps"),
    ("deconvnet comparison decoded text", lambda m, a: kv.plot_deconvnet_comparison("x", X, X), "decoded"),
    (
        "class matrix hit_rate NaN",
        lambda m, a: kv.plot_class_matrix(np.ones((2, 2)), X, X, hit_rate=float("nan")),
        "hit_rate",
    ),
    (
        "top images stride zero",
        lambda m, a: kv.plot_top_images(np.ones((2, 5, 5, 3)), X, np.zeros((2, 2)), X, np.zeros((2, 2)), stride=0),
        "stride",
    ),
    # results of dataset, concept and metric calls
    (
        "top activating max_filters zero",
        lambda m, a: kv.plot_top_activating(kv.top_activating(m, "conv1", X, k=2, progress=False), max_filters=0),
        "max_filters",
    ),
    ("top activating not a result", lambda m, a: kv.plot_top_activating(X), "top"),
    ("neuron features not a result", lambda m, a: kv.plot_neuron_features("features"), "features"),
    ("dead filters not a result", lambda m, a: kv.plot_dead_filters(None), "report"),
    ("filter similarity not a result", lambda m, a: kv.plot_filter_similarity(3), "similarity"),
    ("embedding grid not a result", lambda m, a: kv.plot_embedding_grid(X), "grid"),
    ("metrics table not a result", lambda m, a: kv.plot_metrics_table({"a": 1}), "table"),
    ("randomization not results", lambda m, a: kv.plot_randomization("x"), "results"),
    ("perturbation curves NaN", lambda m, a: kv.plot_perturbation_curves({"s": np.full(4, np.nan)}), "curves"),
    ("perturbation curves kind", lambda m, a: kv.plot_perturbation_curves({"s": np.ones(4)}, kind="nope"), "kind"),
    (
        "deconvnet comparison projections missing rows",
        lambda m, a: kv.plot_deconvnet_comparison(np.ones((5, 5, 3)), X, X[:1]),
        "projections",
    ),
    (
        "deconvnet comparison images wrong channels",
        lambda m, a: kv.plot_deconvnet_comparison(np.ones((5, 5, 3)), np.ones((2, 8, 8, 5)), np.ones((2, 8, 8, 3))),
        "images",
    ),
    ("dream original wrong channels", lambda m, a: kv.plot_dream(np.ones((8, 8, 5)), None), "original"),
    ("relevance flow values not arrays", lambda m, a: kv.plot_relevance_flow({"conv1": "x"}), "layers"),
    ("crp images NaN", lambda m, a: kv.plot_crp(kv.crp(m, X, layer="conv1", top=2), np.full_like(X, np.nan)), "images"),
    ("crp not a result", lambda m, a: kv.plot_crp(X, X), "result"),
    ("relevance maximization not a result", lambda m, a: kv.plot_relevance_maximization(X), "result"),
]


@pytest.mark.parametrize("call, argument", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_plots_refuse_bad_input(model, acts, call, argument):
    assert_clear_error(lambda: call(model, acts), argument)
