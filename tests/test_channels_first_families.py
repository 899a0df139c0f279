"""Channels-first models in the families beyond attribution: feature visualization and the decoding baseline
give what the channels-last twin (same weights) gives; LRP and the concept methods refuse with the one
layout message."""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv

PHOTO = np.random.default_rng(0).uniform(0, 1, (16, 16, 3)).astype("float32")


def net(data_format):
    keras.utils.set_random_seed(0)
    shape = (3, 16, 16) if data_format == "channels_first" else (16, 16, 3)
    x = inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", data_format=data_format, name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, data_format=data_format, name="pool")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", data_format=data_format, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(data_format=data_format, name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name=data_format)


@pytest.fixture(scope="module")
def twins():
    last, first = net("channels_last"), net("channels_first")
    first.set_weights(last.get_weights())
    return last, first


@pytest.mark.parametrize(
    "call",
    [
        lambda m: kv.visualize_filters(m, "conv2", [0, 3], steps=4, progress=False),
        lambda m: kv.visualize_classes(m, [1], steps=4, progress=False),
        lambda m: kv.deep_dream(m, PHOTO, "conv2", steps=3, octaves=1, progress=False),
        lambda m: kv.invert(m, PHOTO, "conv2", steps=3, progress=False),
    ],
    ids=["visualize_filters", "visualize_classes", "deep_dream", "invert"],
)
def test_feature_visualization_equals_the_channels_last_twin(twins, call):
    last, first = twins
    np.testing.assert_allclose(np.asarray(call(first)), np.asarray(call(last)), atol=1e-5)  # XLA vs not: float noise


def test_estimate_and_decoding_baseline_on_channels_first(twins):
    last, first = twins
    assert kv.estimate_seconds(first, "conv2", [0], steps=10, size=16) > 0
    x = PHOTO[None].repeat(2, 0)
    x[1] = 1 - x[1]
    got, where = kv.deconvnet_projection(first, "conv2", x.transpose(0, 3, 1, 2), 2)
    want, expected = kv.deconvnet_projection(last, "conv2", x, 2)
    np.testing.assert_array_equal(where, expected)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)


@pytest.mark.parametrize(
    "name, call",
    [
        ("kv.lrp", lambda m, x: kv.lrp(m, x)),
        ("kv.crp", lambda m, x: kv.crp(m, x, progress=False)),
        (
            "Concept-based explanation",
            lambda m, x: kv.tcav(
                m, "conv2", x, x, random_images=np.concatenate([x] * 6), random_sets=2, progress=False
            ),
        ),
        ("Concept-based explanation", lambda m, x: kv.caricature(m, "conv2", x[0], steps=2, progress=False)),
    ],
)
def test_lrp_and_concepts_refuse_channels_first_with_the_layout_message(twins, name, call):
    x = PHOTO.transpose(2, 0, 1)[None].repeat(2, 0)
    error = assert_clear_error(lambda: call(twins[1], x), None, match="channels_first")
    assert isinstance(error, kv.UnsupportedModelError) and name in str(error)
