"""Feature visualization in bfloat16, under a mixed policy, with callbacks, a cost model and multi-output models."""

import inspect
import warnings

import keras
import numpy as np
import pytest
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.featurevis import objectives as O
from kerasviz.testing import small_cnn, unchanged

FAST = dict(size=16, progress=False)
PROBE = np.zeros((1, 16, 16, 3), "float32")


@pytest.fixture(autouse=True)
def full_steps(monkeypatch):
    monkeypatch.delenv("KERASVIZ_QUICK", raising=False)


def test_bfloat16_reaches_the_float32_objective(cnn):
    """Same seeds: bfloat16 reaches the float32 objective within 5 % (mean over the layer's filters)."""
    with unchanged(cnn, PROBE), global_state_unchanged():
        half = kv.visualize_filters(cnn, "conv2", steps=40, precision="bfloat16", **FAST)
    full = kv.visualize_filters(cnn, "conv2", steps=40, precision="float32", **FAST)
    assert half.precision == "bfloat16" and full.precision == "float32"
    for field in ("images", "scores", "initial_scores", "history"):
        assert getattr(half, field).dtype == np.float32
    np.testing.assert_array_equal(half.initial_scores, full.initial_scores)  # the same start, measured in float32
    assert abs(half.scores.mean() / full.scores.mean() - 1) < 0.05, (half.scores.mean(), full.scores.mean())
    assert np.all(half.scores >= half.initial_scores) and (half.scores > half.initial_scores).mean() > 0.8


def test_scores_are_measured_in_float32_on_the_final_images(cnn):
    """The reported score is the channel mean of the returned image, recomputed by an independent float32 pass."""
    result = kv.visualize_filters(cnn, "conv2", [2, 7], steps=12, precision="bfloat16", **FAST)
    acts = kv.activations(cnn, result.images, ["conv2"])["conv2"]
    expected = acts[np.arange(2), ..., result.filters].reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=1e-6)


def test_mixed_float16_model(cnn):
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        mixed = small_cnn(input_shape=(None, None, 3), softmax=False, name="mixed_fcn")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    photo = kv.sample_image("cat", 24)
    with unchanged(mixed, PROBE), global_state_unchanged():
        filters = kv.visualize_filters(mixed, "conv2", [0, 1], steps=6, precision="float32", **FAST)
        classes = kv.visualize_classes(mixed, [1], steps=6, precision="bfloat16", **FAST)
        dream = kv.deep_dream(mixed, photo, "conv1", octaves=2, steps=2, progress=False)
        inversion = kv.invert(mixed, photo, "conv1", steps=6, progress=False)
    for array in (filters.images, filters.scores, classes.scores, dream.images, inversion.images, inversion.errors):
        assert array.dtype == np.float32 and np.isfinite(array).all()
    assert keras.config.dtype_policy().name == "float32"


def test_dream_and_inversion_in_bfloat16_match_float32():
    fcn = small_cnn(input_shape=(None, None, 3), softmax=False, name="fcn_bf16")
    photo = kv.sample_image("cat", 32)
    with unchanged(fcn, PROBE), global_state_unchanged():
        inv = {
            p: kv.invert(fcn, photo, "conv2", steps=60, progress=False, precision=p) for p in ("float32", "bfloat16")
        }
        dream = {
            p: kv.deep_dream(fcn, photo, "conv2", octaves=2, steps=4, progress=False, precision=p)
            for p in ("float32", "bfloat16")
        }
    assert inv["bfloat16"].precision == "bfloat16" and inv["bfloat16"].errors.dtype == np.float32
    assert abs(inv["bfloat16"].errors[0] - inv["float32"].errors[0]) < 0.05 * inv["float32"].history[0, 0]
    gain = {p: d.losses[-1][-1, 0] / d.losses[0][0, 0] for p, d in dream.items()}
    assert abs(gain["bfloat16"] / gain["float32"] - 1) < 0.05, gain


def test_callback_streams_snapshots(cnn):
    snapshots = []
    result = kv.visualize_filters(
        cnn,
        "conv2",
        [0, 3, 5],
        steps=10,
        callback=snapshots.append,
        callback_every=4,
        filter_batch_size=2,
        precision="float32",
        **FAST,
    )
    assert [(s.step, tuple(s.units)) for s in snapshots] == [
        (4, (0, 3)),
        (8, (0, 3)),
        (10, (0, 3)),
        (4, (5,)),
        (8, (5,)),
        (10, (5,)),
    ]
    assert snapshots[0].images.shape == (2, 16, 16, 3) and snapshots[0].images.dtype == np.float32
    assert snapshots[-1].fraction == 1.0 and 0 < snapshots[0].fraction < snapshots[1].fraction
    np.testing.assert_allclose(snapshots[2].images, result.images[:2], atol=1e-6)  # the last snapshot is the result
    np.testing.assert_allclose(snapshots[-1].images, result.images[2:], atol=1e-6)


def test_filter_chunks_do_not_change_images(cnn):
    one = kv.visualize_filters(cnn, "conv2", [1, 4, 9, 12, 15], steps=6, precision="float32", **FAST)
    chunked = kv.visualize_filters(
        cnn, "conv2", [1, 4, 9, 12, 15], steps=6, precision="float32", filter_batch_size=2, **FAST
    )
    np.testing.assert_allclose(chunked.images, one.images, atol=1e-4)
    from kerasviz.featurevis.settings import default_batch

    assert default_batch((1024, 1024), (None, None)) == 1 and default_batch((128, 128), (None, None)) == 32


def test_estimate_seconds_scales_with_the_work(cnn):
    base = kv.estimate_seconds(cnn, "conv2", [0, 1], steps=10, size=16, precision="float32")
    assert base > 0
    assert kv.estimate_seconds(cnn, "conv2", [0, 1], steps=20, size=16, precision="float32") == pytest.approx(2 * base)
    assert kv.estimate_seconds(cnn, "conv2", [0, 1, 2, 3], steps=10, size=16, precision="float32") == pytest.approx(
        2 * base
    )
    assert kv.estimate_seconds(cnn, "conv1", [0, 1], steps=10, size=16, precision="float32") < base
    assert kv.estimate_seconds(cnn, None, [0, 1], steps=10, size=16, precision="float32") > base  # the whole model
    fcn = small_cnn(input_shape=(None, None, 3), name="fcn_cost")
    small = kv.estimate_seconds(fcn, "conv2", [0], steps=10, size=32, precision="float32")
    assert kv.estimate_seconds(fcn, "conv2", [0], steps=10, size=64, precision="float32") == pytest.approx(
        4 * small, rel=0.01
    )


def test_visualize_classes_on_a_multi_output_model():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(
        inputs, [keras.layers.Dense(3, name="cls")(x), keras.layers.Dense(5, activation="softmax", name="aux")(x)]
    )
    with pytest.raises(kv.InvalidArgumentError, match="output"):
        kv.visualize_classes(model, [0], steps=3, **FAST)
    result = kv.visualize_classes(model, [4, 1], output="aux", steps=8, precision="float32", **FAST)
    logits_model = keras.Model(
        inputs, model.get_layer("aux").input @ model.get_layer("aux").kernel + model.get_layer("aux").bias
    )
    logits = logits_model.predict(result.images, verbose=0)
    np.testing.assert_allclose(result.scores, logits[[0, 1], [4, 1]], rtol=1e-4, atol=1e-5)


def test_old_names_keep_working_with_a_warning(cnn):
    import kerasviz.featurevis.render as render_module

    assert inspect.ismodule(render_module) and inspect.ismodule(kv.featurevis.render)
    assert render_module.input_mapping is kv.featurevis.inputs.input_mapping
    with pytest.warns(DeprecationWarning, match="render_objective"):
        old = kv.render(cnn, O.channel("conv2"), [1], steps=3, precision="float32", **FAST)
    new = kv.render_objective(cnn, O.channel("conv2"), [1], steps=3, precision="float32", **FAST)
    np.testing.assert_array_equal(old.images, new.images)
    with pytest.warns(DeprecationWarning, match="preprocessing"):
        kv.visualize_filters(cnn, "conv2", [1], steps=2, preprocess=(0, 1), **FAST)
    with pytest.warns(DeprecationWarning, match="filter_batch_size"):
        kv.visualize_filters(cnn, "conv2", [1], steps=2, batch_size=1, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = kv.visualize_filters(cnn, "conv2", [1], steps=2, preprocessing=(0, 1), **FAST)
    assert np.asarray(result).shape == result.shape == (1, 16, 16, 3) and result[0].shape == (16, 16, 3)
