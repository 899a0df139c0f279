"""The report's filter-maximization plan: the shown size on an open-size view of the model, in octaves.

The open-size view shares the user's layers and weights (same outputs at the
model's own size), leaves the model unchanged, and a model whose layers need
the fixed size falls back to running as it is.
"""

import keras
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.report import sections as S
from kerasviz.report.build import prepare_inspection
from kerasviz.report.featurevis_plan import open_size_model, plan_featurevis
from kerasviz.testing import unchanged


def fixed_cnn(side=64, reshape=False):
    inputs = keras.Input((side, side, 3))
    x = inputs
    if reshape:  # a layer that only works at the fixed size
        x = keras.layers.Reshape((side, side, 3))(keras.layers.Flatten()(x))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="fixed_cnn")


def test_open_size_view_shares_the_weights_and_changes_nothing():
    model = fixed_cnn()
    probe = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    with unchanged(model, probe):
        opened = open_size_model(model)
    assert tuple(opened.inputs[0].shape) == (None, None, None, 3)
    np.testing.assert_array_equal(np.asarray(opened(probe)), np.asarray(model(probe)))
    tap = kv.activations(opened, probe[:, :32, :32], "conv2")["conv2"]  # a smaller image runs up to the conv layers
    assert tap.shape == (2, 16, 16, 6)


@pytest.mark.parametrize(
    "side, size, octaves, opened, described",
    [
        (64, 32, None, True, ""),  # 32 / 2 < 48: one octave, at 32 px on the open view
        (224, 128, None, True, ", 2 octaves: 64, 128 px"),
        (64, 64, None, False, ""),  # the shown size is the model's: nothing to gain
        (32, 64, None, False, ""),  # larger than the model's input: resized down as before
        (224, 128, 3, True, ", 3 octaves: 32, 64, 128 px"),
    ],
)
def test_plan(side, size, octaves, opened, described):
    model = fixed_cnn(side)
    plan = plan_featurevis(model, size, octaves)
    assert (plan.model is not model) == opened
    assert plan.describe() == described
    plain = plan_featurevis(model, size, 1, open_size=False)
    assert plain.is_plain and plain.model is model


def test_a_model_that_needs_its_fixed_size_falls_back(tmp_path):
    model = fixed_cnn(32, reshape=True)
    photos = np.random.default_rng(1).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    probe = np.random.default_rng(2).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    with unchanged(model, probe):
        ins = prepare_inspection(model, photos, quick=True, layers=["conv1"], filters=2, steps=2)
        ins = S.Inspection(
            **{**ins.__dict__, "settings": S.Settings(**{**ins.settings.__dict__, "featurevis_size": 16})}
        )
        part = S.featurevis_section(ins)
    assert part.data["octaves"] == 1 and part.data["scores"]["conv1"].shape == (2,)
    assert "octaves" not in part.facts[0]


def test_the_report_header_says_octaves_and_steps(monkeypatch):
    monkeypatch.delenv("KERASVIZ_QUICK", raising=False)  # the steps given, uncapped
    model = fixed_cnn(224)
    photos = np.random.default_rng(3).integers(0, 256, (1, 50, 60, 3), dtype=np.uint8)
    ins = prepare_inspection(model, photos, quick=False, layers=["conv2"], filters=2, steps=4, precision="float32")
    part = S.featurevis_section(ins)
    assert part.facts == [
        "filter maximization: 2 filter(s) per layer on 1 layer(s), 4 steps, 2 octaves: 112, 224 px, in float32"
    ]
    assert part.data["scores"]["conv2"].shape == (2,)
