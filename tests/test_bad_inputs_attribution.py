"""Bad input to every attribution function and metric: a clear kerasviz error naming the argument.

One table per bad-input class, crossed with every public function that takes
it; every row also checks that global state (Keras policy, floatx, Python and
NumPy random state, matplotlib settings) is unchanged, and the module checks
the model is unchanged after all of them.
"""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import assert_model_unchanged, model_state

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (2, 8, 8, 3)).astype("float32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    net = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(x), name="net")
    before = model_state(net, X)
    yield net
    assert_model_unchanged(before, model_state(net, X))


# Every public per-image function, called as fn(model, images, target, **options) with cheap settings.
METHODS = {
    "gradient": lambda m, x, t=None, **k: kv.gradient(m, x, t, **k),
    "saliency": lambda m, x, t=None, **k: kv.saliency(m, x, t, **k),
    "smoothgrad": lambda m, x, t=None, **k: kv.smoothgrad(m, x, t, **{"samples": 2, **k}),
    "guided_backprop": lambda m, x, t=None, **k: kv.guided_backprop(m, x, t, **k),
    "deconvnet": lambda m, x, t=None, **k: kv.deconvnet(m, x, t, **k),
    "integrated_gradients": lambda m, x, t=None, **k: kv.integrated_gradients(m, x, t, **{"steps": 2, **k}),
    "grad_cam": lambda m, x, t=None, **k: kv.grad_cam(m, x, t, **k),
    "grad_cam_plus_plus": lambda m, x, t=None, **k: kv.grad_cam_plus_plus(m, x, t, **k),
    "guided_grad_cam": lambda m, x, t=None, **k: kv.guided_grad_cam(m, x, t, **k),
    "occlusion": lambda m, x, t=None, **k: kv.occlusion(m, x, t, **{"patch": 4, **k}),
    "deletion_auc": lambda m, x, t=None, **k: kv.deletion_auc(m, x, np.ones((2, 8, 8)), t, **{"steps": 2, **k}),
    "insertion_auc": lambda m, x, t=None, **k: kv.insertion_auc(m, x, np.ones((2, 8, 8)), t, **{"steps": 2, **k}),
    "randomization_check": lambda m, x, t=None, **k: kv.randomization_check(
        m, x, "gradient", t, **{"layers": ["head"], **k}
    ),
}

IMAGES = {  # bad-input class -> images
    "list of different shapes": [np.zeros((8, 8, 3)), np.zeros((6, 8, 3))],
    "object array": np.array([np.zeros((8, 8, 3)), None], dtype=object),
    "float64 beyond float32": np.full((1, 8, 8, 3), 1e300),
    "boolean": np.zeros((1, 8, 8, 3), bool),
    "complex": np.zeros((1, 8, 8, 3), complex),
    "empty": np.zeros((0, 8, 8, 3), np.float32),
    "wrong rank": np.zeros((8,), np.float32),
    "NaN": np.full((1, 8, 8, 3), np.nan, np.float32),
    "wrong channels": np.zeros((1, 8, 8, 1), np.float32),
    "wrong size": np.zeros((1, 9, 8, 3), np.float32),
    "None": None,
    "text": "cat.jpg",
}


@pytest.mark.parametrize("kind", list(IMAGES))
@pytest.mark.parametrize("name", list(METHODS))
def test_bad_images(model, name, kind):
    error = assert_clear_error(lambda: METHODS[name](model, IMAGES[kind]), "images")
    if kind == "float64 beyond float32":
        assert "float32" in str(error) and "NaN" not in str(error)


def _raises_inside(outputs):
    return outputs[:, 0] / undefined_name  # noqa: F821 - the user's bug this test is about


TARGETS = {
    "float": 1.5,
    "text": "cat",
    "out of range": 3,
    "below -1": -2,
    "wrong length": [0, 1, 2],
    "nested": [[0], [1]],
    "callable raising": _raises_inside,
}


@pytest.mark.parametrize("kind", list(TARGETS))
@pytest.mark.parametrize("name", list(METHODS))
def test_bad_targets(model, name, kind):
    if name == "randomization_check" and kind == "callable raising":
        pytest.skip("randomization_check passes a callable target on to the method (covered by gradient)")
    error = assert_clear_error(lambda: METHODS[name](model, X, TARGETS[kind]), "target")
    if kind == "callable raising":
        assert "NameError" in str(error) and "in your target callable" in str(error)
        assert isinstance(error.__cause__, NameError)


@pytest.mark.parametrize("output", [1, "nope", 1.0, True])
@pytest.mark.parametrize("name", list(METHODS))
def test_bad_output(model, name, output):
    assert_clear_error(lambda: METHODS[name](model, X, output=output), "output")


@pytest.mark.parametrize("name", list(METHODS))
def test_not_a_model(name):
    assert_clear_error(lambda: METHODS[name]("vgg16", X), "model")


CHUNK_NAMES = {
    "smoothgrad": "sample_batch_size",
    "integrated_gradients": "path_batch_size",
    "occlusion": "mask_batch_size",
    "deletion_auc": "mask_batch_size",
    "insertion_auc": "mask_batch_size",
}
CHUNKED = [n for n in METHODS if n != "randomization_check"]


@pytest.mark.parametrize("value", [0, 2.0, -1, "8", None])
@pytest.mark.parametrize("name", CHUNKED)
def test_bad_chunk_sizes(model, name, value):
    argument = CHUNK_NAMES.get(name, "batch_size")
    assert_clear_error(lambda: METHODS[name](model, X, **{argument: value}), argument)


@pytest.mark.parametrize(
    "name, options, argument",
    [
        ("smoothgrad", dict(samples=10**12, sample_batch_size=10**12), "sample_batch_size"),
        ("integrated_gradients", dict(steps=10**12, method="midpoint", path_batch_size=10**12), "path_batch_size"),
        ("insertion_auc", dict(steps=10**9), "steps"),  # more steps than pixels
    ],
)
def test_chunks_that_cannot_fit_in_memory_are_refused_before_any_work(model, name, options, argument):
    error = assert_clear_error(lambda: METHODS[name](model, X, **options), argument)
    assert "<=" in str(error)  # says what fits


@pytest.mark.parametrize(
    "name", [n for n in CHUNKED if n not in ("grad_cam", "grad_cam_plus_plus", "deletion_auc", "insertion_auc")]
)
def test_bad_reduce_and_progress(model, name):
    if name not in ("occlusion",):
        assert_clear_error(lambda: METHODS[name](model, X, reduce="maximum"), "reduce")
    assert_clear_error(lambda: METHODS[name](model, X, progress="yes"), "progress")


CAMS = ["grad_cam", "grad_cam_plus_plus", "guided_grad_cam"]
LAYERS = {
    "float": (1.0, "layer"),
    "empty list": ([], "layer"),
    "dict": ({"conv2": 1}, "layer"),
    "input layer name": ("input_layer", "input layer"),
    "dense": ("head", "feature map"),
    "global pooling": ("gap", "feature map"),
    "unknown": ("conv3", "conv3"),
    "index out of range": (np.int64(40), "out of range"),
}


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("name", CAMS)
def test_bad_cam_layers(model, name, kind):
    layer, match = LAYERS[kind]
    if kind == "input layer name":
        layer = model.layers[0].name
    error = assert_clear_error(lambda: METHODS[name](model, X, layer=layer), "layer")
    assert match in str(error)


SETTINGS = [  # (method, options, argument)
    ("smoothgrad", dict(noise=float("nan")), "noise"),
    ("smoothgrad", dict(noise=-0.1), "noise"),
    ("smoothgrad", dict(samples=0), "samples"),
    ("smoothgrad", dict(samples=1.5), "samples"),
    ("smoothgrad", dict(samples=1e8), "samples"),
    ("smoothgrad", dict(seed=-1), "seed"),
    ("smoothgrad", dict(squared="yes"), "squared"),
    ("smoothgrad", dict(batch_size=2, sample_batch_size=2), "sample_batch_size"),
    ("smoothgrad", dict(bogus=1), "bogus"),
    ("integrated_gradients", dict(steps=0), "steps"),
    ("integrated_gradients", dict(steps=1e8), "steps"),
    ("integrated_gradients", dict(steps=10**6), "steps"),  # Gauss-Legendre tables beyond 4096 nodes
    ("integrated_gradients", dict(method="simpson"), "method"),
    ("integrated_gradients", dict(baseline="gray"), "baseline"),
    ("integrated_gradients", dict(baseline=float("nan")), "baseline"),
    ("integrated_gradients", dict(baseline=np.full((8, 8, 3), np.nan)), "baseline"),
    ("integrated_gradients", dict(baseline=np.zeros((5, 5, 3))), "baseline"),
    ("integrated_gradients", dict(baseline=np.zeros((3, 8, 8, 3))), "baseline"),
    ("integrated_gradients", dict(baseline=True), "baseline"),
    ("integrated_gradients", dict(n_baselines=0), "n_baselines"),
    ("integrated_gradients", dict(n_baselines=4), "n_baselines"),  # without baseline="uniform"
    ("integrated_gradients", dict(baseline="blur", blur_sigma=-1.0), "blur_sigma"),
    ("occlusion", dict(patch=0), "patch"),
    ("occlusion", dict(patch=2.5), "patch"),
    ("occlusion", dict(patch=20), "patch"),
    ("occlusion", dict(patch=(2, 2, 2)), "patch"),
    ("occlusion", dict(patch=2, stride=3), "stride"),
    ("occlusion", dict(baseline=float("nan")), "baseline"),
    ("occlusion", dict(baseline="median"), "baseline"),
    ("occlusion", dict(baseline=np.zeros((4, 4, 3))), "baseline"),
    ("deletion_auc", dict(steps=0), "steps"),
    ("deletion_auc", dict(steps=2.0), "steps"),
    ("deletion_auc", dict(substrate=float("nan")), "substrate"),
    ("deletion_auc", dict(substrate="noise"), "substrate"),
    ("deletion_auc", dict(substrate=np.zeros((3, 3))), "substrate"),
    ("deletion_auc", dict(substrate="blur", blur_sigma=0.0), "blur_sigma"),
    ("deletion_auc", dict(return_curves="yes"), "return_curves"),
    ("insertion_auc", dict(steps=-3), "steps"),
    ("randomization_check", dict(layers=["pool"]), "layers"),  # no weights: similarity would read 1.0
    ("randomization_check", dict(layers=[]), "layers"),
    ("randomization_check", dict(layers=[2.0]), "layers"),
    ("randomization_check", dict(method_kwargs=[1]), "method_kwargs"),
    ("randomization_check", dict(seed=1.5), "seed"),
    ("randomization_check", dict(independent="no"), "independent"),
]


@pytest.mark.parametrize(
    "name, options, argument", SETTINGS, ids=[f"{n}-{a}-{i}" for i, (n, _, a) in enumerate(SETTINGS)]
)
def test_settings_that_make_no_sense(model, name, options, argument):
    assert_clear_error(lambda: METHODS[name](model, X, **options), argument)


@pytest.mark.parametrize(
    "maps", [np.ones((2, 7, 8)), np.full((2, 8, 8), np.nan), None, np.ones((2, 8, 8), bool), "saliency"]
)
@pytest.mark.parametrize("fn", [kv.deletion_auc, kv.insertion_auc])
def test_bad_maps_for_metrics(model, fn, maps):
    assert_clear_error(lambda: fn(model, X, maps, steps=2), "maps")


@pytest.mark.parametrize("method", ["anchors", 3, None])
def test_bad_randomization_method(model, method):
    assert_clear_error(lambda: kv.randomization_check(model, X, method), "method")
