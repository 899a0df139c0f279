"""Bad input to activations, layer lookup and weights: a clear kerasviz error naming the argument."""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.core.layers import find_spatial_layer
from kerasviz.testing import assert_model_unchanged, model_state

X = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
FOREIGN = keras.layers.Dense(2, name="foreign")  # a layer of no model (made here: making layers draws random seeds)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((8, 8, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    net = keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="net")
    before = model_state(net, X)
    yield net
    assert_model_unchanged(before, model_state(net, X))


IMAGES = {
    "list of different shapes": [np.zeros((8, 8, 3)), np.zeros((6, 8, 3))],
    "object array": np.array([np.zeros((8, 8, 3)), None], dtype=object),
    "float64 beyond float32": np.full((1, 8, 8, 3), 1e300),
    "boolean": np.zeros((1, 8, 8, 3), bool),
    "complex": np.zeros((1, 8, 8, 3), complex),
    "empty": np.zeros((0, 8, 8, 3), np.float32),
    "wrong rank": np.zeros((1, 1, 8, 8, 3), np.float32),
    "Inf": np.full((1, 8, 8, 3), np.inf, np.float32),
    "wrong channels": np.zeros((8, 8, 2), np.float32),
    "None": None,
    "text": "cat.jpg",
}


@pytest.mark.parametrize("kind", list(IMAGES))
def test_activations_bad_images(model, kind):
    error = assert_clear_error(lambda: kv.activations(model, IMAGES[kind], "conv1"), "images")
    if kind == "float64 beyond float32":
        assert "float32" in str(error) and "NaN" not in str(error)


LAYERS = {
    "float": (1.0, "layers", kv.ArgumentTypeError),
    "empty list": ([], "layers", kv.InvalidArgumentError),
    "dict": ({"conv1": 0}, "layers", kv.ArgumentTypeError),
    "bool": (True, "layers", kv.ArgumentTypeError),
    "input layer name": ("pixels", "input layer", kv.LayerNotFoundError),
    "unknown": ("conv9", "Closest names", kv.LayerNotFoundError),
    "index out of range": (np.int64(9), "out of range", kv.LayerNotFoundError),
    "list with a bad entry": (["conv1", 2.5], "layers", kv.ArgumentTypeError),
    "empty name": ("", "empty", kv.LayerNotFoundError),
}


@pytest.mark.parametrize("kind", list(LAYERS))
def test_activations_bad_layers(model, kind):
    layers, match, error_type = LAYERS[kind]
    error = assert_clear_error(lambda: kv.activations(model, X, layers), "layers")
    assert match in str(error) and isinstance(error, error_type)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda m: kv.activations(m, X, "conv1", batch_size=0), "batch_size"),
        (lambda m: kv.activations(m, X, "conv1", batch_size=1.5), "batch_size"),
        (lambda m: kv.activations(m, X, "conv1", pre_activation="yes"), "pre_activation"),
        (lambda m: kv.activations("vgg16", X, "conv1"), "model"),
        (lambda m: kv.feature_extractor(m, []), "layers"),
        (lambda m: kv.feature_extractor(m, "pixels"), "layers"),
        (lambda m: kv.find_layer(m, 1.0), "layer"),
        (lambda m: kv.find_layer(m, [0]), "layer"),
        (lambda m: kv.find_layer(m, "pixels"), "layer"),
        (lambda m: kv.find_layer(m, FOREIGN), "layer"),
        (lambda m: find_spatial_layer(m, "head", purpose="Grad-CAM"), "layer"),
        (lambda m: find_spatial_layer(m, "flat", purpose="Grad-CAM"), "layer"),
        (lambda m: kv.filter_weights(m, "pool"), "layer"),
        (lambda m: kv.filter_weights(m, 1.5), "layer"),
        (lambda m: kv.filter_weights("vgg16", "conv1"), "model"),
        (lambda m: kv.filter_roughness(np.zeros((3, 3, 3))), "kernel"),
        (lambda m: kv.filter_roughness(np.full((3, 3, 1, 2), np.nan)), "kernel"),
        (lambda m: kv.filter_roughness("kernel"), "kernel"),
    ],
)
def test_bad_settings_and_lookups(model, call, argument):
    assert_clear_error(lambda: call(model), argument)


def test_layer_specs_that_work(model):
    assert kv.find_layer(model, np.int64(0)) is kv.find_layer(model, 0) is model.get_layer("conv1")
    assert find_spatial_layer(model, "pool") is model.get_layer("pool")
    acts = kv.activations(model, X, [np.int64(0), "pool"])
    assert acts["conv1"].shape == (2, 8, 8, 4) and acts["pool"].shape == (2, 4, 4, 4)
    assert kv.activations(model, list(X), "conv1")["conv1"].shape == (2, 8, 8, 4)  # a list of equal images


def test_unbuilt_and_subclassed_models_say_what_to_do():
    unbuilt = keras.Sequential([keras.layers.Conv2D(2, 3)])
    assert_clear_error(lambda: kv.activations(unbuilt, X), None, match="keras.Input")

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    net = Net()
    net(X)
    assert_clear_error(lambda: kv.activations(net, X, "conv"), None, match="subclassed")
