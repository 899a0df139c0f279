"""Faithfulness and robustness metrics: closed forms on linear models, literal formulas, oracle vs random."""

import keras
import numpy as np
import pytest
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.attribution.faithfulness import metric_noise
from kerasviz.testing import small_cnn, unchanged

SHAPE = (6, 6, 2)


@pytest.fixture(scope="module")
def linear():
    """Logits (f(x), 0) with f(x) = w . x + c: class 0's probability is sigmoid(f), monotone in f."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(keras.layers.Flatten()(inputs)))
    kernel = model.get_layer("dense").kernel.numpy()
    kernel[:, 1] = 0
    model.get_layer("dense").set_weights([kernel, np.array([0.2, 0.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).uniform(0.2, 1, (4,) + SHAPE).astype("float32")


def weights(model):
    return model.get_layer("dense").kernel.numpy()[:, 0].reshape(SHAPE).astype(np.float64)


def logit(model, images):
    return kv.core.gradients.model_outputs(model, images)[:, 0].astype(np.float64)


def test_mu_fidelity_of_the_exact_map_of_a_linear_model_is_one(linear, x):
    baseline = 0.1
    exact = weights(linear) * (x - baseline)
    for correlation in ("spearman", "pearson"):
        got = kv.mu_fidelity(
            linear, x, exact, 0, baseline=baseline, samples=40, correlation=correlation, progress=False
        )
        np.testing.assert_allclose(got, 1.0, atol=1e-5)
        flipped = kv.mu_fidelity(
            linear, x, -exact, 0, baseline=baseline, samples=40, correlation=correlation, progress=False
        )
        np.testing.assert_allclose(flipped, -1.0, atol=1e-5)
    noisy = kv.mu_fidelity(linear, x, np.random.default_rng(1).normal(size=x.shape), 0, samples=40, progress=False)
    assert np.all(np.abs(noisy) < 0.7)


def test_average_drop_is_the_literal_formula_and_zero_for_a_full_mask(linear, x):
    maps = np.random.default_rng(2).uniform(-1, 1, x.shape[:3])
    result = kv.average_drop(linear, x, maps, 0, probabilities=False)
    mask = (maps - maps.min((1, 2), keepdims=True)) / np.ptp(maps, axis=(1, 2), keepdims=True)
    y, o = logit(linear, x), logit(linear, (x * mask[..., None]).astype("float32"))
    np.testing.assert_allclose(result.masked_scores, o, rtol=1e-5)
    np.testing.assert_allclose(result.drop, np.where(y > 0, np.maximum(y - o, 0) / y, np.nan), rtol=1e-5)
    np.testing.assert_array_equal(result.increase, o > y)
    with pytest.warns(UserWarning, match="constant"):
        full = kv.average_drop(linear, x, np.ones(x.shape[:3]), 0)
    assert full.average_drop == 0 and full.average_increase == 0


def test_pointing_game_hits_by_distance_and_averages_over_classes():
    maps = np.zeros((3, 40, 40))
    maps[0, 10, 10] = maps[1, 10, 20] = maps[2, 30, 30] = 1
    boxes = [[(8, 8, 13, 13)], [(8, 8, 13, 13)], [(8, 8, 13, 13), (29, 29, 32, 32)]]  # x0, y0, x1, y1 (exclusive)
    at_zero = kv.pointing_game(maps, boxes, tolerance=0)
    np.testing.assert_array_equal(at_zero.hits, [True, False, True])  # the point (10, 20) is 8 px right of the box
    assert not kv.pointing_game(maps, boxes, tolerance=8).hits[1]  # distance 8 is not < 8
    assert kv.pointing_game(maps, boxes, tolerance=8.01).hits[1]
    masks = np.zeros((3, 40, 40), bool)
    masks[:, 8:13, 8:13] = True
    masks[2, 29:32, 29:32] = True
    np.testing.assert_array_equal(kv.pointing_game(maps, masks, tolerance=0).hits, at_zero.hits)
    per_class = kv.pointing_game(maps, boxes, tolerance=0, classes=[0, 0, 1])
    assert (
        per_class.per_class == {0: 0.5, 1: 1.0}
        and per_class.accuracy == 0.75
        and at_zero.accuracy == pytest.approx(2 / 3)
    )
    assert kv.pointing_game(maps, boxes).tolerance == pytest.approx(15 * 40 / 224)


def test_infidelity_is_zero_for_exact_maps_and_the_literal_formula_otherwise(linear, x):
    w = weights(linear)
    scale = np.abs(logit(linear, x)).max()
    assert kv.infidelity(linear, x, np.broadcast_to(w, x.shape), 0).max() < 1e-8 * scale**2
    gxi = kv.gradient_x_input(linear, x, 0)
    assert kv.infidelity(linear, x, gxi, 0, multiply_by_inputs=True).max() < 1e-8 * scale**2
    maps = np.random.default_rng(3).normal(size=x.shape)
    got = kv.infidelity(linear, x, maps, 0, noise=0.2, samples=6, seed=4)
    noise = metric_noise(6, SHAPE, 4) * 0.2 * np.ptp(x.reshape(4, -1), axis=1)[:, None, None, None, None]
    delta = (noise * w).sum((2, 3, 4))  # f(x) - f(x - I) = w . I
    expected = (((noise * maps[:, None]).sum((2, 3, 4)) - delta) ** 2).mean(1)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    beta = ((noise * maps[:, None]).sum((2, 3, 4)) * delta).mean(1) / (
        (noise * maps[:, None]).sum((2, 3, 4)) ** 2
    ).mean(1)
    normalized = kv.infidelity(linear, x, maps, 0, noise=0.2, samples=6, seed=4, normalize=True)
    np.testing.assert_allclose(
        normalized, (((noise * maps[:, None]).sum((2, 3, 4)) * beta[:, None] - delta) ** 2).mean(1), rtol=1e-4
    )


def test_max_sensitivity_of_gradient_x_input_on_a_linear_model_is_exact(linear, x):
    w = weights(linear)
    got = kv.max_sensitivity(linear, x, "gradient_x_input", 0, radius=0.05, samples=7, seed=2)
    deltas = (
        metric_noise(7, SHAPE, 2, kind="uniform") * 0.05 * np.ptp(x.reshape(4, -1), axis=1)[:, None, None, None, None]
    )
    expected = np.linalg.norm((w * deltas).reshape(4, 7, -1), axis=2).max(1) / np.linalg.norm(
        (w * x).reshape(4, -1), axis=1
    )
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    assert kv.max_sensitivity(linear, x, kv.gradient, 0).max() < 1e-6  # the gradient of a linear model never moves
    bound = 0.05 * np.ptp(x.reshape(4, -1), axis=1) * np.linalg.norm(w) / np.linalg.norm((w * x).reshape(4, -1), axis=1)
    assert np.all(got <= bound)


def test_an_oracle_map_beats_a_random_map_on_every_metric(linear, x):
    w = weights(linear)
    signs = np.where(np.random.default_rng(6).random(SHAPE) < 0.4, -1.0, 1.0)
    model = keras.models.clone_model(linear)
    model.set_weights(linear.get_weights())
    kernel = np.stack([(np.abs(w) * signs).ravel(), np.zeros(w.size)], 1)
    model.get_layer("dense").kernel.assign(kernel.astype("float32"))  # mixed signs
    oracle = lambda m, images, t, **k: weights(m) * np.asarray(images)  # exact contributions w * (x - 0)
    rng = np.random.default_rng(6)
    noise = lambda m, images, t, **k: rng.normal(size=np.shape(images))  # a fresh random map at every call
    gt = oracle(model, x, 0).sum(-1) >= np.sort(oracle(model, x, 0).sum(-1).reshape(4, -1), 1)[:, -3][:, None, None]
    with unchanged(model, x), global_state_unchanged():
        table = kv.attribution_metrics(
            model,
            x,
            {"oracle": oracle, "random": noise},
            0,
            ground_truth=gt,
            progress=False,
            options={
                "insertion": {"substrate": 0.0},
                "infidelity": {"multiply_by_inputs": True},
                "mu_fidelity": {"samples": 30},
            },
        )
    assert table.metrics == list(kv.attribution.metrics_table.METRICS)
    for metric in table.metrics:
        o, r = table.value("oracle", metric), table.value("random", metric)
        assert (o > r) if table.higher_is_better[metric] else (o < r), (metric, o, r)
    assert set(table.best().values()) == {"oracle"}
    assert "oracle" in repr(table) and "<table>" in table._repr_html_()
    fig = kv.plot_metrics_table(table, title="linear model")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 2 * len(table.metrics) and f"{table.value('oracle', 'mu_fidelity'):.3g}" in texts


def test_precomputed_maps_skip_max_sensitivity_and_batch_equals_single(x):
    model = small_cnn(input_shape=SHAPE, seed=1)
    maps = kv.gradient_x_input(model, x, reduce="sum")
    table = kv.attribution_metrics(
        model,
        x,
        {"gxi": maps, "saliency": "saliency"},
        metrics=["mu_fidelity", "max_sensitivity"],
        options={"mu_fidelity": {"samples": 12}},
        progress=False,
    )
    assert np.isnan(table.value("gxi", "max_sensitivity")) and not np.isnan(table.value("saliency", "max_sensitivity"))
    batch = kv.mu_fidelity(model, x, maps, samples=12, progress=False)
    assert isinstance(kv.mu_fidelity(model, x[1], maps[1], samples=12, progress=False), float)
    np.testing.assert_allclose(batch[1], kv.mu_fidelity(model, x[1], maps[1], samples=12, progress=False), atol=1e-5)
    np.testing.assert_allclose(kv.infidelity(model, x, maps)[2], kv.infidelity(model, x[2], maps[2]), rtol=1e-5)
    np.testing.assert_allclose(
        kv.average_drop(model, x, maps).drop[3], kv.average_drop(model, x[3], maps[3]).drop, rtol=1e-5
    )
