"""LRP through every layer type of keras.applications, on small synthetic bias-free models.

On piecewise-linear bias-free ReLU models LRP-0 is gradient × input (Montavon et al. 2019) and
conserves relevance across every cut of the graph; each model below puts a group of layer types
on that test. LayerNorm and gates are not piecewise linear: they are checked by conservation and
against their rule written out in NumPy.
"""

import keras
import numpy as np
import pytest
from _lrp_helpers import assert_conserves, cuts

import kerasviz as kv
from kerasviz.core.gradients import score_gradients

L = keras.layers


def _randomize(model, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        for w in layer.trainable_weights:
            w.assign(rng.normal(0, scale, w.shape).astype("float32"))
    return model


def _convs():
    x = inputs = keras.Input((12, 12, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=False, name="c1")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False, name="dw")(x)
    x = L.ReLU(name="dw_relu")(x)
    x = L.SeparableConv2D(6, 3, depth_multiplier=2, padding="same", use_bias=False, activation="relu", name="sep")(x)
    x = L.Conv2D(6, 3, groups=3, use_bias=False, activation="relu", name="grouped")(x)
    x = L.Conv2D(6, 3, groups=6, padding="same", use_bias=False, name="depthwise_as_groups")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, L.Dense(3, use_bias=False, name="head")(x), name="convs")


def _structure():
    x = inputs = keras.Input((12, 12, 3))
    x = L.Rescaling(0.5, name="rescale")(x)  # folded into c1 (no offset: bias-free)
    x = L.ZeroPadding2D(1, name="pad")(x)
    x = L.Conv2D(4, 3, activation="relu", use_bias=False, name="c1")(x)
    x = L.Cropping2D(1, name="crop")(x)
    x = L.UpSampling2D(2, name="up")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    a = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=False, name="a")(x)
    b = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=False, name="b")(x)
    merged = L.Concatenate(name="cat")(
        [L.Maximum(name="max")([a, b]), L.Average(name="avg")([a, b]), L.Subtract(name="sub")([a, b])]
    )
    x = L.Dense(5, activation="relu", use_bias=False, name="dense4d")(merged)  # Dense on (N, H, W, C)
    x = L.Reshape((25, 1, 5), name="reshape")(L.AveragePooling2D(2, name="avg_pool")(x))
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    return keras.Model(inputs, L.Dense(3, use_bias=False, name="head")(x), name="structure")


def _squeeze_excite(zero_gate=False):
    """Squeeze-excite with a Reshape (EfficientNet) and a hard-sigmoid made of graph ops (MobileNetV3)."""
    x = inputs = keras.Input((8, 8, 3))
    x = L.Normalization(mean=0.0, variance=4.0, name="norm")(x)
    x = L.Conv2D(6, 3, activation="relu", use_bias=False, name="c1")(x)
    s = L.Reshape((1, 1, 6), name="se_reshape")(L.GlobalAveragePooling2D(name="se_pool")(x))
    s = L.Conv2D(3, 1, activation="relu", use_bias=False, name="se_reduce")(s)
    s = L.Conv2D(6, 1, activation="sigmoid", use_bias=False, name="se_expand")(s)
    x = L.Multiply(name="se_mul")([x, s])
    x = L.Conv2D(6, 3, activation="relu", use_bias=False, name="c2")(x)
    x = L.AveragePooling2D(4, name="to_1x1")(x)  # a squeeze-excite on a 1x1 map: both operands (N, 1, 1, C)
    t = L.GlobalAveragePooling2D(keepdims=True, name="se2_pool")(x)
    t = L.Conv2D(6, 1, use_bias=False, name="se2_expand")(t)
    t = L.ReLU(6.0, name="se2_relu6")(t + 3.0) * (1.0 / 6.0)
    x = L.Multiply(name="se2_mul")([t, x])  # the gate first
    x = L.Flatten(name="flat")(x)
    model = keras.Model(inputs, L.Dense(3, use_bias=False, name="head")(x), name="squeeze_excite")
    _randomize(model, 3)
    if zero_gate:  # a constant gate (sigmoid(0), relu6(3)/6): the block is linear, so LRP-0 is gradient × input
        for name in ("se_expand", "se2_expand"):
            model.get_layer(name).kernel.assign(np.zeros(model.get_layer(name).kernel.shape))
    return model


PIECEWISE_LINEAR = {"convs": _convs, "structure": _structure, "constant_gates": lambda: _squeeze_excite(zero_gate=True)}


@pytest.mark.parametrize("name", sorted(PIECEWISE_LINEAR))
def test_lrp0_is_gradient_times_input_and_conserves(name):
    model = PIECEWISE_LINEAR[name]()
    if name != "constant_gates":
        _randomize(model, 1)
    images = np.random.default_rng(2).uniform(-1, 1, (2,) + model.input_shape[1:]).astype("float32")
    result = kv.lrp(model, images, rule="zero", return_layers=True, progress=False)
    gradient = score_gradients(model, images).input
    np.testing.assert_allclose(result.input, images * gradient, rtol=1e-4, atol=1e-5 * np.abs(result.input).max())
    assert assert_conserves(result, cuts(model), rtol=1e-4) >= 4


def test_gates_conserve_and_send_no_relevance_to_the_gate():
    model = _squeeze_excite()
    images = np.random.default_rng(4).uniform(-2, 2, (2, 8, 8, 3)).astype("float32")
    result = kv.lrp(model, images, rule="zero", return_layers=True, progress=False)
    assert not {"se_pool", "se_reduce", "se_expand", "se2_expand"} & set(result.layers)  # the gate branches get none
    assert_conserves(result, cuts(model), rtol=1e-4)
    # and it differs from gradient × input, which also credits the gate branch (the check can fail)
    gradient = score_gradients(model, images).input
    assert np.abs(result.input - images * gradient).max() > 1e-3 * np.abs(result.input).max()


def test_layer_norm_rule_conserves_and_matches_numpy():
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((6, 6, 3))
    x = L.Conv2D(5, 3, activation="relu", use_bias=False, name="conv")(x)
    x = L.LayerNormalization(center=False, epsilon=1e-6, name="ln")(x)
    x = L.Dense(4, activation="gelu", use_bias=False, name="pointwise")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    model = _randomize(keras.Model(inputs, L.Dense(3, use_bias=False, name="head")(x)), 5)
    images = np.random.default_rng(6).uniform(0, 1, (2, 6, 6, 3)).astype("float32")
    result = kv.lrp(model, images, rule="zero", return_layers=True, progress=False)
    assert_conserves(result, cuts(model), rtol=1e-4)
    # the LN-rule written out: y = γ(x − mean)/σ with σ constant, R_in = x ⊙ Jᵀ (R_out / y)
    a = keras.Model(model.inputs[0], model.get_layer("conv").output)(images).numpy().astype(np.float64)
    gamma = model.get_layer("ln").gamma.numpy().astype(np.float64)
    expected = np.zeros_like(a)
    for index in np.ndindex(a.shape[:3]):
        v = a[index]
        sigma = np.sqrt(v.var() + 1e-6)
        jacobian = gamma[:, None] * (np.eye(5) - 1.0 / 5) / sigma  # dy_i / dx_j
        y = jacobian @ v
        r_out = result.layers["ln"][index]
        expected[index] = v * (jacobian.T @ np.divide(r_out, y, out=np.zeros(5), where=y != 0))
    np.testing.assert_allclose(result.layers["conv"], expected, rtol=1e-3, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("rule", ["gamma", "alpha_beta", "zplus", "w_square"])
def test_depthwise_equals_block_diagonal_conv(rule):
    keras.utils.set_random_seed(1)
    x = inputs = keras.Input((7, 7, 3))
    depthwise = keras.Model(inputs, L.Flatten()(L.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)))
    _randomize(depthwise, 7)
    kernel, bias = depthwise.get_layer("dw").get_weights()
    dense_kernel = np.zeros((3, 3, 3, 6), "float32")
    for c in range(3):
        for m in range(2):
            dense_kernel[:, :, c, c * 2 + m] = kernel[:, :, c, m]
    x = inputs = keras.Input((7, 7, 3))
    conv = keras.Model(inputs, L.Flatten()(L.Conv2D(6, 3, name="conv")(x)))
    conv.get_layer("conv").set_weights([dense_kernel, bias])
    images = np.random.default_rng(8).uniform(-1, 1, (2, 7, 7, 3)).astype("float32")
    for target in (0, 17):
        np.testing.assert_allclose(
            kv.lrp(depthwise, images, target, rule=rule, progress=False),
            kv.lrp(conv, images, target, rule=rule, progress=False),
            rtol=1e-4,
            atol=1e-6,
        )


@pytest.mark.parametrize("scale, offset", [(1 / 64.0, -1.0), (-0.02, 0.5)])
def test_affine_input_folded_equals_mapped_bounds(scale, offset):
    """z^B through Rescaling + padding with the raw range == z^B on pre-scaled pixels with mapped bounds."""
    keras.utils.set_random_seed(2)

    def net(with_rescaling):
        x = inputs = keras.Input((8, 8, 3))
        if with_rescaling:
            x = L.Rescaling(scale, offset, name="rescale")(x)
        x = L.ZeroPadding2D(1, name="pad")(x)
        x = L.Conv2D(4, 3, activation="relu", name="c1")(x)
        x = L.Conv2D(4, 3, activation="relu", name="c2")(L.BatchNormalization(name="bn")(x))
        return keras.Model(inputs, L.Dense(3, name="head")(L.GlobalAveragePooling2D()(x)))

    raw_model, scaled_model = net(True), net(False)
    _randomize(raw_model, 9, scale=0.3)
    scaled_model.set_weights(raw_model.get_weights())
    raw = np.random.default_rng(10).uniform(0, 128, (2, 8, 8, 3)).astype("float32")
    low, high = sorted((0 * scale + offset, 128 * scale + offset))
    for rule in ("zb", "epsilon_gamma_box", "w_square"):  # z^B: the offsets cancel; w²: w'² = (w·S)²
        folded = kv.lrp(raw_model, raw, rule=rule, bounds=(0.0, 128.0), progress=False)
        direct = kv.lrp(scaled_model, raw * scale + offset, rule=rule, bounds=(low, high), progress=False)
        if rule == "w_square":  # w² on pre-scaled pixels ignores S; folded, it weighs by S² (one global scale here)
            folded, direct = folded / folded.sum(), direct / direct.sum()
        np.testing.assert_allclose(folded, direct, rtol=1e-3, atol=1e-4 * np.abs(direct).max(), err_msg=rule)
