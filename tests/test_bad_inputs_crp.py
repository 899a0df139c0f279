"""Bad input to kv.crp and kv.relevance_maximization: a clear kerasviz error naming the argument, model unchanged."""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import small_cnn, unchanged

rng = np.random.default_rng(0)
X = rng.uniform(0, 1, (6, 16, 16, 3)).astype("float32")
Y = rng.integers(0, 4, 6)
NAN = X.copy()
NAN[0, 0, 0, 0] = np.nan
M = small_cnn()


def _with_batch_norm():
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


BN = _with_batch_norm()


def _crp(**kw):
    args = dict(model=M, images=X, layer="conv2", progress=False)
    args.update(kw)
    return lambda: kv.crp(**args)


def _relmax(**kw):
    args = dict(model=M, layer="conv2", data=X, k=3, progress=False)
    args.update(kw)
    return lambda: kv.relevance_maximization(**args)


def _no_labels():
    def stream():
        yield X[:3]

    return kv.relevance_maximization(M, "conv2", stream(), target="labels", progress=False)


@pytest.mark.parametrize(
    "call, argument",
    [
        # crp
        (_crp(model="model"), "model"),
        (_crp(layer=[1]), "layer"),
        (
            _crp(
                model=keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]),
                layer=None,
            ),
            "layer",
        ),
        (_crp(layer="conv9"), "conv9"),
        (_crp(layer=2.5), "layer"),
        (_crp(model=BN, images=X, layer="bn"), "layer"),  # folded into the conv before it: no relevance of its own
        (_crp(filters=16), "filters"),
        (_crp(filters=[0, 1.5]), "filters"),
        (_crp(filters=[]), "filters"),
        (_crp(filters="all"), "filters"),
        (_crp(top=0), "top"),
        (_crp(top=2.5), "top"),
        (_crp(filter_batch_size=0), "filter_batch_size"),
        (_crp(batch_size=0), "batch_size"),
        (_crp(images=None), "images"),
        (_crp(images=X[..., :1]), "images"),
        (_crp(images=NAN), "images"),
        (_crp(images=X[:, :8]), "images"),
        (_crp(target=4), "target"),
        (_crp(target=[0, 1]), "target"),
        (_crp(target="cat"), "target"),
        (_crp(rule="nope"), "rule"),
        (_crp(epsilon=-1.0), "epsilon"),
        (_crp(epsilon=float("nan")), "epsilon"),
        (_crp(output="nope"), "output"),
        (_crp(images=np.zeros((24000, 16, 16, 3), np.float32)), "filters"),  # 24000 x 16 heatmaps: above 1 GiB
        # relevance_maximization
        (_relmax(model=None), "model"),
        (_relmax(layer="conv9"), "conv9"),
        (_relmax(model=BN, layer="bn"), "layer"),
        (_relmax(k=0), "k"),
        (_relmax(k="9"), "k"),
        (_relmax(reduce="mean"), "reduce"),
        (_relmax(normalize="yes"), "normalize"),
        (_relmax(target="label"), "target"),
        (_relmax(target=Y[:3]), "target"),
        (_relmax(target=9), "target"),
        (_relmax(target="labels"), "target"),  # array data without labels
        (_no_labels, "target"),  # a stream without labels
        (_relmax(data=None), "data"),
        (_relmax(data=X[..., :1]), "data"),
        (_relmax(data=NAN), "data"),
        (_relmax(labels=Y[:2]), "labels"),
        (_relmax(batch_size=0), "batch_size"),
        (_relmax(field_method="magic"), "field_method"),
        (_relmax(rule="nope"), "rule"),
        (_relmax(gamma=-0.5), "gamma"),
    ],
)
def test_clear_errors(call, argument):
    with unchanged(M, X[:2]):
        assert_clear_error(call, argument)


def test_relevance_layers_are_the_accepted_layers():
    from kerasviz.lrp import relevance_layers

    assert relevance_layers(BN) == ["conv", "relu", "gap", "head"]
    assert relevance_layers(M) == ["conv1", "pool1", "conv2", "gap", "head"]
    assert_clear_error(lambda: relevance_layers(M, output=3), "output")


def test_units_layer_is_accepted_and_the_default_layer_is_the_last_convolution():
    r = kv.crp(M, X[:2], layer="gap", filters=[0, 1], progress=False)  # (N, C) after global pooling
    assert r.heatmaps.shape == (2, 2, 16, 16, 3)
    assert kv.crp(M, X[:1], filters=0, progress=False).layer == "conv2"
    assert_clear_error(lambda: kv.crp(M, X, layer="head", filters=[9], progress=False), "filters")


def test_signatures_follow_the_conventions():
    import inspect

    for fn, first in ((kv.crp, ["model", "images", "target"]), (kv.relevance_maximization, ["model", "layer", "data"])):
        params = list(inspect.signature(fn).parameters.values())
        assert [p.name for p in params[:3]] == first and params[2].default is None
        assert all(p.kind == p.KEYWORD_ONLY for p in params[3:]), fn.__name__
        assert inspect.signature(fn).parameters["progress"].default is True
        assert "output" in inspect.signature(fn).parameters and "rule" in inspect.signature(fn).parameters
