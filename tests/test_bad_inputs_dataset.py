"""Bad input to the dataset views and filter decoding: a clear kerasviz error naming the argument.

One row per bad-input class and function. Every call must raise a
`KerasvizError` whose message names the argument, with no raw framework text,
leaving the model and global state (dtype policy, floatx, random state,
rcParams) unchanged.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import small_cnn, unchanged

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 16, 16, 3)).astype("float32")
Y = RNG.integers(0, 4, 20)
NAN = X.copy()
NAN[3, 2, 2, 1] = np.nan


@pytest.fixture(scope="module")
def cnn():
    return small_cnn(name="bad_inputs_cnn")


@pytest.fixture(scope="module")
def net():
    return kv.lenet(seed=0)


@pytest.fixture(scope="module")
def sequence_model():
    inputs = keras.Input((16, 16, 3))
    return keras.Model(inputs, keras.layers.Reshape((256, 3), name="seq")(inputs), name="sequence")


def _nan_generator():
    yield X[:8]
    yield NAN[:8]


def _top(m):
    return kv.top_activating(m, "conv2", X, k=3, progress=False)


DATASET_ROWS = [
    # top_activating: settings, layers, data, labels
    ("top k=0", lambda m: kv.top_activating(m, "conv2", X, k=0), "k"),
    ("top k float", lambda m: kv.top_activating(m, "conv2", X, k=2.5), "k"),
    ("top k huge float", lambda m: kv.top_activating(m, "conv2", X, k=1e9), "k"),
    ("top k bool", lambda m: kv.top_activating(m, "conv2", X, k=True), "k"),
    ("top batch_size=0", lambda m: kv.top_activating(m, "conv2", X, batch_size=0), "batch_size"),
    ("top batch_size float", lambda m: kv.top_activating(m, "conv2", X, batch_size=8.0), "batch_size"),
    ("top layer float", lambda m: kv.top_activating(m, 2.5, X), "layer"),
    ("top layer []", lambda m: kv.top_activating(m, [], X), "layer"),
    ("top layer None", lambda m: kv.top_activating(m, None, X), "layer"),
    ("top Input layer", lambda m: kv.top_activating(m, m.layers[0].name, X), "layer"),
    ("top unknown layer", lambda m: kv.top_activating(m, "conv_2", X), "conv_2"),
    ("top field_method", lambda m: kv.top_activating(m, "conv2", X, field_method="guess"), "field_method"),
    ("top data None", lambda m: kv.top_activating(m, "conv2"), "data"),
    ("top data NaN", lambda m: kv.top_activating(m, "conv2", NAN), "data"),
    ("top data channels", lambda m: kv.top_activating(m, "conv2", X[..., :1]), "data"),
    ("top data size", lambda m: kv.top_activating(m, "conv2", X[:, :12]), "data"),
    ("top data beyond float32", lambda m: kv.top_activating(m, "conv2", X.astype(np.float64) * 1e300), "data"),
    ("top data empty", lambda m: kv.top_activating(m, "conv2", X[:0]), "data"),
    ("top data string", lambda m: kv.top_activating(m, "conv2", "images/"), "data"),
    ("top data dict", lambda m: kv.top_activating(m, "conv2", {"x": X}), "data"),
    ("top data object array", lambda m: kv.top_activating(m, "conv2", np.array([X[0], "a"], dtype=object)), "data"),
    ("top data list of shapes", lambda m: kv.top_activating(m, "conv2", [X[:4], X[:4, :12]]), "data"),
    ("top data list of strings", lambda m: kv.top_activating(m, "conv2", ["a.jpg", "b.jpg"]), "data"),
    ("top data generator NaN", lambda m: kv.top_activating(m, "conv2", _nan_generator(), progress=False), "data"),
    (
        "top data empty dataset",
        lambda m: kv.top_activating(m, "conv2", tf.data.Dataset.from_tensor_slices(X[:0]), progress=False),
        "data",
    ),
    (
        "top dataset of strings",
        lambda m: kv.top_activating(m, "conv2", tf.data.Dataset.from_tensor_slices(["a"])),
        "data",
    ),
    ("top labels length", lambda m: kv.top_activating(m, "conv2", X, labels=Y[:5]), "labels"),
    ("top labels one-hot", lambda m: kv.top_activating(m, "conv2", X, labels=np.eye(4)[Y]), "labels"),
    ("top labels negative", lambda m: kv.top_activating(m, "conv2", X, labels=Y - 5), "labels"),
    ("top labels strings", lambda m: kv.top_activating(m, "conv2", X, labels=np.array(["cat"] * 20)), "labels"),
    ("top labels twice", lambda m: kv.top_activating(m, "conv2", (X, Y), labels=Y), "labels"),
    ("top model", lambda m: kv.top_activating("vgg16", "conv2", X), "model"),
    # neuron_feature
    ("nf threshold > 1", lambda m: kv.neuron_feature(m, "conv2", X, threshold=1.5), "threshold"),
    ("nf threshold 0", lambda m: kv.neuron_feature(m, "conv2", X, threshold=0.0), "threshold"),
    ("nf k=0", lambda m: kv.neuron_feature(m, "conv2", X, k=0), "k"),
    ("nf k above the scan", lambda m: kv.neuron_feature(_top(m), k=5), "k"),
    ("nf labels with a scan result", lambda m: kv.neuron_feature(_top(m), labels=Y), "labels"),
    ("nf max_size=0", lambda m: kv.neuron_feature(m, "conv2", X, max_size=0), "max_size"),
    ("nf pad_value NaN", lambda m: kv.neuron_feature(m, "conv2", X, pad_value=float("nan")), "pad_value"),
    ("nf batch_size", lambda m: kv.neuron_feature(m, "conv2", X, batch_size=0), "batch_size"),
    ("nf no data", lambda m: kv.neuron_feature(m, "conv2"), "data"),
    ("nf no layer", lambda m: kv.neuron_feature(m), "layer"),
    ("nf model", lambda m: kv.neuron_feature(X, "conv2"), "model"),
    ("nf data NaN", lambda m: kv.neuron_feature(m, "conv2", NAN), "data"),
    # dead_filters and activation_summary
    ("dead apoz > 1", lambda m: kv.dead_filters(m, "conv1", X, apoz_threshold=1.5), "apoz_threshold"),
    ("dead apoz < 0", lambda m: kv.dead_filters(m, "conv1", X, apoz_threshold=-0.1), "apoz_threshold"),
    ("dead apoz NaN", lambda m: kv.dead_filters(m, "conv1", X, apoz_threshold=float("nan")), "apoz_threshold"),
    ("dead layer []", lambda m: kv.dead_filters(m, [], X), "layer"),
    ("dead layer float", lambda m: kv.dead_filters(m, 1.0, X), "layer"),
    ("dead no data", lambda m: kv.dead_filters(m, "conv1"), "data"),
    ("dead data NaN", lambda m: kv.dead_filters(m, None, NAN), "data"),
    ("dead batch_size", lambda m: kv.dead_filters(m, None, X, batch_size=-1), "batch_size"),
    ("summary layer list with float", lambda m: kv.activation_summary(m, ["conv1", 2.0], X), "layer"),
    ("summary Input layer", lambda m: kv.activation_summary(m, m.layers[0].name, X), "layer"),
    ("summary data wrong rank", lambda m: kv.activation_summary(m, "conv1", X[None]), "data"),
    ("summary data bool", lambda m: kv.activation_summary(m, "conv1", X > 0), "data"),
    ("summary batch_size", lambda m: kv.activation_summary(m, "conv1", X, batch_size=0), "batch_size"),
    # filter_similarity and redundant_filters
    ("similarity not a conv", lambda m: kv.filter_similarity(m, "pool1", X), "layer"),
    ("similarity Dense", lambda m: kv.redundant_filters(m, "head"), "layer"),
    ("similarity data NaN", lambda m: kv.filter_similarity(m, "conv1", NAN), "data"),
    ("redundant cosine > 1", lambda m: kv.redundant_filters(m, "conv1", cosine_threshold=1.5), "cosine_threshold"),
    (
        "redundant correlation NaN",
        lambda m: kv.redundant_filters(m, "conv1", X, correlation_threshold=float("nan")),
        "correlation_threshold",
    ),
    # embedding_grid
    ("grid display too few", lambda m: kv.embedding_grid(m, "gap", X, display=X[:10]), "display"),
    ("grid display too many", lambda m: kv.embedding_grid(m, "gap", X[:10], display=X), "display"),
    ("grid display NaN", lambda m: kv.embedding_grid(m, "gap", X, display=NAN), "display"),
    ("grid max_iter < 250", lambda m: kv.embedding_grid(m, "gap", X, max_iter=100), "max_iter"),
    ("grid perplexity 0", lambda m: kv.embedding_grid(m, "gap", X, perplexity=0), "perplexity"),
    ("grid pca_dims 1", lambda m: kv.embedding_grid(m, "gap", X, pca_dims=1), "pca_dims"),
    ("grid seed < 0", lambda m: kv.embedding_grid(m, "gap", X, seed=-1), "seed"),
    ("grid shape too small", lambda m: kv.embedding_grid(m, "gap", X, shape=(2, 2)), "shape"),
    ("grid tile_size 0", lambda m: kv.embedding_grid(m, "gap", X, tile_size=0), "tile_size"),
    ("grid too few images", lambda m: kv.embedding_grid(m, "gap", X[:3]), "data"),
    ("grid data NaN", lambda m: kv.embedding_grid(m, "gap", NAN), "data"),
    # receptive_field and helpers
    ("rf method", lambda m: kv.receptive_field(m, "conv2", method="guess"), "method"),
    ("rf layer float", lambda m: kv.receptive_field(m, 2.5), "layer"),
    ("rf input_size", lambda m: kv.receptive_field(m, "conv2", input_size=(0, 5)), "input_size"),
    ("rf no spatial output", lambda m: kv.receptive_field(m, "gap"), "spatial"),
    (
        "class_selectivity threshold",
        lambda m: kv.class_selectivity(np.zeros((2, 3), int), np.ones((2, 3)), 2.0),
        "threshold",
    ),
    ("class_selectivity float labels", lambda m: kv.class_selectivity(np.full((2, 3), 0.5), np.ones((2, 3))), "labels"),
    ("grid_assignment NaN", lambda m: kv.grid_assignment(np.array([[0.0, np.nan], [1.0, 1.0]])), "points"),
    ("grid_assignment shape", lambda m: kv.grid_assignment(np.zeros((5, 2)), (2, 2)), "shape"),
]


@pytest.mark.parametrize("call, argument", [row[1:] for row in DATASET_ROWS], ids=[row[0] for row in DATASET_ROWS])
def test_dataset_views_raise_clear_errors(cnn, call, argument):
    with unchanged(cnn, X[:2]):
        assert_clear_error(lambda: call(cnn), argument)


DECODING_ROWS = [
    ("decode unpool", lambda n: kv.decode_filters(n, "conv2", unpool="lanczos"), "unpool"),
    ("decode filters out of range", lambda n: kv.decode_filters(n, "conv2", filters=[50]), "filters"),
    ("decode filters float", lambda n: kv.decode_filters(n, "conv2", filters=1.5), "filters"),
    ("decode filters empty", lambda n: kv.decode_filters(n, "conv2", filters=[]), "filters"),
    ("decode dtype", lambda n: kv.decode_filters(n, "conv2", dtype="float16"), "dtype"),
    ("decode batch_size", lambda n: kv.decode_filters(n, "conv2", batch_size=0), "batch_size"),
    ("decode not a conv", lambda n: kv.decode_filters(n, "pool1"), "layer"),
    ("decode layer float", lambda n: kv.decode_filters(n, 1.5), "layer"),
    ("response images NaN", lambda n: kv.decoded_response(n, "conv2", np.full((2, 28, 28, 1), np.nan)), "images"),
    ("response images channels", lambda n: kv.decoded_response(n, "conv2", np.zeros((2, 28, 28, 3))), "images"),
    ("response images None", lambda n: kv.decoded_response(n, "conv2"), "images"),
    (
        "response decoded shape",
        lambda n: kv.decoded_response(n, "conv2", np.zeros((2, 28, 28, 1)), decoded=np.zeros((3, 14, 14, 1))),
        "decoded",
    ),
    ("response unpool", lambda n: kv.decoded_response(n, "conv2", np.zeros((2, 28, 28, 1)), unpool="area"), "unpool"),
    ("transposed kernel_op", lambda n: kv.decode_filters_transposed(n, "conv2", "flip"), "kernel_op"),
    (
        "deconvnet filter_index range",
        lambda n: kv.deconvnet_projection(n, "conv2", np.zeros((1, 28, 28, 1)), 99),
        "filter_index",
    ),
    (
        "deconvnet filter_index float",
        lambda n: kv.deconvnet_projection(n, "conv2", np.zeros((1, 28, 28, 1)), 1.5),
        "filter_index",
    ),
    (
        "deconvnet images NaN",
        lambda n: kv.deconvnet_projection(n, "conv2", np.full((1, 28, 28, 1), np.nan), 0),
        "images",
    ),
    ("decoding_error shapes", lambda n: kv.decoding_error(np.zeros((2, 4, 4, 3)), np.zeros((2, 4, 4, 2))), "decoded"),
]


@pytest.mark.parametrize("call, argument", [row[1:] for row in DECODING_ROWS], ids=[row[0] for row in DECODING_ROWS])
def test_decoding_raises_clear_errors(net, call, argument):
    with unchanged(net, np.zeros((1, 28, 28, 1), np.float32)):
        assert_clear_error(lambda: call(net), argument)


def test_non_spatial_layers_are_refused_where_a_map_is_needed(sequence_model):
    assert_clear_error(lambda: kv.top_activating(sequence_model, "seq", X), "layer")
    assert_clear_error(lambda: kv.activation_summary(sequence_model, "seq", X), "layer")
    assert_clear_error(lambda: kv.receptive_field(sequence_model, "seq"), "spatial")


def test_a_huge_k_is_clamped_to_the_data_without_allocating_it(cnn):
    with pytest.warns(UserWarning, match="holds 20 images"):
        top = kv.top_activating(cnn, "conv2", X, k=10**9, progress=False)
    assert top.indices.shape == (16, 20)

    def batches():
        yield X[:12]
        yield X[12:]

    with pytest.warns(UserWarning, match="only 20 images"):
        streamed = kv.top_activating(cnn, "conv2", batches(), k=10**9, progress=False)
    np.testing.assert_array_equal(streamed.indices, top.indices)
