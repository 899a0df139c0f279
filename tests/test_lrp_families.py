"""LRP on keras.applications families (weights=None, smallest accepted input, one image).

Each model is made bias-free after giving its BatchNorms the variance of a small random batch
(untrained BatchNorms at identity let activations vanish or explode). Then LRP with ε → 0 conserves
relevance across every cut of the graph (the residual Adds, the block outputs), and on the
piecewise-linear Xception (ReLU only) it is gradient × input. MobileNetV2's ReLU6, EfficientNet's
swish and ConvNeXt's GELU pass relevance through, so there only conservation holds.
"""

import keras
import numpy as np
import pytest
from _lrp_helpers import assert_conserves, calibrate_and_remove_biases, cuts

import kerasviz as kv
from kerasviz.core.gradients import score_gradients
from kerasviz.testing import unchanged

A = keras.applications
# name: (builder, input size, fed raw pixels 0..255 (affine layers inside) or -1..1, family preset)
FAMILIES = {
    "MobileNetV2": (A.MobileNetV2, 32, False, "mobilenet"),
    "EfficientNetB0": (A.EfficientNetB0, 32, True, "efficientnet"),
    "Xception": (A.Xception, 71, False, "xception"),
    "ConvNeXtTiny": (A.ConvNeXtTiny, 32, True, "convnext"),
}


def _family(name):
    build, size, raw, preset = FAMILIES[name]
    keras.utils.set_random_seed(0)
    model = build(weights=None, input_shape=(size, size, 3), classes=10)
    batch = np.random.default_rng(0).uniform(0, 255, (6, size, size, 3)).astype("float32")
    if not raw:
        batch = batch / 127.5 - 1.0
    calibrate_and_remove_biases(model, batch)
    return model, batch[:1], preset


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    model, image, preset = _family(request.param)
    return request.param, model, image, preset, cuts(model)


def test_epsilon_to_zero_conserves_across_every_cut(family):
    name, model, image, _, cut_paths = family
    with unchanged(model, image):
        result = kv.lrp(model, image, rule="epsilon", epsilon=1e-9, return_layers=True, progress=False)
    assert abs(result.scores[0]) > 1e-3, "the untrained model's logit vanished: nothing to conserve"
    assert assert_conserves(result, cut_paths, rtol=1e-3) >= 10
    if name == "Xception":  # piecewise linear: LRP-0 is gradient × input
        gradient = score_gradients(model, image).input
        np.testing.assert_allclose(result.input, image * gradient, rtol=1e-3, atol=1e-4 * np.abs(result.input).max())


@pytest.mark.slow
def test_family_presets_conserve(family):
    _, model, image, preset, cut_paths = family
    result = kv.lrp(model, image, rule=preset, epsilon=1e-9, return_layers=True, progress=False)
    assert result.composite == preset
    assert any(isinstance(r, kv.lrp_rules.Gamma) for r in result.rules.values())
    assert assert_conserves(result, cut_paths, rtol=1e-3) >= 10
