"""Every keras.applications family × every technique family, plain and nested.

Eleven families (VGG16/19, ResNet50/50V2, MobileNetV2/V3Small, EfficientNetB0, DenseNet121,
InceptionV3, Xception, ConvNeXtTiny), each as the full model (`include_top=True`, 5 classes) and as a
`include_top=False` base nested in a transfer-learning Sequential (base -> GAP -> Dense), at the
smallest input each accepts (weights=None: untrained), × activations, saliency, integrated gradients,
Grad-CAM, occlusion, filter maximization, LRP with the family preset and top-k = 176 cells. Each cell
checks the result's shape and finiteness and that the model is unchanged (weights, configs,
predictions). Each model is built once per module; settings are the cheapest that still run every
code path (one IG step, a 2x2 occlusion grid, 2 feature-visualization steps on 2 filters), with
chunks of the images' own batch size so that a method reuses the compiled step another already traced.
"""

import contextlib
import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.core.layers import conv_layers
from kerasviz.testing import assert_model_unchanged

A = keras.applications
pytestmark = pytest.mark.filterwarnings("ignore:Integrated gradients:UserWarning")  # 2 steps: a smoke test
# family -> (constructor, smallest input side, LRP preset)
FAMILIES = {
    "VGG16": (A.VGG16, 32, "vgg"),
    "VGG19": (A.VGG19, 32, "vgg"),
    "ResNet50": (A.ResNet50, 32, "resnet"),
    "ResNet50V2": (A.ResNet50V2, 32, "resnet_v2"),
    "MobileNetV2": (A.MobileNetV2, 32, "mobilenet"),
    "MobileNetV3Small": (A.MobileNetV3Small, 32, "mobilenet_v3"),
    "EfficientNetB0": (A.EfficientNetB0, 32, "efficientnet"),
    "DenseNet121": (A.DenseNet121, 32, "densenet"),
    "InceptionV3": (A.InceptionV3, 75, "inception"),
    "Xception": (A.Xception, 71, "xception"),
    "ConvNeXtTiny": (A.ConvNeXtTiny, 32, "convnext"),
}
KINDS = ("plain", "nested")
TECHNIQUES = (
    "activations",
    "saliency",
    "integrated_gradients",
    "grad_cam",
    "occlusion",
    "filter_maximization",
    "lrp",
    "top_k",
)
_built: dict = {}


def built(family, kind):
    """`(model, layer path of the last conv, images (2, side, side, 3))`, built once per module.

    Only the model of the current row is kept (cells run family by family), so memory stays that of
    one model.
    """
    if (family, kind) not in _built:
        _built.clear()
        gc.collect()  # the previous model, its rebuilt graphs and compiled steps
        constructor, side, _ = FAMILIES[family]
        keras.utils.set_random_seed(0)
        if kind == "plain":
            model = constructor(weights=None, input_shape=(side, side, 3), classes=5)
            prefix, base = "", model
        else:
            base = constructor(weights=None, include_top=False, input_shape=(side, side, 3))
            model = keras.Sequential(
                [keras.Input((side, side, 3)), base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)],
                name=f"transfer_{family.lower()}",
            )
            prefix = f"{base.name}/"
        layer = prefix + conv_layers(base)[-1]
        images = np.random.default_rng(0).uniform(0, 255, (2, side, side, 3)).astype("float32")
        _built[(family, kind)] = (model, layer, images)
    return _built[(family, kind)]


def teardown_module(module):
    _built.clear()


@contextlib.contextmanager
def unchanged(model, probe):
    """`kerasviz.testing.unchanged` with one compiled forward pass per model (not one per check)."""
    run = _built.setdefault(("predict", id(model)), tf.function(lambda x: model(x, training=False)))
    state = lambda: (
        [w.copy() for w in model.get_weights()],
        [
            (l.name, repr(l.get_config()), repr(getattr(l, "activation", None)), l.trainable, l.dtype_policy.name)
            for l in model.layers
        ],
        [np.asarray(run(tf.constant(probe)))],
    )
    before = state()
    yield
    assert_model_unchanged(before, state())


def run(technique, model, layer, images, preset):
    n, side = len(images), images.shape[1]
    if technique == "activations":
        maps = kv.activations(model, images, [layer], progress=False)[layer]
        assert maps.ndim == 4 and len(maps) == n
        return maps
    if technique == "saliency":
        maps = kv.saliency(model, images, progress=False)
        assert maps.shape == (n, side, side)
        return maps
    if technique == "integrated_gradients":
        maps = np.asarray(kv.integrated_gradients(model, images, steps=1, path_batch_size=n, progress=False))
        assert maps.shape == images.shape
        return maps
    if technique == "grad_cam":
        maps = kv.grad_cam(model, images, layer=layer, progress=False)
        assert maps.shape == (n, side, side)
        return maps
    if technique == "occlusion":
        patch = side // 2
        maps = kv.occlusion(model, images, patch=patch, stride=patch, mask_batch_size=n, progress=False)
        assert maps.shape == (n, side, side)
        return maps
    if technique == "filter_maximization":
        result = kv.visualize_filters(model, layer, [0, 1], steps=2, size=side, progress=False)
        assert result.images.shape[0] == 2
        return result.images
    if technique == "lrp":
        maps = np.asarray(kv.lrp(model, images, rule=preset, progress=False))
        assert maps.shape[:3] == (n, side, side)
        return maps
    if technique == "top_k":
        top = kv.top_activating(model, layer, images, k=1, progress=False)
        assert top.patches.shape[1] == 1
        return top.values
    raise AssertionError(technique)


# Every cell of the matrix is one test; VGG16 and MobileNetV2 (plain and nested) run in every suite,
# the other nine families are marked slow.
FAST = ("VGG16", "MobileNetV2")
CELLS = [
    pytest.param(
        family, kind, technique, id=f"{family}-{kind}-{technique}", marks=() if family in FAST else pytest.mark.slow
    )
    for family in FAMILIES
    for kind in KINDS
    for technique in TECHNIQUES
]


@pytest.mark.parametrize("family, kind, technique", CELLS)
def test_cell(family, kind, technique):
    model, layer, images = built(family, kind)
    with unchanged(model, images[:1]):
        result = run(technique, model, layer, images, FAMILIES[family][2])
    assert np.isfinite(np.asarray(result, np.float32)).all(), "non-finite values"


@pytest.fixture(scope="module")
def legacy_h5(tmp_path_factory):
    """A FER-style grayscale CNN saved in the HDF5 format of Keras 2 and loaded back with `load_model`."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((48, 48, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
            keras.layers.BatchNormalization(),
            keras.layers.SeparableConv2D(8, 3, activation="relu", name="sep1"),
            keras.layers.MaxPooling2D(),
            keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(7, activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("h5") / "emotions.h5"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    images = np.random.default_rng(0).uniform(0, 1, (2, 48, 48, 1)).astype("float32")
    return loaded, images


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_legacy_h5_classifier(legacy_h5, technique):
    model, images = legacy_h5
    with unchanged(model, images[:1]):
        result = run(technique, model, "sep1", images, "epsilon_gamma_box")
    assert np.isfinite(np.asarray(result, np.float32)).all()
