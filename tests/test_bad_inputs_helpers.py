"""Bad input to the helpers around the techniques: loaders, pre/deprocessing, map helpers, labels, widgets.

Each row expects a clear kerasviz error naming the argument, with global state unchanged.
"""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv

X = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
NAN = np.full((2, 8, 8, 3), np.nan, np.float32)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(6)
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="helpers_net")


ROWS = [
    # model helpers given something that is not a model
    ("conv_layers of None", lambda m: kv.conv_layers(None), "model"),
    ("image_layers of text", lambda m: kv.image_layers("vgg16"), "model"),
    ("architecture_defaults of an array", lambda m: kv.architecture_defaults(np.zeros(3)), "model"),
    ("model_family of None", lambda m: kv.model_family(None), "model"),
    ("weights_label of text", lambda m: kv.weights_label("vgg16"), "model"),
    ("set_weights_label of None", lambda m: kv.set_weights_label(None, "untrained"), "model"),
    ("set_weights_label label number", lambda m: kv.set_weights_label(m, 3), "label"),
    ("default_cam_layer of None", lambda m: kv.default_cam_layer(None), "model"),
    ("find_layer of None", lambda m: kv.find_layer(None, "conv1"), "model"),
    ("unchanged of None", lambda m: kv.testing.unchanged(None, X).__enter__(), "model"),
    (
        "unchanged probe of the wrong size",
        lambda m: kv.testing.unchanged(m, np.zeros((1, 5, 5, 3))).__enter__(),
        "probe",
    ),
    # preprocessing and sample data
    ("preprocess NaN", lambda m: kv.preprocess(NAN), "images"),
    ("preprocess text", lambda m: kv.preprocess("cat.jpg"), "images"),
    ("preprocess wrong channels", lambda m: kv.preprocess(np.zeros((2, 8, 8, 5))), "images"),
    ("preprocess unknown family", lambda m: kv.preprocess(X, "nope"), "family"),
    ("deprocess empty", lambda m: kv.deprocess(np.zeros((0, 8, 8, 3))), "images"),
    ("deprocess None", lambda m: kv.deprocess(None), "images"),
    ("sample_image unknown", lambda m: kv.sample_image("nope"), "name"),
    ("sample_image size zero", lambda m: kv.sample_image(size=0), "size"),
    ("load_image_folder limit zero", lambda m: kv.load_image_folder(limit=0), "limit"),
    ("load_image_folder limit float", lambda m: kv.load_image_folder(limit=2.5), "limit"),
    ("load_mnist missing file", lambda m: kv.load_mnist("/nonexistent/mnist.npz"), "path"),
    ("load_vgg16 unknown weights", lambda m: kv.load_vgg16(weights="nope"), "weights"),
    ("lenet negative weight decay", lambda m: kv.lenet(weight_decay=-1.0), "weight_decay"),
    ("lenet float seed", lambda m: kv.lenet(seed=2.5), "seed"),
    ("train_lenet wrong digits", lambda m: kv.train_lenet(X, np.zeros(2, int)), "x_train"),
    ("train_lenet labels out of range", lambda m: kv.train_lenet(np.zeros((2, 28, 28)), np.array([0, 12])), "y_train"),
    ("train_lenet epochs zero", lambda m: kv.train_lenet(np.zeros((2, 28, 28)), np.zeros(2, int), epochs=0), "epochs"),
    ("load_trained_lenet data not pairs", lambda m: kv.load_trained_lenet(data=X), "data"),
    # map and array helpers
    ("normalize_map NaN", lambda m: kv.normalize_map(np.full((8, 8), np.nan)), "heatmap"),
    ("normalize_map percentile above 100", lambda m: kv.normalize_map(np.ones((8, 8)), percentile=101), "percentile"),
    ("relevance_heatmap empty", lambda m: kv.relevance_heatmap(np.zeros((0, 8))), "relevance"),
    ("relevance_heatmap percentile NaN", lambda m: kv.relevance_heatmap(np.ones((8, 8)), float("nan")), "percentile"),
    ("blank_maps wrong rank", lambda m: kv.blank_maps(np.ones(5)), "maps"),
    ("blank_maps negative tol", lambda m: kv.blank_maps(np.ones((8, 8, 4)), tol=-1.0), "tol"),
    ("thresholded fraction above 1", lambda m: kv.thresholded(np.ones((5, 5, 3)), 2.0), "fraction"),
    ("token_grid bad reshape", lambda m: kv.token_grid(np.zeros((2, 16, 4)), (5, 5)), "reshape"),
    ("top_locations filter out of range", lambda m: kv.top_locations(np.ones((2, 4, 4, 3)), 7), "filters"),
    ("top_locations k zero", lambda m: kv.top_locations(np.ones((2, 4, 4, 3)), 0, k=0), "k"),
    ("imresize_matrix n zero", lambda m: kv.imresize_matrix(0), "n"),
    ("imresize_matrix unknown method", lambda m: kv.imresize_matrix(8, method="nope"), "method"),
    ("class_max_matrix labels wrong length", lambda m: kv.class_max_matrix(np.ones((4, 3)), [0, 1]), "labels"),
    ("superpixels NaN", lambda m: kv.superpixels(NAN), "images"),
    # plot style
    ("style unknown preset", lambda m: kv.style("nope"), "name"),
    ("Style negative dpi", lambda m: kv.Style(dpi=-1), "dpi"),
    ("Style tiles_per_row zero", lambda m: kv.Style(tiles_per_row=0), "tiles_per_row"),
    ("Composite lower_fraction text", lambda m: kv.Composite(lower_fraction="0.5"), "lower_fraction"),
    # widgets refuse at construction, not later in a tab
    ("Explorer model None", lambda m: kv.widgets.Explorer(None, X), "model"),
    ("Explorer images NaN", lambda m: kv.widgets.Explorer(m, NAN), "images"),
    ("Explorer data NaN", lambda m: kv.widgets.Explorer(m, X, data=NAN), "data"),
    ("Explorer data text", lambda m: kv.widgets.Explorer(m, X, data="photos/"), "data"),
    ("Explorer unknown layers", lambda m: kv.widgets.Explorer(m, X, layers=["nope"]), "layers"),
    ("Explorer steps zero", lambda m: kv.widgets.Explorer(m, X, steps=0), "steps"),
    ("Explorer k float", lambda m: kv.widgets.Explorer(m, X, k=2.5), "k"),
    ("ActivationExplorer unknown layer", lambda m: kv.widgets.ActivationExplorer(m, X, layers=["nope"]), "layers"),
    ("FilterExplorer model text", lambda m: kv.widgets.FilterExplorer("vgg16"), "model"),
]


@pytest.mark.parametrize("call, argument", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_helpers_refuse_bad_input(model, call, argument):
    assert_clear_error(lambda: call(model), argument)
