"""Top-k, Neuron Features and the Dataset tab on every keras.applications family, plain and nested.

Squeeze-and-excitation gates (MobileNetV3, EfficientNet) make every later unit
depend on the whole image through one number per channel; the receptive field
is then traced along the spatial path and reported as "local". The other
families trace exactly. Models are untrained (weights=None) at small input
sizes, built once per module.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.core.layers import conv_layers
from kerasviz.testing import unchanged

A = keras.applications
# family -> (constructor, input side, expected field method of the last conv)
FAMILIES = {
    "MobileNetV3Small": (A.MobileNetV3Small, 64, "local"),
    "EfficientNetB0": (A.EfficientNetB0, 64, "local"),
    "VGG16": (A.VGG16, 64, "exact"),
    "ResNet50": (A.ResNet50, 64, "exact"),
    "MobileNetV2": (A.MobileNetV2, 64, "exact"),
    "DenseNet121": (A.DenseNet121, 64, "exact"),
    "InceptionV3": (A.InceptionV3, 75, "exact"),
    "Xception": (A.Xception, 71, "exact"),
    "ConvNeXtTiny": (A.ConvNeXtTiny, 64, "exact"),
}
GATED = ["MobileNetV3Small", "EfficientNetB0"]
_built: dict = {}


def built(family):
    """`(base, transfer, images)`: the untrained base, the same base nested in a Sequential head, 4 images."""
    if family not in _built:
        constructor, side, _ = FAMILIES[family]
        base = constructor(weights=None, include_top=False, input_shape=(side, side, 3))
        transfer = keras.Sequential(
            [keras.Input((side, side, 3)), base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)],
            name=f"transfer_{family.lower()}",
        )
        images = np.random.default_rng(0).uniform(0, 255, (4, side, side, 3)).astype("float32")
        _built[family] = (base, transfer, images)
    return _built[family]


def teardown_module(module):
    _built.clear()


def check_top_and_features(model, layer, images, method, *, brute_force=False):
    if brute_force:
        with unchanged(model, images[:1]):
            top = kv.top_activating(model, layer, images, k=2, progress=False)
        maxima = kv.activations(model, images, [layer])[layer].max(axis=(1, 2)).T  # (filters, N)
        np.testing.assert_allclose(top.values[:, 0], maxima.max(1), rtol=1e-5, atol=1e-5)
    else:
        top = kv.top_activating(model, layer, images, k=2, progress=False)
    features = kv.neuron_feature(top)
    assert top.field_method == method, (layer, top.field_method)
    ph, pw = top.patch_size
    assert top.patches.shape[2:4] == (ph, pw) and max(ph, pw) <= 2 * images.shape[1]
    assert features.images.shape[0] == len(top.indices) and max(features.images.shape[1:3]) <= 128
    assert np.isfinite(features.images).all()
    return top


@pytest.mark.parametrize("family", GATED)
def test_squeeze_excite_families(family):
    base, transfer, images = built(family)
    convs = conv_layers(base)
    mid = [c for c in convs if "squeeze" not in c and "_se_" not in c][len(convs) // 3]
    check_top_and_features(base, mid, images, "local")
    plain = check_top_and_features(base, convs[-1], images, "local", brute_force=True)
    nested = check_top_and_features(transfer, f"{base.name}/{convs[-1]}", images, "local")
    np.testing.assert_array_equal(nested.indices, plain.indices)
    np.testing.assert_array_equal(nested.boxes, plain.boxes)
    gate = next(c for c in convs if "squeeze" in c or "_se_" in c)  # a conv inside the gate: no positions
    assert kv.top_activating(base, gate, images, k=1, progress=False).field_method == "whole image"
    explorer = kv.widgets.TopActivatingExplorer(transfer, images, layers=[f"{base.name}/{convs[-1]}"], k=2, rows=2)
    assert explorer.figure().axes


@pytest.mark.slow  # about 4 minutes on 2 busy cores; the two families below run in every suite
@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in GATED])
def test_other_families_plain_and_nested(family):
    base, transfer, images = built(family)
    last = conv_layers(base)[-1]
    plain = check_top_and_features(base, last, images, FAMILIES[family][2])
    nested = check_top_and_features(transfer, f"{base.name}/{last}", images, FAMILIES[family][2])
    np.testing.assert_array_equal(nested.indices, plain.indices)


@pytest.mark.parametrize("family", ["VGG16", "MobileNetV2"])
def test_two_exact_families_nested(family):
    base, transfer, images = built(family)
    last = conv_layers(base)[-1]
    check_top_and_features(transfer, f"{base.name}/{last}", images, "exact")


# --------------------------------------------------------------------------- the local field, on a tiny gated net


def gated_net(gate=True):
    x = inputs = keras.Input((24, 24, 3))
    a = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="c1")(x)
    if gate:
        g = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(a)
        g = keras.layers.Conv2D(4, 1, activation="sigmoid", name="excite")(g)
        a = keras.layers.Multiply(name="gate")([a, g])
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    return keras.Model(inputs, keras.layers.MaxPooling2D(2, name="pool")(b))


def test_local_field_is_the_field_without_the_gate_and_the_gradient_sees_the_whole_image():
    gated, plain = gated_net(True), gated_net(False)
    for layer in ("c2", "pool"):
        local, exact = kv.receptive_field(gated, layer), kv.receptive_field(plain, layer)
        assert local.method == "local" and exact.method == "exact"
        assert (local.size, local.jump, local.start) == (exact.size, exact.jump, exact.start)
    assert kv.receptive_field(gated, "c1").method == "exact"  # before the gate nothing changes
    with pytest.raises(kv.UnsupportedLayerError, match="local"):
        kv.receptive_field(gated, "c2", method="exact")
    # Why "local" and not "exact": through the gate, one unit's gradient reaches every pixel.
    fx = kv.feature_extractor(gated, ["c2"])
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 24, 24, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        unit = fx(x)["c2"][0, 0, 0, 0]
    assert np.all(np.abs(tape.gradient(unit, x).numpy()).sum(-1) > 0)
    whole = kv.receptive_field(gated, "c2", method="whole image")
    assert whole.box(5, 7) == (0, 0, 24, 24)
    top = kv.top_activating(gated, "c2", x.numpy().repeat(3, 0), k=2, field_method="whole image", progress=False)
    assert top.field_method == "whole image" and (top.boxes == (0, 0, 24, 24)).all()
