"""Unusual model shapes at the edges: answers that match a reference, or a clear refusal.

Channels-first twins are compared with their channels-last twin holding the same weights (Keras
kernels have the same shape in both layouts); a multi-input model's image branch decodes as the
same branch alone.
"""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (2, 12, 12, 3)).astype("float32")


def _net(data_format, name):
    shape = (3, 12, 12) if data_format == "channels_first" else (12, 12, 3)
    x = inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", data_format=data_format, name="conv1")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", data_format=data_format, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(data_format=data_format, name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name=name)


@pytest.fixture(scope="module")
def twins():
    keras.utils.set_random_seed(11)
    last = _net("channels_last", "last")
    first = _net("channels_first", "first")
    first.set_weights(last.get_weights())
    return last, first


def test_ablation_cam_channels_first_matches_channels_last_twin(twins):
    last, first = twins
    expected = kv.ablation_cam(last, X, 1, layer="conv2", progress=False)
    got = kv.ablation_cam(first, X.transpose(0, 3, 1, 2), 1, layer="conv2", progress=False)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_visualize_filters_counts_channels_first_filters_on_the_channel_axis(twins):
    _, first = twins
    result = kv.visualize_filters(first, "conv2", steps=2, size=12, progress=False)
    assert len(result.images) == 5  # conv2's 5 filters, not its width 12
    assert_clear_error(lambda: kv.visualize_filters(first, "conv2", [5], steps=2, size=12, progress=False), "filters")


def test_render_objective_checks_units_against_what_the_objective_reads(twins):
    last, _ = twins
    channel = kv.objectives.channel("conv2")
    assert_clear_error(lambda: kv.render_objective(last, channel, [5], steps=2, size=12, progress=False), "units")
    logit = kv.objectives.class_logit()
    assert_clear_error(lambda: kv.render_objective(last, logit, [3], steps=2, size=12, progress=False), "units")
    assert_clear_error(
        lambda: kv.render_objective(last, channel, [0], output="nope", steps=2, progress=False), "output"
    )
    assert_clear_error(lambda: kv.render_objective(last, "channel", [0], steps=2, progress=False), "objective")


def test_decoding_follows_the_image_branch_of_a_multi_input_model():
    keras.utils.set_random_seed(12)
    image, meta = keras.Input((12, 12, 3), name="img"), keras.Input((4,), name="meta")
    conv = keras.layers.Conv2D(4, 3, name="conv1")
    features = keras.layers.GlobalAveragePooling2D()(conv(image))
    both = keras.Model([image, meta], keras.layers.Dense(2)(keras.layers.Concatenate()([features, meta])))
    alone = keras.Model(image, conv(image))
    np.testing.assert_allclose(
        kv.decode_filters(both, "conv1", progress=False), kv.decode_filters(alone, "conv1", progress=False), atol=1e-6
    )
    np.testing.assert_allclose(
        kv.decode_filters_transposed(both, "conv1"), kv.decode_filters_transposed(alone, "conv1")
    )


def test_report_and_explorer_refuse_subclassed_models_up_front():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)
            self.head = keras.layers.Dense(2)

        def call(self, x):
            return self.head(keras.ops.mean(self.conv(x), axis=(1, 2)))

    net = Net()
    net(X)
    error = assert_clear_error(lambda: kv.inspect_report(net, X, "unused.html", progress=False), None)
    assert "subclassed" in str(error)
    error = assert_clear_error(lambda: kv.widgets.Explorer(net, X), None)
    assert "subclassed" in str(error)


def test_train_lenet_leaves_global_random_state_as_found():
    digits = RNG.integers(0, 256, (8, 28, 28)).astype(np.uint8)
    with global_state_unchanged():
        net = kv.train_lenet(digits, np.arange(8) % 10, epochs=1, batch_size=4, steps_per_epoch=1)
    assert net.model.output_shape == (None, 10)


def test_testing_unchanged_takes_models_without_image_inputs():
    inputs = keras.Input((4,))
    net = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with kv.testing.unchanged(net, np.zeros((2, 4), np.float32)):
        net.predict(np.ones((1, 4), np.float32), verbose=0)
    assert_clear_error(lambda: kv.testing.unchanged(net, np.full((2, 4), np.nan)).__enter__(), "probe")
