"""kv.lrp's conventions: keyword-only settings, output= on multi-output models, the result type,
mixed precision, and the model and global state left as found."""

import inspect

import keras
import numpy as np
import pytest
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv
from kerasviz.core.results import ArrayResult
from kerasviz.testing import unchanged

L = keras.layers


def test_signature_is_keyword_only_after_target():
    params = inspect.signature(kv.lrp).parameters
    assert list(params)[:3] == ["model", "images", "target"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[3:])
    assert {"rule", "output", "batch_size", "progress", "return_layers"} <= set(params)
    assert params["progress"].default is True


def test_positional_rule_still_works_with_a_deprecation_warning(cnn, images):
    with pytest.warns(DeprecationWarning, match="rule="):
        old = kv.lrp(cnn, images, None, "zero", progress=False)
    np.testing.assert_array_equal(old, kv.lrp(cnn, images, None, rule="zero", progress=False))
    assert_clear_error(lambda: kv.lrp(cnn, images, None, "zero", "gamma", progress=False), "rule")


def test_return_layers_gives_an_array_result(cnn, images):
    result = kv.lrp(cnn, images[:2], rule="small", return_layers=True, progress=False)
    assert isinstance(result, ArrayResult) and isinstance(result, kv.Relevance)
    assert np.asarray(result) is result.input and result.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(result[1], result.input[1])
    assert list(result.layers) == ["conv1", "pool1", "conv2", "gap", "head"]
    single = kv.lrp(cnn, images[0], rule="small", progress=False)
    assert single.shape == (16, 16, 3) and single.dtype == np.float32


def _two_heads(as_dict=False):
    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((12, 12, 3))
    x = L.Conv2D(6, 3, activation="relu", name="conv")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    cls, aux = L.Dense(4, activation="softmax", name="cls")(x), L.Dense(2, name="aux")(x)
    outputs = {"cls": cls, "aux": aux} if as_dict else [cls, aux]
    return keras.Model(inputs, outputs, name="two_heads")


@pytest.mark.parametrize("as_dict", [False, True])
def test_output_picks_the_explained_head(as_dict):
    model = _two_heads(as_dict)
    images = np.random.default_rng(0).uniform(0, 1, (2, 12, 12, 3)).astype("float32")
    assert_clear_error(lambda: kv.lrp(model, images, progress=False), "output")
    assert_clear_error(lambda: kv.lrp(model, images, output=5, progress=False), "output")
    # list outputs in order; dict outputs in key order (aux, cls), as keras.tree.flatten orders them
    choices = (("cls", "cls"), (0, "aux"), (-1, "cls")) if as_dict else ((0, "cls"), ("aux", "aux"), (-1, "aux"))
    for output, name in choices:
        single = keras.Model(model.inputs, model.get_layer(name).output)
        result = kv.lrp(model, images, 1, rule="epsilon_gamma", output=output, return_layers=True, progress=False)
        np.testing.assert_allclose(
            result.input, kv.lrp(single, images, 1, rule="epsilon_gamma", progress=False), rtol=1e-5
        )
        assert name in result.layers and ({"cls", "aux"} - {name}).isdisjoint(result.layers)


def _mixed_model():
    x = inputs = keras.Input((12, 12, 3))
    x = L.Rescaling(1 / 255.0, name="rescale")(x)
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(name="relu")(x)
    x = L.DepthwiseConv2D(3, name="dw", activation="swish")(x)
    x = L.LayerNormalization(name="ln")(x)
    s = L.Conv2D(8, 1, activation="sigmoid", name="gate")(L.GlobalAveragePooling2D(keepdims=True, name="pool")(x))
    x = L.Multiply(name="mul")([x, s])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, L.Dense(4, activation="softmax", name="head")(x), name="mixed")


def test_mixed_precision_is_explained_in_float32():
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(4)
        mixed = _mixed_model()
    finally:
        keras.config.set_dtype_policy(previous)
    assert mixed.get_layer("conv").compute_dtype == "float16"
    plain = _mixed_model()
    plain.set_weights(mixed.get_weights())
    images = np.random.default_rng(1).uniform(0, 255, (2, 12, 12, 3)).astype("float32")
    for rule in ("epsilon_gamma_box", "zero", "mobilenet_v3"):
        with global_state_unchanged(), unchanged(mixed, images):
            got = kv.lrp(mixed, images, [0, 3], rule=rule, return_layers=True, progress=False)
        expected = kv.lrp(plain, images, [0, 3], rule=rule, return_layers=True, progress=False)
        assert got.input.dtype == np.float32 and np.isfinite(got.input).all()
        np.testing.assert_allclose(got.input, expected.input, rtol=1e-4, atol=1e-5 * np.abs(expected.input).max())
        np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5)


def test_families_listed():
    names = kv.composite_names()
    for preset in ("vgg", "resnet", "mobilenet", "mobilenet_v3", "efficientnet", "convnext", "xception", "densenet"):
        assert preset in names
    assert {
        "DepthwiseConv2D",
        "SeparableConv2D",
        "LayerNormalization",
        "Multiply",
        "Rescaling",
        "Normalization",
    } <= set(kv.supported_layers())
