"""1-D models (signals, time series `(N, T, C)`) and 3-D models, against closed forms.

A linear Conv1D classifier has a constant gradient `w_eff[t, c]`, computed here from its weights
with NumPy: gradient × input is each time step's contribution to the logit, integrated gradients
from 0 equal it, and occluding one time step removes exactly its summed contribution.
"""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import unchanged

T, C, F, K, CLASSES = 24, 2, 3, 5, 4


@pytest.fixture(scope="module")
def linear():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((T, C)),
            keras.layers.Conv1D(F, K, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(CLASSES, name="head"),
        ],
        name="linear_1d",
    )


@pytest.fixture(scope="module")
def signals():
    return np.random.default_rng(0).normal(size=(3, T, C)).astype("float32")


def effective_weights(model, target):
    """d logit / d x[t, c] of the linear model, from its weights: sum_{k, f} D[(t - k, f), j] W[k, c, f]."""
    w, _ = model.get_layer("conv").get_weights()
    dense, _ = model.get_layer("head").get_weights()
    d = dense[:, target].reshape(T - K + 1, F)
    out = np.zeros((T, C))
    for t0 in range(T - K + 1):
        for k in range(K):
            out[t0 + k] += w[k] @ d[t0]
    return out


def test_gradient_x_input_is_each_time_steps_contribution(linear, signals):
    w = effective_weights(linear, 2)
    with unchanged(linear, signals[:1]):
        gradient = kv.gradient(linear, signals, 2, progress=False)
        contribution = kv.gradient_x_input(linear, signals, 2)
        ig = kv.integrated_gradients(linear, signals, 2, steps=2, progress=False)
        occluded = kv.occlusion(linear, signals, 2, patch=1, stride=1, progress=False)
    np.testing.assert_allclose(gradient, np.broadcast_to(w, signals.shape), atol=1e-5)
    np.testing.assert_allclose(contribution, signals * w, atol=1e-5)
    np.testing.assert_allclose(ig.attributions, signals * w, atol=1e-5)
    np.testing.assert_allclose(occluded, (signals * w).sum(-1), atol=1e-5)
    bias = linear.predict(np.zeros((1, T, C)), verbose=0)[0, 2]
    np.testing.assert_allclose(contribution.sum((1, 2)) + bias, linear.predict(signals, verbose=0)[:, 2], rtol=1e-5)


def test_one_signal_in_one_map_out_and_batch_equals_one_at_a_time(linear, signals):
    saliency = kv.saliency(linear, signals, progress=False)
    assert saliency.shape == (3, T)
    np.testing.assert_allclose(kv.saliency(linear, signals[1], progress=False), saliency[1], atol=1e-6)
    cam = kv.grad_cam(linear, signals, layer="conv", progress=False)
    assert cam.shape == (3, T)
    np.testing.assert_allclose(kv.grad_cam(linear, signals[1], layer="conv", progress=False), cam[1], atol=1e-6)


def test_grad_cam_over_time_is_the_class_activation_map(signals):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((T, C)),
            keras.layers.Conv1D(F, K, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(CLASSES, name="head"),
        ]
    )
    acts = kv.activations(model, signals, ["conv"], progress=False)["conv"]  # (N, t, F)
    w = model.get_layer("head").get_weights()[0][:, 1]
    cam = kv.grad_cam(model, signals, 1, layer="conv", relu=False, normalize=False, upsample=False, progress=False)
    np.testing.assert_allclose(cam, acts @ w / acts.shape[1], atol=1e-6)
    up = kv.grad_cam(model, signals, 1, relu=False, normalize=False, progress=False)  # default: the last (N, t, c)
    assert up.shape == (3, T)
    np.testing.assert_allclose(up.mean(1), cam.mean(1), rtol=0.2)  # linear resize keeps the level


def test_activations_over_time_equal_the_convolution(linear, signals):
    acts = kv.activations(linear, signals, progress=False)  # default: every (N, t, c) layer
    assert list(acts) == ["conv"]
    w, b = linear.get_layer("conv").get_weights()
    windows = np.stack([signals[:, t : t + K] for t in range(T - K + 1)], 1)  # (N, t, K, C)
    np.testing.assert_allclose(acts["conv"], np.einsum("ntkc,kcf->ntf", windows, w) + b, atol=1e-5)


def bias_free_relu_1d():
    keras.utils.set_random_seed(2)
    return keras.Sequential(
        [
            keras.Input((T, C)),
            keras.layers.Conv1D(6, 3, activation="relu", use_bias=False),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(6, 3, activation="relu", use_bias=False),
            keras.layers.AveragePooling1D(2),
            keras.layers.Conv1D(6, 3, activation="relu", use_bias=False),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(CLASSES, use_bias=False),
        ]
    )


def test_lrp_zero_on_conv1d_pooling_is_gradient_times_input_and_conserves(signals):
    model = bias_free_relu_1d()
    result = kv.lrp(model, signals, 0, rule="epsilon", epsilon=1e-9, return_layers=True, progress=False)
    gradient = kv.gradient(model, signals, 0, progress=False)
    np.testing.assert_allclose(result.input, signals * gradient, atol=1e-5)
    np.testing.assert_allclose(result.input.sum((1, 2)), result.scores, rtol=1e-4)
    assert np.asarray(kv.lrp(model, signals, rule="epsilon", progress=False)).shape == signals.shape


def test_plots_draw_a_signal_with_its_heat_strips(linear, signals):
    maps = {
        "saliency": kv.saliency(linear, signals, progress=False)[0],
        "IG": kv.integrated_gradients(linear, signals, steps=2, progress=False).attributions[0],
    }
    fig = kv.plot_signal_attribution(signals[0], maps, title="linear", channel_names=["x", "y"])
    assert len(fig.axes) == 3 and fig.axes[2].images[0].get_array().shape == (C, T)
    acts = kv.activations(linear, signals, "conv", progress=False)["conv"][0]
    assert len(kv.plot_signal_activations(acts, signal=signals[0]).axes) == 3  # signal, map, colorbar
    assert_clear_error(lambda: kv.plot_signal_attribution(signals[0], maps["saliency"][:-1]), "maps")
    assert_clear_error(lambda: kv.plot_signal_attribution(signals, maps), "signal")


def test_conv3d_gradients_occlusion_and_grad_cam():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6, 8, 8, 1)),
            keras.layers.Conv3D(4, 3, activation="relu", use_bias=False, name="conv"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(3, use_bias=False),
        ]
    )
    volumes = np.random.default_rng(0).uniform(0, 1, (2, 6, 8, 8, 1)).astype("float32")
    gradient = kv.gradient(model, volumes, 1, progress=False)
    assert gradient.shape == volumes.shape
    assert kv.saliency(model, volumes, progress=False).shape == (2, 6, 8, 8)
    assert kv.occlusion(model, volumes, patch=(2, 4, 4), stride=(2, 4, 4), progress=False).shape == (2, 6, 8, 8)
    assert kv.grad_cam(model, volumes, layer="conv", progress=False).shape == (2, 6, 8, 8)
    assert kv.activations(model, volumes, progress=False)["conv"].shape == (2, 4, 6, 6, 4)
    assert_clear_error(lambda: kv.visualize_filters(model, "conv", [0], steps=2, progress=False), "layer")
    assert_clear_error(lambda: kv.top_activating(model, "conv", volumes, k=1, progress=False))
    relevance = np.asarray(kv.lrp(model, volumes, 1, rule="epsilon", epsilon=1e-9, progress=False))
    np.testing.assert_allclose(relevance, volumes * gradient, atol=1e-6)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda m, x: kv.saliency(m, x[:, :-1]), "images"),  # wrong length
        (lambda m, x: kv.saliency(m, x[..., :1]), "images"),  # wrong channels
        (lambda m, x: kv.occlusion(m, x, patch=(2, 2)), "patch"),  # one window side per position axis
        (lambda m, x: kv.occlusion(m, x, patch=T + 1), "patch"),
        (lambda m, x: kv.rise(m, x, samples=4), None),  # 2-D masks: images only
        (lambda m, x: kv.lime(m, x), None),
        (lambda m, x: kv.deletion_auc(m, x, np.ones((3, T))), None),
        (lambda m, x: kv.top_activating(m, "conv", x, k=1), None),
        (lambda m, x: kv.visualize_filters(m, "conv", [0], steps=2), "layer"),
        (lambda m, x: kv.grad_cam(m, x, layer="head"), "layer"),  # not a feature map over time
    ],
)
def test_bad_calls_on_signals_fail_clearly(linear, signals, call, argument):
    assert_clear_error(lambda: call(linear, signals), argument)


def test_channels_first_signals_are_refused_clearly(signals):
    model = keras.Sequential(
        [
            keras.Input((C, T)),
            keras.layers.Conv1D(3, 3, data_format="channels_first"),
            keras.layers.GlobalAveragePooling1D(data_format="channels_first"),
            keras.layers.Dense(2),
        ]
    )
    assert_clear_error(lambda: kv.saliency(model, np.moveaxis(signals, 1, 2)), match="channels_first")
