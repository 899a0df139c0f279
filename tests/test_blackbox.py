"""Black-box attributions (RISE, LIME, KernelSHAP): literal formulas and closed forms on linear models."""

import itertools
from math import factorial

import keras
import numpy as np
import pytest
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.attribution.blackbox.surrogates import weighted_ridge
from kerasviz.testing import small_cnn, unchanged

H, W, C = 6, 12, 2


def logits(model, images):
    return kv.core.gradients.model_outputs(model, images).astype(np.float64)


def segment_mean_model(labels, seed=0, classes=3):
    """f_k(x) = sum_m sum_c v[m, c, k] * mean over segment m of x_c (+ bias): linear in segment means."""
    rng = np.random.default_rng(seed)
    m = labels.max() + 1
    v = rng.normal(size=(m, C, classes))
    counts = np.bincount(labels.ravel(), minlength=m)
    kernel = (v[labels] / counts[labels][..., None, None]).reshape(-1, classes)
    inputs = keras.Input((H, W, C))
    model = keras.Model(inputs, keras.layers.Dense(classes, name="dense")(keras.layers.Flatten()(inputs)))
    model.get_layer("dense").set_weights([kernel.astype("float32"), rng.normal(size=classes).astype("float32")])
    return model, v


def contributions(v, labels, image, baseline, k):
    """a_m = sum_c v[m, c, k] * mean over segment m of (x_c - b_c)."""
    m = labels.max() + 1
    diff = (image - baseline).reshape(-1, C)
    means = np.stack(
        [np.bincount(labels.ravel(), diff[:, c], m) / np.bincount(labels.ravel(), None, m) for c in range(C)], -1
    )
    return (means * v[:, :, k]).sum(1)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(0, 1, (2, H, W, C)).astype("float32")


STRIPES = np.tile(np.arange(W) // 2, (H, 1))  # 6 segments


# ---------------------------------------------------------------- KernelSHAP and LIME


@pytest.mark.parametrize("labels, samples", [(STRIPES, None), (np.tile(np.arange(W), (H, 1)), 300)])
def test_kernel_shap_gives_each_segment_its_linear_contribution_and_is_efficient(images, labels, samples):
    model, v = segment_mean_model(labels)
    baseline = 0.25
    phi = kv.kernel_shap(model, images, [2, 0], segments=labels, baseline=baseline, samples=samples, progress=False)
    for i, k in enumerate([2, 0]):
        a = contributions(v, labels, images[i], baseline, k)
        np.testing.assert_allclose(phi.coefficients[i], a, atol=1e-5)
        np.testing.assert_allclose(np.asarray(phi)[i], a[labels], atol=1e-5)
        f_x, f_b = (
            logits(model, images[i : i + 1])[0, k],
            logits(model, np.full((1, H, W, C), baseline, "float32"))[0, k],
        )
        np.testing.assert_allclose(phi.coefficients[i].sum(), f_x - f_b, atol=1e-5)
        np.testing.assert_allclose(
            [phi.scores[i], phi.baseline_scores[i], phi.intercept[i]], [f_x, f_b, f_b], atol=1e-5
        )


def test_kernel_shap_enumeration_equals_brute_force_shapley_values_of_a_nonlinear_cnn():
    model = small_cnn(input_shape=(8, 8, 3), seed=2, softmax=False)
    image = np.random.default_rng(4).uniform(0, 1, (8, 8, 3)).astype("float32")
    labels = (np.arange(8)[:, None] // 4) * 2 + np.arange(8)[None] // 4  # 4 quadrants
    m = 4

    def value(coalition):
        on = np.isin(labels, list(coalition))[..., None]
        return logits(model, (image * on)[None])[0, 1]

    expected = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            for subset in itertools.combinations(others, size):
                weight = factorial(size) * factorial(m - size - 1) / factorial(m)
                expected[i] += weight * (value(subset + (i,)) - value(subset))
    phi = kv.kernel_shap(model, image, 1, segments=labels, progress=False)
    np.testing.assert_allclose(phi.coefficients, expected, atol=1e-5)
    assert phi.maps.shape == (8, 8)


def test_lime_recovers_the_linear_coefficients(images):
    model, v = segment_mean_model(STRIPES, seed=3)
    exact = kv.lime(model, images, 1, segments=STRIPES, alpha=0.0, samples=200, progress=False)
    shrunk = kv.lime(model, images, 1, segments=STRIPES, alpha=1.0, samples=200, progress=False)
    for i in range(2):
        a = contributions(v, STRIPES, images[i], 0.0, 1)
        np.testing.assert_allclose(exact.coefficients[i], a, atol=1e-5)
        np.testing.assert_allclose(
            exact.intercept[i], logits(model, np.zeros((1, H, W, C), "float32"))[0, 1], atol=1e-5
        )
        # the ridge penalty shrinks the coefficients a little, keeping their pattern
        assert np.linalg.norm(shrunk.coefficients[i]) < np.linalg.norm(a)
        assert np.linalg.norm(shrunk.coefficients[i] - a) < 0.3 * np.linalg.norm(a)
        assert np.corrcoef(shrunk.coefficients[i], a)[0, 1] > 0.95


def test_weighted_ridge_matches_scikit_learn():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    z, y, w = rng.integers(0, 2, (60, 5)).astype(float), rng.normal(size=60), rng.uniform(0.1, 1, 60)
    for alpha in (0.0, 1.0, 3.0):
        reference = Ridge(alpha=alpha if alpha else 1e-12).fit(z, y, sample_weight=w)
        intercept, coef = weighted_ridge(z, y, w, alpha)
        np.testing.assert_allclose(coef, reference.coef_, atol=1e-8)
        np.testing.assert_allclose(intercept, reference.intercept_, atol=1e-8)


def test_segment_mean_baseline_is_blind_to_a_model_of_segment_means(images):
    model, _ = segment_mean_model(STRIPES)
    for method in (kv.lime, kv.kernel_shap):
        e = method(
            model,
            images,
            0,
            segments=STRIPES,
            baseline="segment_mean",
            progress=False,
            **({"alpha": 0.0, "samples": 100} if method is kv.lime else {}),
        )
        assert np.abs(np.asarray(e)).max() < 1e-5


def test_superpixels_label_each_image_from_zero():
    photo = kv.sample_image(size=64).astype("float32")
    labels = kv.superpixels(photo, n_segments=20)
    assert labels.shape == (64, 64) and labels.min() == 0 and 5 < labels.max() + 1 < 60
    assert set(np.unique(labels)) == set(range(labels.max() + 1))
    assert kv.superpixels(np.stack([photo, photo[::-1]]), n_segments=20).shape == (2, 64, 64)


# ---------------------------------------------------------------- RISE


def test_rise_is_the_literal_mask_weighted_average(images):
    model, _ = segment_mean_model(STRIPES)
    masks = kv.attribution.blackbox.rise_masks(20, (H, W), grid_size=3, keep_probability=0.4, seed=5)
    assert masks.shape == (20, H, W) and 0 <= masks.min() and masks.max() <= 1
    baseline = 0.5
    for normalization in ("expected", "observed"):
        got = kv.rise(
            model,
            images,
            1,
            samples=20,
            grid_size=3,
            keep_probability=0.4,
            seed=5,
            baseline=baseline,
            normalization=normalization,
            mask_batch_size=7,
            progress=False,
        )
        for i in range(2):
            rows = images[i] * masks[..., None] + baseline * (1 - masks[..., None])
            scores = logits(model, rows)[:, 1]
            total = np.einsum("k,khw->hw", scores, masks)
            expected = total / (20 * 0.4) if normalization == "expected" else total / np.maximum(masks.sum(0), 1e-4)
            np.testing.assert_allclose(got[i], expected, rtol=1e-4, atol=1e-5)


def test_rise_on_a_linear_model_approaches_the_weights_as_masks_grow():
    """Pixel masks (grid_size = side): E S = f(b) + p sum w(x - b) + (1 - p) sum_c w(x - b)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(keras.layers.Flatten()(inputs)))
    image = np.random.default_rng(2).uniform(0.5, 1, (8, 8, 1)).astype("float32")
    wx = (model.get_layer("dense").kernel.numpy()[:, 0].reshape(8, 8, 1) * image).sum(-1)
    p, bias = 0.5, model.get_layer("dense").bias.numpy()[0]
    expected = bias + p * wx.sum() + (1 - p) * wx
    errors = []
    for samples in (500, 20000):
        got = kv.rise(
            model,
            image,
            0,
            samples=samples,
            grid_size=8,
            keep_probability=p,
            seed=1,
            mask_batch_size=256,
            progress=False,
        )
        errors.append(np.linalg.norm(got - expected) / np.linalg.norm(expected - expected.mean()))
        if samples == 20000:
            assert np.corrcoef(got.ravel(), wx.ravel())[0, 1] > 0.99
            slope = np.polyfit(wx.ravel(), got.ravel(), 1)[0]
            assert abs(slope - (1 - p)) < 0.05
    assert errors[1] < errors[0] / 3 and errors[1] < 0.15, errors


# ---------------------------------------------------------------- shared behaviour

BLACKBOX = {
    "rise": dict(samples=24, grid_size=4),
    "lime": dict(samples=24, segments=np.arange(16 * 16).reshape(16, 16) // 64),
    "kernel_shap": dict(segments=np.arange(16 * 16).reshape(16, 16) // 64),
    "sobol_attribution": dict(grid_size=2, designs=8),
}


@pytest.mark.parametrize("name", list(BLACKBOX))
def test_batch_targets_output_seed_and_nothing_changed(name):
    model = small_cnn(seed=4)
    x = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 3)).astype("float32")
    fn = lambda *a, **k: np.asarray(getattr(kv, name)(*a, **BLACKBOX[name], progress=False, **k))
    with unchanged(model, x), global_state_unchanged():
        batch = fn(model, x, [1, -1, 3])
    predicted = logits(model, x).argmax(1)
    for i, t in enumerate([1, predicted[1], 3]):
        np.testing.assert_allclose(batch[i], fn(model, x[i], int(t)), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(fn(model, x, lambda out: out[:, 2]), fn(model, x, 2), atol=1e-5, rtol=1e-4)
    np.testing.assert_array_equal(fn(model, x, 2, seed=3), fn(model, x, 2, seed=3))
    if name != "kernel_shap":  # exact enumeration does not sample
        assert not np.allclose(fn(model, x, 2, seed=3), fn(model, x, 2, seed=4))
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="c")(inputs))
    both = keras.Model(inputs, [keras.layers.Dense(2, name="a")(features), keras.layers.Dense(3, name="b")(features)])
    only_b = keras.Model(inputs, both.get_layer("b").output)
    np.testing.assert_allclose(fn(both, x, 2, output="b"), fn(only_b, x, 2), atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- Sobol


def test_sobol_total_indices_of_an_additive_model_are_its_squared_cell_contributions():
    """f = sum_i M_i a_i + c (masks constant per cell, inpainting to 0): S_T,i = a_i^2 / sum_j a_j^2."""
    keras.utils.set_random_seed(8)
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(keras.layers.Flatten()(inputs)))
    image = np.random.default_rng(3).uniform(0.2, 1, (4, 4, 1)).astype("float32")
    wx = model.get_layer("dense").kernel.numpy()[:, 1].reshape(4, 4) * image[..., 0]
    a = wx.reshape(2, 2, 2, 2).sum((1, 3))  # the four 2x2 cells
    result = kv.sobol_attribution(model, image, 1, grid_size=2, designs=1024, progress=False)
    np.testing.assert_allclose(result.indices, a**2 / (a**2).sum(), atol=0.03)
    np.testing.assert_allclose(np.asarray(result), np.kron(result.indices, np.ones((2, 2))), atol=0)
    assert result.forward_passes == 1024 * 6
    again = kv.sobol_attribution(
        model, np.stack([image, image[::-1]]), [1, 1], grid_size=2, designs=1024, progress=False
    )
    np.testing.assert_allclose(again.indices[0], result.indices, atol=1e-6)
