"""Generalised LRP-γ (Andéol et al. 2021; zennit's Gamma) against hand values and a literal NumPy loop.

The totals of a rule can agree while its maps are wrong, so every check here compares maps.
"""

import keras
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.core.gradients import model_outputs

GAMMA = 0.25


def test_one_conv_hand_computed():
    # z = 1·1 − 1·1.2499 = −0.2499 < 0: the negative contributions are amplified,
    # denominator 1 − 1.25·1.2499 = −0.562375 (the plain w + γw⁺ rule divides by 1e-4).
    x = inputs = keras.Input((1, 1, 2))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    model.get_layer("conv").set_weights([np.array([1.0, -1.0], "float32").reshape(1, 1, 2, 1)])
    pixels = np.array([1.0, 1.2499], "float32").reshape(1, 1, 2)
    relevance = kv.lrp(model, pixels, 0, rule="gamma", gamma=GAMMA, progress=False)
    np.testing.assert_allclose(relevance.reshape(-1), [0.444365, -0.694262], atol=1e-4)
    np.testing.assert_allclose(relevance.sum(), -0.2499, atol=1e-6)


def _conv_matrix(kernel, height, width):
    """The valid, stride-1 convolution as a matrix `(H·W·Cin, H'·W'·Cout)`, written out index by index."""
    kh, kw, cin, cout = kernel.shape
    oh, ow = height - kh + 1, width - kw + 1
    matrix = np.zeros((height, width, cin, oh, ow, cout))
    for p in range(oh):
        for q in range(ow):
            for i in range(kh):
                for j in range(kw):
                    matrix[p + i, q + j, :, p, q, :] = kernel[i, j]
    return matrix.reshape(height * width * cin, oh * ow * cout)


def _gamma_literal(a, weights, bias, relevance_out, gamma):
    """Generalised γ for one layer `z = a·W + b`, one output unit and one input at a time."""
    z = a @ weights + bias
    relevance_in = np.zeros_like(a)
    for k in range(weights.shape[1]):
        if z[k] == 0:
            continue
        sign = 1.0 if z[k] > 0 else -1.0
        contributions = np.zeros_like(a)
        for j in range(len(a)):
            w = weights[j, k]
            boosted = w + gamma * (max(w, 0) if a[j] * sign > 0 else min(w, 0))
            contributions[j] = a[j] * boosted
        b = bias[k] + gamma * (max(bias[k], 0) if sign > 0 else min(bias[k], 0))
        relevance_in += contributions / (contributions.sum() + b) * relevance_out[k]
    return relevance_in


def _signed_net():
    keras.utils.set_random_seed(5)
    x = inputs = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(3, 2, name="c1")(x)  # linear: signed outputs feed c2
    x = keras.layers.Conv2D(4, 1, activation="relu", name="c2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(4, name="head")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _literal(model, image, target):
    (k1, b1), (k2, b2), (w3, b3) = (model.get_layer(n).get_weights() for n in ("c1", "c2", "head"))
    m1, m2 = _conv_matrix(k1.astype(np.float64), 5, 5), _conv_matrix(k2.astype(np.float64), 4, 4)
    a0 = image.astype(np.float64).reshape(-1)
    a1 = a0 @ m1 + np.tile(b1, 16)
    a2 = np.maximum(a1 @ m2 + np.tile(b2, 16), 0)
    logits = a2 @ w3 + b3
    r3 = np.zeros(4)
    r3[target] = logits[target]
    r2 = _gamma_literal(a2, w3.astype(np.float64), b3, r3, GAMMA)  # a ReLU passes relevance unchanged
    r1 = _gamma_literal(a1, m2, np.tile(b2, 16), r2, GAMMA)
    return _gamma_literal(a0, m1, np.tile(b1, 16), r1, GAMMA).reshape(image.shape), logits


def _naive_literal(model, image, target):
    """Montavon et al.'s `w + γw⁺` on the same net (valid only for a ≥ 0 and z > 0)."""
    (k1, b1), (k2, b2), (w3, b3) = (model.get_layer(n).get_weights() for n in ("c1", "c2", "head"))
    m1, m2 = _conv_matrix(k1.astype(np.float64), 5, 5), _conv_matrix(k2.astype(np.float64), 4, 4)

    def step(a, w, b, r):
        rho_w, rho_b = w + GAMMA * np.maximum(w, 0), b + GAMMA * np.maximum(b, 0)
        return a * (rho_w @ (r / (a @ rho_w + rho_b)))

    a0 = image.astype(np.float64).reshape(-1)
    a1 = a0 @ m1 + np.tile(b1, 16)
    a2 = np.maximum(a1 @ m2 + np.tile(b2, 16), 0)
    logits = a2 @ w3 + b3
    r3 = np.zeros(4)
    r3[target] = logits[target]
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = step(a1, m2, np.tile(b2, 16), np.nan_to_num(step(a2, w3, b3, r3)))
        return np.nan_to_num(step(a0, m1, np.tile(b1, 16), r1)).reshape(image.shape)


def test_signed_inputs_and_negative_logits_match_a_literal_loop():
    model = _signed_net()
    images = np.random.default_rng(4).normal(0, 1, (3, 5, 5, 2)).astype("float32")  # signed pixels
    logits = np.stack([_literal(model, im, 0)[1] for im in images])
    assert (logits < 0).any() and (logits > 0).any()
    for i, image in enumerate(images):
        for target in (int(np.argmin(logits[i])), int(np.argmax(logits[i]))):  # a negative and a positive logit
            expected, _ = _literal(model, image, target)
            got = kv.lrp(model, image, target, rule="gamma", gamma=GAMMA, progress=False)
            scale = np.abs(expected).max()
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)
            if logits[i, target] < 0:  # the case the plain rule gets wrong: the maps differ visibly
                naive = _naive_literal(model, image, target)
                assert np.abs(naive - expected).max() > 0.05 * scale


def test_gamma_zero_is_lrp0_and_nonnegative_case_is_montavons_rule():
    model = _signed_net()
    image = np.random.default_rng(6).normal(0, 1, (5, 5, 2)).astype("float32")
    np.testing.assert_allclose(
        kv.lrp(model, image, 1, rule="gamma", gamma=0.0, progress=False),
        kv.lrp(model, image, 1, rule="zero", progress=False),
        rtol=1e-4,
        atol=1e-6,
    )
    # a ≥ 0 and z > 0 everywhere on a positive-weight layer: generalised γ == w + γw⁺ (hand formula)
    x = inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="d")(x))
    w, b = np.array([[0.5, -0.2], [-0.3, 0.4], [0.8, 0.1]], "float32"), np.array([0.1, -0.05], "float32")
    model.get_layer("d").set_weights([w, b])
    a = np.array([1.0, 0.5, 2.0], "float32")
    assert (a @ w + b > 0).all()
    rho_w, rho_b = w + GAMMA * np.maximum(w, 0), b + GAMMA * np.maximum(b, 0)
    z = a @ w + b
    for target in (0, 1):
        expected = a * rho_w[:, target] / (a @ rho_w[:, target] + rho_b[target]) * z[target]
        got = _dense_lrp(model, a, target)
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def _dense_lrp(model, vector, target):
    # kv.lrp takes images; a Dense-only model reads the vector as a 1x1 "image" with C channels
    x = inputs = keras.Input((1, 1, vector.size))
    y = keras.layers.Flatten()(x)
    wrapped = keras.Model(inputs, model.get_layer("d")(y))
    return kv.lrp(wrapped, vector.reshape(1, 1, -1), target, rule="gamma", gamma=GAMMA, progress=False).reshape(-1)


def _residual_net():
    """A γ conv feeding a residual Add without a ReLU in between (ResNet-style), bias-free."""
    keras.utils.set_random_seed(8)
    x = inputs = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=False, name="stem")(x)
    branch = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=False, name="b1")(x)
    branch = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="b2")(branch)
    x = keras.layers.Add(name="add")([x, branch])
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", use_bias=False, name="c3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, use_bias=False, name="head")(x)
    return keras.Model(inputs, outputs, name="residual_gamma")


@pytest.mark.parametrize("preset", ["epsilon_gamma", "resnet"])
def test_gamma_presets_conserve_on_a_residual_net(preset):
    model = _residual_net()
    rng = np.random.default_rng(9)
    images = rng.uniform(-100, 130, (2, 10, 10, 3)).astype("float32")  # inside the caffe range, signed
    logits = model_outputs(model, images)
    for target in (logits.argmin(axis=1), logits.argmax(axis=1)):  # negative and positive logits
        result = kv.lrp(model, images, target, rule=preset, epsilon=1e-10, return_layers=True, progress=False)
        assert isinstance(result.rules["b2"], kv.lrp_rules.Gamma)  # the γ conv feeding the Add
        totals = result.totals()
        for name in ("input", "stem", "add", "relu", "c3", "gap", "head"):  # cuts of the graph
            np.testing.assert_allclose(totals[name], result.scores, rtol=1e-5, err_msg=f"{preset} {name}")
