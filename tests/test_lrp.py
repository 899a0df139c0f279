"""LRP invariants (Montavon et al. 2019): conservation, LRP-0 == gradient x input, ε, z⁺ positivity,
BatchNorm folding, batching, non-mutation, unsupported layers, residual Add.

All in float32: on these small bias-free nets the measured conservation error is
~1e-7 relative, well inside the 1e-5 threshold, so float64 is not needed.
"""

import keras
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.core.gradients import model_outputs, score_gradients
from kerasviz.lrp import lrp_rules
from kerasviz.lrp.propagate import trace
from kerasviz.testing import unchanged

RTOL = 1e-5


def _bias_free_net(seed=1):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=False, name="c1")(x)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(8, 3, use_bias=False, name="c2")(x)
    x = keras.layers.ReLU(name="r2")(x)
    x = keras.layers.AveragePooling2D(2, name="p2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.Dense(16, activation="relu", use_bias=False, name="d1")(x)
    outputs = keras.layers.Dense(5, activation="softmax", use_bias=False, name="head")(x)
    return keras.Model(inputs, outputs, name="bias_free")


def _residual_net(seed=2, use_bias=False):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=use_bias, name="stem")(x)
    branch = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=use_bias, name="branch")(x)
    x = keras.layers.Add(name="add")([x, branch])
    side = keras.layers.Conv2D(4, 1, activation="relu", use_bias=use_bias, name="side")(x)
    x = keras.layers.Concatenate(name="cat")([x, side])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, use_bias=use_bias, name="head")(x)
    return keras.Model(inputs, outputs, name="residual")


def _bn_net(seed=3):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="r1")(x)
    x = keras.layers.Conv2D(6, 3, name="c2", activation="relu")(x)
    x = keras.layers.BatchNormalization(name="bn_after_relu")(x)  # not foldable: z-rule
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="bn_net")
    rng = np.random.default_rng(seed)
    for name in ("bn1", "bn_after_relu"):
        bn = model.get_layer(name)
        bn.set_weights([rng.uniform(0.5, 2, 6), rng.normal(0, 0.5, 6), rng.normal(0, 0.5, 6), rng.uniform(0.5, 2, 6)])
    return model


@pytest.fixture(scope="module")
def bias_free():
    return _bias_free_net()


@pytest.fixture(scope="module")
def probe():
    return np.random.default_rng(0).uniform(0, 1, (4, 12, 12, 3)).astype("float32")


def _relative(a, b):
    return np.abs(a - b) / np.abs(b)


def test_lrp0_conserves_per_layer_and_equals_gradient_times_input(bias_free, probe):
    result = kv.lrp(bias_free, probe, rule="zero", return_layers=True, progress=False)
    assert result.input.shape == probe.shape
    for name, total in result.totals().items():
        assert _relative(total, result.scores).max() < RTOL, name
    gradient = score_gradients(bias_free, probe).input
    np.testing.assert_allclose(result.input, probe * gradient, rtol=1e-5, atol=1e-7)
    # the relevance put in is the target logit, not the softmax probability
    np.testing.assert_allclose(result.scores, model_outputs(bias_free, probe).max(axis=1), rtol=1e-6)


@pytest.mark.parametrize(
    "rule, kwargs",
    [
        ("gamma", {"gamma": 0.5}),
        ("zb", {"bounds": (0.0, 1.0)}),
        ("zb", {"bounds": (np.full((12, 12, 3), -0.5), np.ones((12, 12, 3)))}),  # per-pixel (mean-image) bounds
        ("epsilon_gamma_box", {"bounds": (0.0, 1.0)}),
    ],
)
def test_gamma_and_zb_conserve_on_bias_free_layers(bias_free, probe, rule, kwargs):
    result = kv.lrp(bias_free, probe, rule=rule, epsilon=1e-12, return_layers=True, progress=False, **kwargs)
    for name, total in result.totals().items():
        assert _relative(total, result.scores).max() < RTOL, (rule, name)


def test_epsilon_conservation_error_shrinks_with_epsilon(bias_free, probe):
    errors = []
    for eps in (1e-1, 1e-3, 1e-6, 1e-9):
        r = kv.lrp(bias_free, probe, rule="epsilon", epsilon=eps, return_layers=True, progress=False)
        errors.append(_relative(r.totals()["input"], r.scores).max())
    assert errors[0] > errors[1] > errors[2] >= 0
    assert errors[0] > 1e-4  # the test can fail: ε visibly absorbs relevance
    assert errors[-1] < RTOL


def test_zplus_with_nonnegative_inputs_gives_nonnegative_relevance(probe):
    model = kv.testing.small_cnn((12, 12, 3), classes=5, seed=4)
    rng = np.random.default_rng(1)
    model.set_weights(
        [rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()]
    )  # mixed-sign biases too
    logits = model_outputs(model, probe)
    target = logits.argmax(axis=1)
    assert (logits.max(axis=1) > 0).all()
    relevance = kv.lrp(model, probe, target=target, rule="zplus", return_layers=True, progress=False)
    assert (relevance.input >= 0).all() and relevance.input.sum() > 0
    for name, r in relevance.layers.items():
        assert (r >= -1e-7).all(), name
    # and αβ with β > 0 does produce negative relevance (the check can fail)
    assert (kv.lrp(model, probe, target=target, rule="alpha_beta", progress=False) < 0).any()


def test_alpha_beta_needs_alpha_minus_beta_one():
    with pytest.raises(ValueError, match="alpha. - .beta. = 1"):
        lrp_rules.AlphaBeta(alpha=2, beta=2)


def test_batch_norm_folding_leaves_forward_pass_unchanged(probe):
    model = _bn_net()
    graph = trace(model)
    assert set(graph.folds) == {"c1"} and graph.folded == {"bn1"}  # bn after a ReLU is not folded
    result = kv.lrp(model, probe, rule="epsilon", return_layers=True, progress=False)
    np.testing.assert_allclose(result.scores, model_outputs(model, probe).max(axis=1), rtol=1e-5, atol=1e-6)
    assert "bn1" not in result.layers and "bn_after_relu" in result.layers


def test_batch_equals_one_at_a_time(probe):
    model = _bn_net()
    batch = kv.lrp(model, probe, rule="small", progress=False, batch_size=3)
    single = np.stack([kv.lrp(model, probe[i], rule="small", progress=False) for i in range(len(probe))])
    np.testing.assert_allclose(batch, single, rtol=1e-4, atol=1e-6)


def test_user_model_unchanged(probe):
    for model in (_bn_net(), _bias_free_net()):
        with unchanged(model, probe):
            kv.lrp(model, probe, rule="epsilon_gamma_box", return_layers=True, progress=False)
            kv.lrp(model, probe, rule="alpha_beta", progress=False)


def test_residual_add_and_concatenate_conserve(probe):
    model = _residual_net()
    x = probe[:, :10, :10]
    result = kv.lrp(model, x, rule="zero", return_layers=True, progress=False)
    totals = result.totals()
    assert {"add", "cat", "stem", "branch"} <= set(totals)
    for name in ("input", "stem", "add", "cat", "gap", "head"):  # cuts of the graph (not the side branches)
        assert _relative(totals[name], result.scores).max() < RTOL, name
    # the two Add operands share the Add's relevance in proportion to their contributions
    assert 0 < _relative(totals["branch"], totals["add"]).max() < 1


def test_nested_model_paths(nested_fn, images):
    result = kv.lrp(nested_fn, images, rule="small", return_layers=True, progress=False)
    assert result.input.shape == images.shape
    assert "base/conv1" in result.rules and isinstance(result.rules["base/conv1"], lrp_rules.ZBox)
    assert np.isfinite(result.input).all()


@pytest.mark.parametrize(
    "layer, kind",
    [
        (keras.layers.Conv2DTranspose(4, 3, name="up"), "Conv2DTranspose"),
        (keras.layers.Lambda(lambda t: t * t, name="sq"), "Lambda"),
    ],
)
def test_unsupported_layer_fails_clearly(layer, kind):
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="c")(x)
    x = layer(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    with pytest.raises(kv.UnsupportedLayerError, match=f"{layer.name}.*{kind}"):
        kv.lrp(model, np.zeros((8, 8, 3), "float32"), progress=False)


def test_bad_rule_names_and_misplaced_input_rules(cnn, images):
    with pytest.raises(ValueError, match="is not an LRP rule"):
        kv.lrp(cnn, images, rule="epsilonn", progress=False)
    with pytest.raises(ValueError, match="input rule"):
        kv.lrp(cnn, images, rule=kv.Composite(overrides={"conv2": lrp_rules.Flat()}), progress=False)


def test_zb_behind_explicit_padding_conserves():
    # ResNet-style ZeroPadding2D before the first conv: padded positions are not pixels and get no
    # relevance (as padding inside the conv), so z^B conserves at the input too.
    keras.utils.set_random_seed(6)
    x = inputs = keras.Input((9, 9, 3))
    x = keras.layers.ZeroPadding2D(2, name="pad")(x)
    x = keras.layers.Conv2D(5, 3, strides=2, activation="relu", use_bias=False, name="c1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False, name="head")(x))
    images = np.random.default_rng(7).uniform(-1, 1, (2, 9, 9, 3)).astype("float32")
    result = kv.lrp(model, images, rule="zb", bounds=(-1.0, 1.0), epsilon=1e-12, return_layers=True, progress=False)
    assert "pad" not in result.layers  # folded into c1: its relevance is the pixels'
    for name in ("input", "c1", "gap", "head"):
        assert _relative(result.totals()[name], result.scores).max() < RTOL, name


def test_vanishing_logits_give_finite_relevance(probe):
    model = _bias_free_net()
    for w in model.weights:
        w.assign(w * 1e-4)  # logits ~1e-17: relative ε and pass-through must not divide 0 by 0
    for rule in ("epsilon_gamma_box", "small", "epsilon_gamma"):
        result = kv.lrp(model, probe, rule=rule, return_layers=True, progress=False)
        assert np.isfinite(result.input).all() and all(np.isfinite(v).all() for v in result.layers.values()), rule
