"""Bad input to kv.lrp and its rules: a clear kerasviz error naming the argument, nothing changed.

One row per class of bad input.
"""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.lrp import lrp_rules

L = keras.layers
NAN = float("nan")

# (row id, keyword arguments to kv.lrp, the argument the message must name)
LRP_SETTINGS = [
    ("unknown rule", {"rule": "epsilonn"}, "rule"),
    ("rule of the wrong type", {"rule": 3}, "rule"),
    ("epsilon NaN", {"epsilon": NAN}, "epsilon"),
    ("epsilon negative", {"epsilon": -1e-3}, "epsilon"),
    ("epsilon a string", {"epsilon": "small"}, "epsilon"),
    ("gamma negative", {"rule": "gamma", "gamma": -0.25}, "gamma"),
    ("gamma infinite", {"rule": "gamma", "gamma": float("inf")}, "gamma"),
    ("alpha below 1", {"rule": "alpha_beta", "alpha": 0.5}, "alpha"),
    ("alpha - beta != 1", {"rule": "alpha_beta", "alpha": 3.0, "beta": 1.0}, "alpha"),
    ("beta negative", {"rule": "alpha_beta", "beta": -1.0}, "beta"),
    ("bounds low > high", {"rule": "zb", "bounds": (1.0, 0.0)}, "bounds"),
    ("bounds low == high", {"rule": "zb", "bounds": (0.5, 0.5)}, "bounds"),
    ("bounds NaN", {"rule": "zb", "bounds": (NAN, 1.0)}, "bounds"),
    ("bounds not a pair", {"rule": "zb", "bounds": 5}, "bounds"),
    ("bounds unknown family", {"rule": "zb", "bounds": "imagenet-ish"}, "bounds"),
    ("bounds shapes disagree", {"rule": "zb", "bounds": ((0, 0, 0), (1, 1))}, "bounds"),
    ("batch_size zero", {"batch_size": 0}, "batch_size"),
    ("batch_size a float", {"batch_size": 2.5}, "batch_size"),
    ("output on a single-output model", {"output": 3}, "output"),
    ("input rule on a layer not reading pixels", {"rule": kv.Composite(overrides={"conv2": lrp_rules.Flat()})}, "rule"),
]


@pytest.mark.parametrize("kwargs, argument", [r[1:] for r in LRP_SETTINGS], ids=[r[0] for r in LRP_SETTINGS])
def test_bad_settings(cnn, images, kwargs, argument):
    assert_clear_error(lambda: kv.lrp(cnn, images, progress=False, **kwargs), argument)


RULES = [
    ("Epsilon negative", lambda: lrp_rules.Epsilon(-1.0), "epsilon"),
    ("Gamma NaN", lambda: lrp_rules.Gamma(NAN), "gamma"),
    ("AlphaBeta not conservative", lambda: lrp_rules.AlphaBeta(2.0, 2.0), "alpha"),
    ("ZBox one bound", lambda: lrp_rules.ZBox(low=0.0), "high"),
    ("ZBox inverted", lambda: lrp_rules.ZBox(1.0, -1.0), "bounds"),
    ("Composite with an input rule as lower", lambda: kv.Composite(lower=lrp_rules.Flat()), "lower"),
    ("Composite part not a rule", lambda: kv.Composite(upper="epsilon"), "upper"),
    ("Composite lower_fraction out of range", lambda: kv.Composite(lower_fraction=1.5), "lower_fraction"),
]


@pytest.mark.parametrize("make, argument", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_bad_rule_objects(make, argument):
    assert_clear_error(make, argument)


def _model(layer):
    x = inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", name="c")(x)
    x = layer(x) if not isinstance(layer, tuple) else layer[0]([x, L.Conv2D(4, 1, name="other")(x)])
    return keras.Model(inputs, L.Dense(2, name="head")(L.Flatten()(x)))


MODELS = [
    ("unsupported layer", lambda: _model(L.Conv2DTranspose(4, 3, padding="same", name="up")), "'up'.*Conv2DTranspose"),
    ("unknown activation", lambda: _model(L.Activation(lambda t: t * t, name="square")), "'square'"),
    ("softmax inside", lambda: _model(L.Softmax(name="inner_softmax")), "inner_softmax"),
    ("product of two plain tensors", lambda: _model((L.Multiply(name="mul"),)), "'mul'.*gate"),
]


@pytest.mark.parametrize("make, match", [r[1:] for r in MODELS], ids=[r[0] for r in MODELS])
def test_unsupported_models_are_named(make, match):
    model = make()
    error = assert_clear_error(lambda: kv.lrp(model, np.zeros((8, 8, 3), "float32"), progress=False), match=match)
    assert isinstance(error, kv.UnsupportedLayerError)
