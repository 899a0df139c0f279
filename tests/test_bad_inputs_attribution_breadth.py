"""Bad input to the CAM variants, black-box methods and faithfulness metrics: clear kerasviz errors."""

import keras
import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import small_cnn

MODEL = small_cnn(seed=2)
X = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
MAPS = np.random.default_rng(1).uniform(0, 1, (2, 16, 16)).astype("float32")
SEGMENTS = np.arange(256).reshape(16, 16) // 64


def two_outputs():
    inputs = keras.Input((16, 16, 3))
    g = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="c")(inputs))
    return keras.Model(inputs, [keras.layers.Dense(2, name="a")(g), keras.layers.Dense(3, name="b")(g)])


TWO = two_outputs()
CAMS = ["score_cam", "ablation_cam", "hires_cam", "xgrad_cam", "layer_cam", "eigen_cam"]
MAP_METHODS = CAMS + ["gradient_x_input", "vargrad", "rise", "lime", "kernel_shap", "sobol_attribution"]
QUIET = {"score_cam", "ablation_cam", "vargrad", "rise", "lime", "kernel_shap", "sobol_attribution"}


def run(name, model=MODEL, images=X, target=None, **kwargs):
    if name in QUIET:
        kwargs.setdefault("progress", False)
    if name in ("lime", "kernel_shap"):
        kwargs.setdefault("segments", SEGMENTS)
    return lambda: getattr(kv, name)(model, images, target, **kwargs)


# one row per (method, bad-input class) shared by every map method
SHARED = [
    ("images", dict(images=X[..., :2])),  # wrong channel count
    ("images", dict(images=np.full_like(X, np.nan))),
    ("images", dict(images=X[0, 0])),  # wrong rank
    ("target", dict(target=99)),
    ("target", dict(target=[1, 2, 3])),
    ("target", dict(target=1.5)),
    ("output", dict(model=TWO)),  # several outputs, none chosen
    ("output", dict(model=TWO, output="nope")),
    ("output", dict(model=TWO, output=5)),
]


@pytest.mark.parametrize("name", MAP_METHODS)
@pytest.mark.parametrize("argument, call", SHARED, ids=[f"{a}-{i}" for i, (a, _) in enumerate(SHARED)])
def test_every_map_method_rejects_bad_shared_arguments(name, argument, call):
    assert_clear_error(run(name, **call), argument)


SPECIFIC = [
    ("layer", "hires_cam", dict(layer="head")),  # a Dense layer, not a feature map
    ("layer", "score_cam", dict(layer="no_such_layer")),
    ("layer", "eigen_cam", dict(layer=True)),
    ("batch_size", "layer_cam", dict(batch_size=0)),
    ("batch_size", "xgrad_cam", dict(batch_size=2.0)),
    ("mask_batch_size", "score_cam", dict(mask_batch_size=0)),
    ("mask_batch_size", "ablation_cam", dict(mask_batch_size=-3)),
    ("weighting", "score_cam", dict(weighting="max")),
    ("max_channels", "score_cam", dict(max_channels=0)),
    ("reduce", "gradient_x_input", dict(reduce="median")),
    ("noise", "vargrad", dict(noise=float("nan"))),
    ("noise", "vargrad", dict(noise=0.0)),
    ("samples", "vargrad", dict(samples=1)),
    ("seed", "vargrad", dict(seed=-1)),
    ("sample_batch_size", "vargrad", dict(sample_batch_size=0)),
    ("samples", "rise", dict(samples=0)),
    ("samples", "rise", dict(samples=10.0)),
    ("grid_size", "rise", dict(grid_size=0)),
    ("grid_size", "rise", dict(grid_size=40)),
    ("keep_probability", "rise", dict(keep_probability=0.0)),
    ("keep_probability", "rise", dict(keep_probability=1.5)),
    ("normalization", "rise", dict(normalization="max")),
    ("baseline", "rise", dict(baseline="zeros")),
    ("baseline", "rise", dict(baseline=np.zeros((3, 3)))),
    ("baseline", "rise", dict(baseline=float("inf"))),
    ("segments", "lime", dict(segments=SEGMENTS.astype(float))),
    ("segments", "kernel_shap", dict(segments=SEGMENTS[:8])),
    ("kernel_width", "lime", dict(kernel_width=0)),
    ("alpha", "lime", dict(alpha=-1.0)),
    ("samples", "kernel_shap", dict(samples=1)),
    ("n_segments", "lime", dict(segments=None, n_segments=0)),
    ("baseline", "kernel_shap", dict(baseline="segment_means")),
    ("designs", "sobol_attribution", dict(designs=12)),
    ("designs", "sobol_attribution", dict(designs=1)),
    ("grid_size", "sobol_attribution", dict(grid_size=17)),
    ("mask_batch_size", "sobol_attribution", dict(mask_batch_size=0)),
]


@pytest.mark.parametrize("argument, name, call", SPECIFIC, ids=[f"{n}-{a}-{i}" for i, (a, n, _) in enumerate(SPECIFIC)])
def test_method_settings_are_checked(argument, name, call):
    assert_clear_error(run(name, **call), argument)


METRICS = [
    ("maps", lambda: kv.mu_fidelity(MODEL, X, MAPS[:, :8], progress=False)),
    ("maps", lambda: kv.average_drop(MODEL, X, np.full_like(MAPS, np.nan))),
    ("maps", lambda: kv.infidelity(MODEL, X, MAPS[:1])),
    ("maps", lambda: kv.mu_fidelity(MODEL, X, MAPS.astype(object), progress=False)),
    ("subset_fraction", lambda: kv.mu_fidelity(MODEL, X, MAPS, subset_fraction=0, progress=False)),
    ("grid_size", lambda: kv.mu_fidelity(MODEL, X, MAPS, grid_size=0, progress=False)),
    ("correlation", lambda: kv.mu_fidelity(MODEL, X, MAPS, correlation="kendall", progress=False)),
    ("samples", lambda: kv.mu_fidelity(MODEL, X, MAPS, samples=1, progress=False)),
    ("baseline", lambda: kv.average_drop(MODEL, X, MAPS, baseline="noise")),
    ("target", lambda: kv.average_drop(MODEL, X, MAPS, 7)),
    ("output", lambda: kv.infidelity(TWO, X, MAPS)),
    ("noise", lambda: kv.infidelity(MODEL, X, MAPS, noise=-0.1)),
    ("samples", lambda: kv.infidelity(MODEL, X, MAPS, samples=0)),
    ("radius", lambda: kv.max_sensitivity(MODEL, X, "gradient_x_input", radius=0)),
    ("method", lambda: kv.max_sensitivity(MODEL, X, "no_such_method")),
    ("tolerance", lambda: kv.pointing_game(MAPS, MAPS > 0.5, tolerance=-1)),
    ("ground_truth", lambda: kv.pointing_game(MAPS, np.zeros((2, 16, 16), bool))),
    ("ground_truth", lambda: kv.pointing_game(MAPS, [[(0, 0, 40, 4)], [(0, 0, 4, 4)]])),
    ("ground_truth", lambda: kv.pointing_game(MAPS, "boxes")),
    ("classes", lambda: kv.pointing_game(MAPS, MAPS > 0.5, classes=[1, 2, 3])),
    ("maps", lambda: kv.pointing_game(np.full_like(MAPS, np.nan), MAPS > 0.5)),
    ("methods", lambda: kv.attribution_metrics(MODEL, X, {})),
    ("metrics", lambda: kv.attribution_metrics(MODEL, X, {"m": MAPS}, metrics=["accuracy"])),
    ("ground_truth", lambda: kv.attribution_metrics(MODEL, X, {"m": MAPS}, metrics=["pointing_game"])),
    ("method", lambda: kv.attribution_metrics(MODEL, X, {"m": "unknown_method"}, metrics=["mu_fidelity"])),
    ("n_segments", lambda: kv.superpixels(X, n_segments=0)),
]


@pytest.mark.parametrize("argument, call", METRICS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(METRICS)])
def test_metric_arguments_are_checked(argument, call):
    assert_clear_error(call, argument)
