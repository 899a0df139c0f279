"""CAM variants and gradient statistics: exact invariants on tiny models (closed forms, literal loops)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.attribution.gradient_stats import noise_scale, standard_noise
from kerasviz.testing import small_cnn, unchanged

RAW = dict(relu=False, normalize=False, upsample=False)
CAMS = ["hires_cam", "xgrad_cam", "layer_cam", "eigen_cam", "score_cam", "ablation_cam"]


def call(name, *args, **kwargs):
    if name in ("score_cam", "ablation_cam", "vargrad"):
        kwargs.setdefault("progress", False)
    return getattr(kv, name)(*args, **kwargs)


@pytest.fixture(scope="module")
def gap():
    return small_cnn(seed=3, softmax=False)


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 3)).astype("float32")


@pytest.fixture(scope="module")
def acts(gap, x):
    return kv.activations(gap, x, "conv2")["conv2"].astype(np.float64)


def head(model):
    return model.get_layer("head").kernel.numpy().astype(np.float64), model.get_layer("head").bias.numpy()


@pytest.fixture(scope="module")
def two_heads():
    """conv -> conv -> GAP -> {"cls": 4 classes (softmax), "aux": 3 logits}, and the aux-only model."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inputs)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(h)
    g = keras.layers.GlobalAveragePooling2D()(h)
    cls = keras.layers.Dense(4, activation="softmax", name="cls")(g)
    aux = keras.layers.Dense(3, name="aux")(g)
    return keras.Model(inputs, [cls, aux]), keras.Model(inputs, aux)


# ---------------------------------------------------------------- closed forms on conv -> GAP -> Dense


def test_hires_xgrad_and_grad_cam_equal_cam_over_z_on_gap_head(gap, x, acts):
    w, _ = head(gap)
    cam = np.einsum("nhwk,k->nhw", acts, w[:, 2]) / 64  # Zhou et al.'s CAM divided by Z = 8 * 8
    for name in ("hires_cam", "xgrad_cam"):
        np.testing.assert_allclose(call(name, gap, x, 2, layer="conv2", **RAW), cam, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(
        kv.grad_cam(gap, x, 2, layer="conv2", relu=False, normalize=False, upsample=False), cam, atol=1e-6
    )
    # after ReLU and normalisation they are the same picture
    maps = [call(n, gap, x, 2, layer="conv2") for n in ("hires_cam", "xgrad_cam")] + [
        kv.grad_cam(gap, x, 2, layer="conv2")
    ]
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-6)
    np.testing.assert_allclose(maps[0], maps[2], atol=1e-6)


def test_layer_cam_keeps_positive_weights_and_equals_hires_with_positive_gradients(gap, x, acts):
    w, _ = head(gap)
    expected = np.einsum("nhwk,k->nhw", acts, np.maximum(w[:, 1], 0)) / 64
    assert (w[:, 1] < 0).any() and (w[:, 1] > 0).any()
    np.testing.assert_allclose(call("layer_cam", gap, x, 1, layer="conv2", **RAW), expected, atol=1e-6)
    positive = keras.models.clone_model(gap)
    positive.set_weights(gap.get_weights())
    positive.get_layer("head").kernel.assign(np.abs(w).astype("float32"))  # all gradients dS/dA = |w| / Z >= 0
    np.testing.assert_allclose(
        call("layer_cam", positive, x, 1, layer="conv2"), call("hires_cam", positive, x, 1, layer="conv2"), atol=1e-6
    )


def test_hires_and_xgrad_sum_to_logit_minus_bias_on_flatten_head_where_grad_cam_does_not():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 2))
    a = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv")(inputs)
    out = keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(a))
    model = keras.Model(inputs, out)
    kernel = model.get_layer("dense").kernel.numpy().reshape(8, 8, 5, 3)
    kernel[:, 4:] = 0  # the head ignores the right half of the grid
    model.get_layer("dense").kernel.assign(kernel.reshape(-1, 3))
    images = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 2)).astype("float32")
    logit = kv.core.gradients.model_outputs(model, images)[:, 0] - model.get_layer("dense").bias.numpy()[0]
    hires = call("hires_cam", model, images, 0, layer="conv", **RAW)
    xgrad = call("xgrad_cam", model, images, 0, layer="conv", **RAW)
    np.testing.assert_allclose(hires.sum((1, 2)), logit, rtol=1e-5)
    np.testing.assert_allclose(xgrad.sum((1, 2)), logit, rtol=1e-5)
    assert np.all(hires[:, :, 4:] == 0)
    grad_cam = kv.grad_cam(model, images, 0, layer="conv", relu=False, normalize=False, upsample=False)
    assert np.abs(grad_cam[:, :, 4:]).max() > 1e-3


def test_eigen_cam_is_numpy_first_right_singular_vector_with_documented_sign(gap, x, acts):
    maps = call("eigen_cam", gap, x, layer="conv2", **RAW)
    for m, a in zip(maps, acts):
        flat = a.reshape(-1, a.shape[-1])
        centred = flat - flat.mean(0)
        projection = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
        projection *= np.sign(projection @ flat.sum(1))  # the documented sign rule
        np.testing.assert_allclose(m.ravel(), projection, atol=1e-5)
    # class-agnostic: the target does not change the map
    np.testing.assert_array_equal(
        call("eigen_cam", gap, x, 0, layer="conv2"), call("eigen_cam", gap, x, 3, layer="conv2")
    )


def test_eigen_cam_recovers_a_rank_one_pattern_with_positive_sign():
    """A^k_ij = u_k m_ij + c_k: the centred matrix is (m - mean m) u^T, the map is +|u| (m - mean m)."""
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, name="lift")(inputs))
    u, c = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.1, -0.3, 0.2, 0.0])
    model.get_layer("lift").set_weights([u.reshape(1, 1, 1, 4).astype("float32"), c.astype("float32")])
    m = np.random.default_rng(2).uniform(0, 1, (1, 6, 6, 1)).astype("float32")
    got = call("eigen_cam", model, m, layer="lift", **RAW)
    np.testing.assert_allclose(got, np.linalg.norm(u) * (m[..., 0] - m.mean()), atol=1e-5)


# ---------------------------------------------------------------- literal per-channel loops


def literal_score_cam(model, layer, images, target, probabilities=False):
    acts = kv.activations(model, images, layer)[layer].astype(np.float64)
    maps = []
    for img, a in zip(images, acts):
        scores = []
        for k in range(a.shape[-1]):
            up = tf.image.resize(a[None, :, :, k, None].astype("float32"), img.shape[:2], method="bilinear")[
                0, ..., 0
            ].numpy()
            span = up.max() - up.min()
            mask = (up - up.min()) / span if span > 0 else np.zeros_like(up)
            logits = kv.core.gradients.model_outputs(model, (img * mask[..., None])[None])[0].astype(np.float64)
            if probabilities:
                logits = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            scores.append(logits[target])
        scores = np.array(scores)
        weights = scores if probabilities else np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        maps.append(np.einsum("hwk,k->hw", a, weights))
    return np.stack(maps)


def test_score_cam_matches_a_literal_per_channel_loop(gap, x):
    got = call("score_cam", gap, x[:2], 1, layer="conv2", mask_batch_size=5, **RAW)
    np.testing.assert_allclose(got, literal_score_cam(gap, "conv2", x[:2], 1), rtol=1e-4, atol=1e-6)
    got = call("score_cam", gap, x[:1], 1, layer="conv2", weighting="probability", **RAW)
    np.testing.assert_allclose(got, literal_score_cam(gap, "conv2", x[:1], 1, probabilities=True), rtol=1e-4, atol=1e-6)
    # Faster Score-CAM with every channel kept is Score-CAM
    np.testing.assert_allclose(
        call("score_cam", gap, x[:2], 1, layer="conv2", max_channels=16, **RAW),
        got_all := call("score_cam", gap, x[:2], 1, layer="conv2", **RAW),
        atol=1e-7,
    )
    assert got_all.shape == (2, 8, 8)


def ablation_model(skip: bool):
    """conv -> [conv "cut"] -> conv -> flatten -> dense; with `skip`, an Add reads the pre-cut tensor."""
    keras.utils.set_random_seed(6)
    inputs = keras.Input((10, 10, 2))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="pre")(inputs)
    cut = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="cut")(a)
    b = keras.layers.Add()([cut, a]) if skip else cut
    b = keras.layers.Conv2D(3, 3, strides=2, activation="relu", name="post")(b)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(b)))


@pytest.mark.parametrize("skip", [False, True])
def test_ablation_cam_matches_a_literal_per_channel_loop(skip):
    model = ablation_model(skip)
    images = np.random.default_rng(3).uniform(0, 1, (2, 10, 10, 2)).astype("float32")
    acts = kv.activations(model, images, ["pre", "cut"])
    expected = []
    for i in range(2):

        def logit(cut_value):  # the layers after "cut", called by hand
            h = cut_value + acts["pre"][i : i + 1] if skip else cut_value
            h = model.get_layer("post")(h)
            return float(model.get_layer("dense")(keras.ops.reshape(h, (1, -1)))[0, 2])

        a = acts["cut"][i : i + 1].astype("float32")
        y = logit(a)
        weights = []
        for k in range(a.shape[-1]):
            ablated = a.copy()
            ablated[..., k] = 0
            weights.append((y - logit(ablated)) / abs(y))
        expected.append(np.einsum("hwk,k->hw", a[0], weights))
    got = call("ablation_cam", model, images, 2, layer="cut", mask_batch_size=3, **RAW)
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-4, atol=1e-6)


def test_ablation_cam_on_gap_head_weights_channels_by_mean_activation(gap, x, acts):
    w, b = head(gap)
    y = acts.mean((1, 2)) @ w[:, 0] + b[0]
    weights = w[:, 0] * acts.mean((1, 2)) / np.abs(y)[:, None]
    expected = np.einsum("nhwk,nk->nhw", acts, weights)
    np.testing.assert_allclose(call("ablation_cam", gap, x, 0, layer="conv2", **RAW), expected, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- shared behaviour of every new map method


@pytest.mark.parametrize("name", CAMS + ["gradient_x_input", "vargrad"])
def test_batch_targets_output_and_nothing_changed(name, gap, x, two_heads):
    extra = dict(samples=4) if name == "vargrad" else {}
    with unchanged(gap, x), global_state_unchanged():
        batch = call(name, gap, x, [1, -1, 3], **extra)
    predicted = kv.core.gradients.model_outputs(gap, x).argmax(1)
    for i, t in enumerate([1, predicted[1], 3]):
        np.testing.assert_allclose(batch[i], call(name, gap, x[i], int(t), **extra), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(call(name, gap, x, None, **extra), call(name, gap, x, predicted, **extra), atol=1e-6)
    np.testing.assert_allclose(
        call(name, gap, x, lambda logits: logits[:, 2], **extra), call(name, gap, x, 2, **extra), atol=1e-6, rtol=1e-5
    )
    both, aux = two_heads
    with unchanged(aux, x):  # shares every layer of `both` (testing.unchanged reads one output)
        np.testing.assert_allclose(
            call(name, both, x, 1, output="aux", **extra), call(name, aux, x, 1, **extra), atol=1e-6, rtol=1e-5
        )
    if name != "eigen_cam":  # class-agnostic
        assert not np.allclose(call(name, gap, x, 0, **extra), call(name, gap, x, 1, **extra))


@pytest.mark.parametrize("name", CAMS)
def test_cam_defaults_give_unit_maps_at_input_size(name, gap, x):
    maps = call(name, gap, x)
    assert maps.shape == (3, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0 and np.allclose(maps.max((1, 2)), 1)


def test_cams_work_inside_a_nested_model(nested_fn, x):
    for name in CAMS:
        assert call(name, nested_fn, x, 1, layer="base/conv2").shape == (3, 16, 16)


# ---------------------------------------------------------------- gradient x input and VarGrad


def test_gradient_x_input_equals_lrp_zero_on_bias_free_relu_net():
    keras.utils.set_random_seed(2)
    inputs = keras.Input((12, 12, 2))
    h = keras.layers.Conv2D(6, 3, activation="relu", use_bias=False)(inputs)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(8, 3, activation="relu", use_bias=False)(h)
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(keras.layers.Flatten()(h)))
    images = np.random.default_rng(0).uniform(0, 1, (3, 12, 12, 2)).astype("float32")
    gxi = kv.gradient_x_input(model, images, 1)
    np.testing.assert_allclose(
        gxi, np.asarray(kv.lrp(model, images, 1, rule="zero", progress=False)), atol=1e-6, rtol=1e-4
    )
    np.testing.assert_allclose(gxi.sum((1, 2, 3)), kv.core.gradients.model_outputs(model, images)[:, 1], rtol=1e-5)
    np.testing.assert_allclose(kv.gradient_x_input(model, images, 1, reduce="sum"), gxi.sum(-1), rtol=1e-6)


def quadratic(d_side=3, channels=1, seed=0):
    """f(x) = x^T A x / 2 (A symmetric), so grad f = A x."""
    d = d_side * d_side * channels
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d))
    a = (a + a.T) / 2
    inputs = keras.Input((d_side, d_side, channels))
    flat = keras.layers.Flatten()(inputs)
    ax = keras.layers.Dense(d, use_bias=False, name="a")(flat)
    out = keras.layers.Dense(1, use_bias=False, name="half")(keras.layers.Multiply()([flat, ax]))
    model = keras.Model(inputs, out)
    model.get_layer("a").kernel.assign(a.astype("float32"))
    model.get_layer("half").kernel.assign(np.full((d, 1), 0.5, np.float32))
    return model, a


def test_vargrad_is_the_sample_variance_of_the_noisy_gradients_and_zero_for_linear_models():
    model, a = quadratic()
    images = np.random.default_rng(1).uniform(0, 1, (2, 3, 3, 1)).astype("float32")
    samples, noise = 6, 0.3
    got = kv.vargrad(model, images, 0, noise=noise, samples=samples, seed=7, progress=False)
    sigma = noise_scale(tf.constant(images), noise)
    eps = standard_noise(tf.range(samples), tf.constant([3, 3, 1]), tf.constant(7)).numpy().reshape(samples, -1)
    for i in range(2):
        grads = (images[i].reshape(1, -1) + sigma[i] * eps) @ a  # A symmetric
        np.testing.assert_allclose(got[i].ravel(), grads.var(0, ddof=1), rtol=1e-4, atol=1e-7)
    # in expectation sigma^2 sum_j A_ij^2, independent of x (Monte Carlo, relative error < 3 sqrt(2 / n))
    many = kv.vargrad(model, images[:1], 0, noise=noise, samples=400, seed=1, progress=False)
    expected = sigma[0] ** 2 * (a**2).sum(1)
    assert np.abs(many.ravel() / expected - 1).max() < 3 * np.sqrt(2 / 400)
    inputs = keras.Input((4, 4, 3))
    linear = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    flat = np.random.default_rng(2).uniform(0, 1, (2, 4, 4, 3)).astype("float32")
    assert np.abs(kv.vargrad(linear, flat, 1, samples=5, progress=False)).max() < 1e-10


def test_vargrad_biased_is_smoothgrad_squared_minus_smoothgrad_squared(gap, x):
    options = dict(noise=0.2, samples=5, seed=3)
    biased = kv.vargrad(gap, x[:2], 1, unbiased=False, progress=False, **options)
    sg = kv.smoothgrad(gap, x[:2], 1, progress=False, **options)
    sg2 = kv.smoothgrad(gap, x[:2], 1, squared=True, progress=False, **options)
    np.testing.assert_allclose(biased, sg2 - sg**2, atol=1e-6 * np.abs(sg2).max())
    unbiased = kv.vargrad(gap, x[:2], 1, progress=False, **options)
    np.testing.assert_allclose(unbiased, biased * 5 / 4, rtol=1e-5, atol=1e-12)
