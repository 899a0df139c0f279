"""Attribution maps: exact invariants on tiny models (research/methods.md §2-4)."""

import keras
import numpy as np
import pytest

import kerasviz as kv
import kerasviz.testing
from kerasviz.attribution.integrated_gradients import METHODS as IG_METHODS
from kerasviz.attribution.integrated_gradients import quadrature
from kerasviz.attribution.metrics import auc
from kerasviz.testing import unchanged


@pytest.fixture(scope="module")
def linear():
    """f(x) = W . vec(x) + b with a softmax head (explained on logits)."""
    keras.utils.set_random_seed(1)
    x = inputs = keras.Input((6, 5, 3))
    out = keras.layers.Dense(3, activation="softmax", name="dense")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, out)
    model.get_layer("dense").bias.assign(np.array([0.3, -0.2, 0.1], np.float32))
    return model


@pytest.fixture
def probe():
    return np.random.default_rng(3).normal(size=(4, 6, 5, 3)).astype("float32")


def weights_of(model, c):
    return model.get_layer("dense").kernel.numpy()[:, c].reshape(6, 5, 3)


def test_saliency_of_linear_model_is_max_abs_weight(linear, probe):
    maps = kv.saliency(linear, probe, target=2)
    np.testing.assert_allclose(maps, np.broadcast_to(np.abs(weights_of(linear, 2)).max(-1), maps.shape), atol=1e-7)


def test_occlusion_1x1_of_linear_model_is_w_times_x(linear, probe):
    heat = kv.occlusion(linear, probe, target=[0, 1, 2, 0], patch=1, stride=1, baseline=0.0, progress=False)
    expected = np.stack([(weights_of(linear, c) * xi).sum(-1) for c, xi in zip([0, 1, 2, 0], probe)])
    np.testing.assert_allclose(heat, expected, atol=1e-5)


@pytest.mark.parametrize("method", IG_METHODS)
def test_ig_of_linear_model_is_delta_times_w(linear, probe, method):
    baseline = np.full(probe.shape[1:], 0.25, np.float32)
    ig = kv.integrated_gradients(linear, probe, target=1, baseline=baseline, steps=3, method=method, progress=False)
    np.testing.assert_allclose(ig.attributions, (probe - baseline) * weights_of(linear, 1), atol=1e-5)
    assert ig.convergence_error.max() < 1e-4


def test_quadrature_weights_integrate_polynomials():
    for method in IG_METHODS:
        alphas, weights = quadrature(method, 40)
        assert abs(weights.sum() - 1) < 1e-6
        first_order = method in ("riemann_left", "riemann_right")  # error 1 / (2m)
        assert abs((weights * alphas).sum() - 0.5) < (0.0126 if first_order else 1e-6), method
    alphas, weights = quadrature("gausslegendre", 4)
    assert abs((weights * alphas**7).sum() - 1 / 8) < 1e-6  # exact up to degree 2m - 1


def test_ig_equals_gradient_times_input_on_bias_free_relu_net():
    keras.utils.set_random_seed(2)
    x = inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(6, 3, activation="relu", use_bias=False)(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", use_bias=False)(x)
    outputs = keras.layers.Dense(3, use_bias=False)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).uniform(0, 1, (3, 12, 12, 2)).astype("float32")
    grad_x_input = kv.gradient(model, images, target=1) * images
    for steps, method in [(1, "riemann_right"), (4, "riemann_right"), (50, "midpoint")]:
        ig = kv.integrated_gradients(model, images, target=1, steps=steps, method=method, progress=False)
        np.testing.assert_allclose(ig.attributions, grad_x_input, atol=1e-6, rtol=1e-4)


def test_grad_cam_equals_cam_over_z_on_gap_head(cnn, images):
    """conv2 -> GAP -> dense: dS/dA_ij = w / Z, so Grad-CAM = CAM / Z exactly."""
    raw = kv.grad_cam(cnn, images, target=2, layer="conv2", relu=False, normalize=False, upsample=False)
    acts = kv.activations(cnn, images, "conv2")["conv2"]
    w = cnn.get_layer("head").kernel.numpy()[:, 2]
    cam_over_z = np.einsum("nhwk,k->nhw", acts, w) / (acts.shape[1] * acts.shape[2])
    assert np.abs(raw - cam_over_z).max() < 1e-6


def test_grad_cam_layer_choice_and_range(cnn, nested_seq, nested_fn, images):
    assert kv.default_cam_layer(cnn) == "conv2"
    assert kv.default_cam_layer(nested_seq) == "base/conv2"
    for model in (cnn, nested_seq, nested_fn):
        for fn in (kv.grad_cam, kv.grad_cam_plus_plus):
            cam = fn(model, images)
            assert cam.shape == (5, 16, 16) and cam.min() >= 0 and cam.max() <= 1 + 1e-6


def test_grad_cam_plus_plus_closed_form_on_gap_head(images):
    """GAP head with positive weights: g_k = w_k / Z everywhere, so alpha_k = 1 / (2 + S_k g_k)
    (S_k = sum of A^k) and the map is relu(sum_k Z alpha_k g_k A^k)."""
    model = kv.testing.small_cnn(softmax=False, seed=4)
    head = model.get_layer("head")
    head.kernel.assign(np.abs(head.kernel.numpy()))
    got = kv.grad_cam_plus_plus(model, images, target=1, layer="conv2", normalize=False, upsample=False)
    acts = kv.activations(model, images, "conv2")["conv2"]
    z = acts.shape[1] * acts.shape[2]
    g = head.kernel.numpy()[:, 1] / z
    weights = z * g / (2 + acts.sum((1, 2)) * g)
    np.testing.assert_allclose(got, np.maximum(np.einsum("nhwk,nk->nhw", acts, weights), 0), rtol=1e-4, atol=1e-6)


def test_smoothgrad_reduces_to_gradient_and_is_seeded(cnn, images):
    np.testing.assert_allclose(
        kv.smoothgrad(cnn, images, noise=0.0, samples=3, progress=False), kv.gradient(cnn, images), atol=1e-6
    )
    a = kv.smoothgrad(cnn, images, samples=6, seed=4, progress=False)
    np.testing.assert_array_equal(a, kv.smoothgrad(cnn, images, samples=6, seed=4, progress=False))
    assert np.abs(a - kv.smoothgrad(cnn, images, samples=6, seed=5, progress=False)).max() > 1e-6


def test_guided_backprop_equals_gradient_without_relus(linear, probe):
    np.testing.assert_allclose(kv.guided_backprop(linear, probe), kv.gradient(linear, probe), atol=1e-7)
    assert kv.guided_backprop(linear, probe[0], reduce="max_abs").shape == (6, 5)


ALL = {
    "gradient": lambda m, x, t: kv.gradient(m, x, t),
    "saliency": lambda m, x, t: kv.saliency(m, x, t),
    "smoothgrad": lambda m, x, t: kv.smoothgrad(m, x, t, samples=5, progress=False),
    "guided_backprop": lambda m, x, t: kv.guided_backprop(m, x, t),
    "deconvnet": lambda m, x, t: kv.deconvnet(m, x, t),
    "integrated_gradients": lambda m, x, t: kv.integrated_gradients(m, x, t, steps=8, progress=False).attributions,
    "ig_uniform": lambda m, x, t: (
        kv.integrated_gradients(m, x, t, steps=4, baseline="uniform", n_baselines=2, progress=False).attributions
    ),
    "ig_blur": lambda m, x, t: (
        kv.integrated_gradients(m, x, t, steps=4, baseline="blur", method="trapezoid", progress=False).attributions
    ),
    "grad_cam": lambda m, x, t: kv.grad_cam(m, x, t),
    "grad_cam_plus_plus": lambda m, x, t: kv.grad_cam_plus_plus(m, x, t),
    "guided_grad_cam": lambda m, x, t: kv.guided_grad_cam(m, x, t),
    "occlusion": lambda m, x, t: kv.occlusion(m, x, t, patch=4, stride=2, progress=False),
    "deletion_auc": lambda m, x, t: kv.deletion_auc(m, x, x.sum(-1), t, steps=8, progress=False),
    "insertion_auc": lambda m, x, t: kv.insertion_auc(m, x, x.sum(-1), t, steps=8, progress=False),
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_batch_equals_one_at_a_time_and_model_unchanged(nested_fn, images, name):
    fn = ALL[name]
    with unchanged(nested_fn, images):
        batch = np.asarray(fn(nested_fn, images, None))
        targets = [int(t) for t in np.argmax(nested_fn.predict(images, verbose=0), -1)]
        singles = np.stack([np.asarray(fn(nested_fn, images[i], targets[i])) for i in range(len(images))])
    np.testing.assert_allclose(batch, singles, atol=1e-5, rtol=1e-4)


def test_randomization_check_batch_equals_one_at_a_time(cnn, images):
    batch = kv.randomization_check(cnn, images[:3], "gradient", progress=False)
    singles = [kv.randomization_check(cnn, images[i], "gradient", progress=False) for i in range(3)]
    for metric in ("spearman_abs", "spearman", "ssim"):
        np.testing.assert_allclose(
            getattr(batch, metric), np.concatenate([getattr(r, metric) for r in singles], 1), atol=1e-5
        )


@pytest.mark.parametrize("name", ["saliency", "smoothgrad", "integrated_gradients", "grad_cam", "occlusion"])
def test_explicit_minus_one_entries_mean_the_predicted_class(cnn, images, name):
    predicted = np.argmax(cnn.predict(images, verbose=0), -1)
    mixed = [2, -1, 0, -1, 3]
    expected = np.where(np.array(mixed) < 0, predicted, mixed).tolist()
    np.testing.assert_allclose(
        np.asarray(ALL[name](cnn, images, mixed)), np.asarray(ALL[name](cnn, images, expected)), atol=1e-6
    )


@pytest.fixture(scope="module")
def autoencoder():
    """A conv encoder -> decoder: images in, images out (no classes at all)."""
    keras.utils.set_random_seed(5)
    x = inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="enc1")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="code")(x)
    x = keras.layers.UpSampling2D(2)(x)
    outputs = keras.layers.Conv2D(2, 3, padding="same", name="decoded")(x)
    return keras.Model(inputs, outputs)


def region_brightness(outputs):
    """A regression score: mean reconstructed value in a 4x4 region of channel 0."""
    import tensorflow as tf

    return tf.reduce_mean(outputs[:, 4:8, 4:8, 0], axis=(1, 2))


def test_callable_score_target_on_an_autoencoder(autoencoder):
    import tensorflow as tf

    x = np.random.default_rng(7).uniform(0, 1, (3, 12, 12, 2)).astype("float32")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = region_brightness(autoencoder(xt, training=False))
    np.testing.assert_allclose(
        kv.gradient(autoencoder, x, region_brightness), tape.gradient(score, xt).numpy(), atol=1e-6
    )
    score_of = lambda images: region_brightness(autoencoder(images, training=False)).numpy()
    ig = kv.integrated_gradients(autoencoder, x, region_brightness, steps=64, method="midpoint", progress=False)
    np.testing.assert_allclose(ig.delta, score_of(x) - score_of(np.zeros_like(x)), rtol=1e-4, atol=1e-6)
    assert (ig.targets == -1).all() and ig.convergence_error.max() < 0.05
    # one window covering everything: every pixel's drop is score(x) - score(baseline)
    whole = kv.occlusion(autoencoder, x, region_brightness, patch=12, stride=12, baseline=0.0, progress=False)
    np.testing.assert_allclose(
        whole, np.broadcast_to((score_of(x) - score_of(np.zeros_like(x)))[:, None, None], whole.shape), atol=1e-5
    )
    with unchanged(autoencoder, x):
        for name in (
            "saliency",
            "smoothgrad",
            "guided_backprop",
            "integrated_gradients",
            "grad_cam",
            "grad_cam_plus_plus",
            "occlusion",
        ):
            batch = np.asarray(ALL[name](autoencoder, x, region_brightness))
            singles = np.stack([np.asarray(ALL[name](autoencoder, x[i], region_brightness)) for i in range(len(x))])
            assert batch.shape[:3] == (3, 12, 12) and np.isfinite(batch).all(), name
            np.testing.assert_allclose(batch, singles, atol=1e-5, rtol=1e-4, err_msg=name)
    assert kv.grad_cam(autoencoder, x, region_brightness, layer="code", upsample=False).shape == (3, 6, 6)


def test_callable_target_and_explicit_classes(cnn, images):
    by_class = kv.saliency(cnn, images, target=[0, 1, 2, 3, 0])
    by_callable = kv.saliency(cnn, images, target=lambda out: out[:, 1])
    assert by_class.shape == by_callable.shape == (5, 16, 16)
    np.testing.assert_allclose(kv.saliency(cnn, images, target=1), by_callable, atol=1e-6)


def test_clear_errors(cnn, images):
    with pytest.raises(kv.LayerNotFoundError, match="conv2"):
        kv.grad_cam(cnn, images, layer="conv_2")
    with pytest.raises(ValueError, match="feature map"):
        kv.grad_cam(cnn, images, layer="head")
    with pytest.raises(ValueError, match="out of range"):
        kv.saliency(cnn, images, target=7)
    with pytest.raises(ValueError, match="channel"):
        kv.smoothgrad(cnn, images[..., :1], progress=False)
    with pytest.raises(ValueError, match="method"):
        kv.integrated_gradients(cnn, images, method="simpson", progress=False)
    with pytest.raises(ValueError, match="baseline"):
        kv.integrated_gradients(cnn, images, baseline="gray", progress=False)
    with pytest.raises(ValueError, match="stride"):
        kv.occlusion(cnn, images, patch=2, stride=3, progress=False)
    with pytest.raises(ValueError, match="reduce"):
        kv.gradient(cnn, images, reduce="median")
    with pytest.raises(ValueError, match="method"):
        kv.randomization_check(cnn, images, "anchors", progress=False)


def test_auc_of_constant_curve():
    assert auc(np.full(7, 0.3)) == pytest.approx(0.3)
    assert auc(np.linspace(1, 0, 11)) == pytest.approx(0.5)


def test_deletion_order_by_signed_contribution_is_optimal_on_linear_model(linear, probe):
    """Deleting in the order of w*x (largest first) minimises every prefix of a monotone output."""
    x = probe[:1]
    contribution = (weights_of(linear, 0) * x[0]).sum(-1)
    best = kv.deletion_auc(linear, x, contribution, target=0, steps=30, progress=False)
    rng = np.random.default_rng(0)
    others = [
        kv.deletion_auc(
            linear, x, rng.permutation(contribution.ravel()).reshape(6, 5), target=0, steps=30, progress=False
        )
        for _ in range(20)
    ]
    assert best <= min(others) + 1e-6


def test_plots_and_widget(cnn, images):
    from kerasviz.widgets import AttributionExplorer

    sal, ig = kv.saliency(cnn, images[0]), kv.integrated_gradients(cnn, images[0], steps=4, progress=False)
    fig = kv.plot_attribution_grid(images[0], {"saliency": sal, "IG": ig.attributions}, title="t")
    assert len(fig.axes) == 3
    signed = kv.normalize_map(ig.attributions)
    assert signed.min() < 0 <= signed.max() <= 1 and kv.normalize_map(sal).min() >= 0
    with unchanged(cnn, images):
        explorer = AttributionExplorer(cnn, images)
        for method in ("SmoothGrad", "occlusion", "integrated gradients"):
            explorer.method.value = method
        explorer.target.value = explorer.target.options[2][1]
        explorer.image.value = 3
    assert explorer.figure is not None and explorer.target.value == -1
    r = kv.randomization_check(cnn, images[:2], "grad_cam", progress=False)
    assert len(kv.plot_randomization([r]).axes) == 3


def test_many_variants_and_calls_do_not_trigger_retracing_warnings(cnn, images, caplog):
    """One compiled step per (model, variant); TF's "excessive retracing" warning counts
    traces per code object, so many step objects must not add up to it in notebooks."""
    import logging

    from kerasviz.attribution._common import step_for

    caplog.set_level(logging.WARNING, logger="tensorflow")
    for _ in range(2):
        for layer in ("conv1", "conv2"):
            for target in (None, 1, [0, 1, 2, 3, 0], lambda out: out[:, 2]):
                kv.grad_cam(cnn, images, target, layer=layer)
                kv.grad_cam_plus_plus(cnn, images, target, layer=layer)
        kv.saliency(cnn, images[:2])
        kv.smoothgrad(cnn, images[0], samples=3, progress=False)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    assert step_for(cnn, None)._step.experimental_get_tracing_count() <= 2  # batch sizes and classes are data
