"""Bad input to feature visualization: a clear kerasviz error naming the argument, before any model work."""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.featurevis import objectives as O
from kerasviz.testing import small_cnn

NAN = float("nan")


@pytest.fixture(scope="module")
def models():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(4, 3, name="conv")

        def call(self, x):
            return self.conv(x)

    subclassed = Subclassed()
    subclassed(np.zeros((1, 16, 16, 3), "float32"))
    fcn = small_cnn(input_shape=(None, None, 3), softmax=False, name="fcn")
    return {"cnn": small_cnn(), "fcn": fcn, "subclassed": subclassed}


PHOTO = np.full((24, 24, 3), 0.5, np.float32)
F = dict(progress=False)

# (id, call(models) -> None, argument named in the message)
CASES = [
    # steps: zero, negative, float, huge
    ("filters-steps-0", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], steps=0, **F), "steps"),
    ("filters-steps-neg", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], steps=-3, **F), "steps"),
    ("filters-steps-float", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], steps=10.0, **F), "steps"),
    ("filters-steps-huge", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], steps=10**9, **F), "steps"),
    ("classes-steps-0", lambda m: kv.visualize_classes(m["cnn"], [0], steps=0, **F), "steps"),
    ("dream-steps-0", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", steps=0, **F), "steps"),
    ("invert-steps-0", lambda m: kv.invert(m["fcn"], PHOTO, "conv1", steps=0, **F), "steps"),
    ("render-steps-0", lambda m: kv.render_objective(m["cnn"], O.channel("conv2"), [0], steps=0, **F), "steps"),
    # rates and scales: NaN, negative, zero
    ("filters-lr-nan", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], lr=NAN, **F), "lr"),
    ("filters-lr-neg", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], lr=-0.05, **F), "lr"),
    ("invert-lr-0", lambda m: kv.invert(m["fcn"], PHOTO, "conv1", lr=0.0, **F), "lr"),
    ("invert-tv-nan", lambda m: kv.invert(m["fcn"], PHOTO, "conv1", tv_weight=NAN, **F), "tv_weight"),
    ("invert-alpha-neg", lambda m: kv.invert(m["fcn"], PHOTO, "conv1", alpha=-6.0, **F), "alpha"),
    ("dream-step-size-nan", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", step_size=NAN, **F), "step_size"),
    ("dream-step-size-neg", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", step_size=-0.01, **F), "step_size"),
    ("dream-octave-scale-1", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", octave_scale=1.0, **F), "octave_scale"),
    (
        "dream-octave-scale-nan",
        lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", octave_scale=NAN, **F),
        "octave_scale",
    ),
    ("dream-jitter-neg", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", jitter=-2, **F), "jitter"),
    ("dream-jitter-float", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", jitter=2.5, **F), "jitter"),
    ("dream-weight-nan", lambda m: kv.deep_dream(m["fcn"], PHOTO, {"conv1": NAN}, **F), "layers"),
    ("dream-weight-neg", lambda m: kv.deep_dream(m["fcn"], PHOTO, {"conv1": -1.0}, **F), "layers"),
    ("dream-weights-zero", lambda m: kv.deep_dream(m["fcn"], PHOTO, {"conv1": 0.0}, **F), "layers"),
    ("dream-layers-empty", lambda m: kv.deep_dream(m["fcn"], PHOTO, [], **F), "layers"),
    # octaves: zero, float, huge
    ("filters-octaves-0", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], octaves=0, **F), "octaves"),
    ("filters-octaves-float", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], octaves=2.0, **F), "octaves"),
    ("filters-octaves-huge", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], octaves=10**6, **F), "octaves"),
    (
        "filters-octaves-too-small",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], size=16, octaves=5, **F),
        "octaves",
    ),
    ("dream-octaves-0", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", octaves=0, **F), "octaves"),
    # size: zero, float, huge
    ("filters-size-0", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], size=0, **F), "size"),
    ("filters-size-float", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], size=32.0, **F), "size"),
    ("filters-size-huge", lambda m: kv.visualize_filters(m["fcn"], "conv2", [0], size=4096, **F), "size"),
    ("filters-size-triple", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], size=(8, 8, 8), **F), "size"),
    (
        "filters-batch-0",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], filter_batch_size=0, **F),
        "filter_batch_size",
    ),
    # filters and classes through the one index validator
    ("filters-out-of-range", lambda m: kv.visualize_filters(m["cnn"], "conv2", [16], **F), "filters"),
    ("filters-empty", lambda m: kv.visualize_filters(m["cnn"], "conv2", [], **F), "filters"),
    ("filters-float", lambda m: kv.visualize_filters(m["cnn"], "conv2", [1.5], **F), "filters"),
    ("filters-string", lambda m: kv.visualize_filters(m["cnn"], "conv2", "all", **F), "filters"),
    ("classes-empty", lambda m: kv.visualize_classes(m["cnn"], [], **F), "classes"),
    ("classes-out-of-range", lambda m: kv.visualize_classes(m["cnn"], [7], **F), "classes"),
    ("classes-none", lambda m: kv.visualize_classes(m["cnn"], None, **F), "classes"),
    # layers: unknown, input layer, wrong type, non-spatial where one is needed
    ("filters-layer-unknown", lambda m: kv.visualize_filters(m["cnn"], "conv3", [0], **F), "conv3"),
    ("filters-layer-input", lambda m: kv.visualize_filters(m["cnn"], m["cnn"].layers[0].name, [0], **F), "layer"),
    ("filters-layer-float", lambda m: kv.visualize_filters(m["cnn"], 1.5, [0], **F), "layer"),
    ("filters-layer-list", lambda m: kv.visualize_filters(m["cnn"], [], [0], **F), "layer"),
    (
        "filters-neuron-dense",
        lambda m: kv.visualize_filters(m["cnn"], "head", [0], objective="neuron", **F),
        "objective",
    ),
    (
        "filters-objective-unknown",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], objective="bogus", **F),
        "objective",
    ),
    ("invert-layers-empty", lambda m: kv.invert(m["fcn"], PHOTO, [], **F), "layer"),
    ("invert-layer-input", lambda m: kv.invert(m["fcn"], PHOTO, m["fcn"].layers[0].name, **F), "layer"),
    # options with the wrong type or value
    ("filters-param", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], param="cppn", **F), "param"),
    (
        "filters-transforms",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], transforms="lucid", **F),
        "transforms",
    ),
    (
        "filters-regularizers",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], regularizers=[0.1], **F),
        "regularizers",
    ),
    (
        "filters-preprocessing",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], preprocessing="imagenet", **F),
        "preprocessing",
    ),
    (
        "filters-precision",
        lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], precision="float16", **F),
        "precision",
    ),
    ("filters-callback", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], callback="print", **F), "callback"),
    ("filters-unknown-option", lambda m: kv.visualize_filters(m["cnn"], "conv2", [0], stpes=3, **F), "stpes"),
    ("classes-output-bad", lambda m: kv.visualize_classes(m["cnn"], [0], output=3, **F), "output"),
    ("dream-precision", lambda m: kv.deep_dream(m["fcn"], PHOTO, "conv1", precision="half", **F), "precision"),
    ("invert-precision", lambda m: kv.invert(m["fcn"], PHOTO, "conv1", precision=16, **F), "precision"),
    # images for deep_dream / invert
    ("dream-image-2d", lambda m: kv.deep_dream(m["fcn"], np.zeros((24, 24)), "conv1", **F), "images"),
    ("dream-image-nan", lambda m: kv.deep_dream(m["fcn"], np.full((24, 24, 3), NAN), "conv1", **F), "images"),
    ("dream-image-strings", lambda m: kv.deep_dream(m["fcn"], np.full((24, 24, 3), "a"), "conv1", **F), "images"),
    ("invert-image-tiny", lambda m: kv.invert(m["fcn"], np.zeros((4, 4, 3)), "conv1", **F), "images"),
    ("invert-image-empty", lambda m: kv.invert(m["fcn"], np.zeros((0, 24, 24, 3)), "conv1", **F), "images"),
    # models
    ("filters-subclassed", lambda m: kv.visualize_filters(m["subclassed"], "conv", [0], **F), "subclassed"),
    ("classes-subclassed", lambda m: kv.visualize_classes(m["subclassed"], [0], **F), "subclassed"),
    ("dream-subclassed", lambda m: kv.deep_dream(m["subclassed"], PHOTO, "conv", **F), "subclassed"),
    ("invert-subclassed", lambda m: kv.invert(m["subclassed"], PHOTO, "conv", **F), "subclassed"),
    ("filters-not-a-model", lambda m: kv.visualize_filters("vgg16", "conv2", [0], **F), "model"),
    # cost estimate
    ("estimate-steps-0", lambda m: kv.estimate_seconds(m["cnn"], "conv2", steps=0), "steps"),
    ("estimate-filters", lambda m: kv.estimate_seconds(m["cnn"], "conv2", [99]), "filters"),
]


@pytest.mark.parametrize("call, argument", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_clear_error(models, call, argument):
    assert_clear_error(lambda: call(models), argument)


def test_errors_come_before_any_model_work(models, monkeypatch):
    """A bad setting never reaches the compiled loop."""
    from kerasviz.featurevis import loop

    def refuse(*args, **kwargs):
        raise AssertionError("the renderer was built before the arguments were checked")

    monkeypatch.setattr(loop.Renderer, "__init__", refuse)
    monkeypatch.setattr("kerasviz.featurevis.visualize.Renderer", loop.Renderer)
    for case in CASES:
        if case[0].startswith(("filters-", "classes-", "render-")):
            with pytest.raises(kv.KerasvizError):
                case[1](models)
