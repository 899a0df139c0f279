"""Feature visualization invariants: objectives rise, parameterizations fit, batching is exact, results are seeded."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.featurevis import objectives as O
from kerasviz.featurevis import param as P
from kerasviz.featurevis import regularizers as R
from kerasviz.featurevis import transforms as T
from kerasviz.featurevis.inputs import architecture_defaults
from kerasviz.featurevis.optim import adam_update
from kerasviz.testing import small_cnn, unchanged

FAST = dict(size=16, progress=False)


@pytest.fixture(autouse=True)
def full_steps(monkeypatch):
    """These tests choose small step counts themselves; quick mode would cap them to 3."""
    monkeypatch.delenv("KERASVIZ_QUICK", raising=False)


def test_quick_mode_caps_only_defaults(cnn, monkeypatch):
    monkeypatch.setenv("KERASVIZ_QUICK", "1")
    assert len(kv.visualize_filters(cnn, "conv2", [0], **FAST).history) == 3
    assert len(kv.visualize_filters(cnn, "conv2", [0], steps=5, **FAST).history) == 5  # an explicit value wins


@pytest.fixture(scope="module")
def fcn():
    """small_cnn taking any image size (for DeepDream and octaves)."""
    return small_cnn(input_shape=(None, None, 3), softmax=False, name="fcn")


def _run(model, objective, units, steps=12, **kw):
    return kv.render_objective(model, objective, units, steps=steps, **{**FAST, **kw})


@pytest.mark.parametrize(
    "make",
    [
        lambda: O.channel("conv2"),
        lambda: O.feature_map_norm("conv2"),
        lambda: O.neuron("conv2"),
        lambda: O.class_logit(),
        lambda: O.direction("conv2", np.random.default_rng(0).normal(size=(3, 16))),
        lambda: O.deepdream("conv1"),
        lambda: O.channel("conv2") + 0.1 * O.diversity("conv2") - 0.5 * O.deepdream("conv1"),
    ],
    ids=["channel", "l2", "neuron", "class_logit", "direction", "deepdream", "composite"],
)
def test_objective_rises(cnn, make):
    result = _run(cnn, make(), [0, 1, 2], warmup_steps=0)
    assert np.all(result.scores > result.initial_scores), (result.initial_scores, result.scores)


def _spectrum_slope(image):
    amplitude = np.abs(np.fft.fft2(image - image.mean(), axes=(0, 1))).mean(axis=-1)
    fy, fx = np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij")
    radius = np.sqrt(fx**2 + fy**2)
    bins = np.linspace(2 / image.shape[0], 0.5, 20)
    idx = np.digitize(radius, bins)
    centres = [radius[idx == k].mean() for k in range(1, len(bins))]
    values = [amplitude[idx == k].mean() for k in range(1, len(bins))]
    return np.polyfit(np.log(centres), np.log(values), 1)[0]


@pytest.mark.parametrize("decay", [0.0, 1.0, 2.0])
def test_fourier_initial_spectrum_slope(decay):
    p = P.Fourier(decay_power=decay)
    raw = p.init(P.element_seeds(0, range(5)), 128, 128)
    slopes = [_spectrum_slope(img) for img in p.spatial(raw, 128, 128).numpy()]
    assert abs(np.mean(slopes) + decay) < 0.1, slopes


@pytest.mark.parametrize("param", [P.Pixels(), P.Fourier(), P.Pixels(decorrelate=False)])
@pytest.mark.parametrize("shape", [(32, 32), (17, 23)])
def test_param_fits_target_and_shapes(param, shape):
    h, w = shape
    target = tf.constant(np.random.default_rng(1).uniform(0.1, 0.9, (1, h, w, 3)).astype("float32"))
    raw = param.init(P.element_seeds(0, [0]), h, w)
    rgb0 = param.rgb(raw, h, w).numpy()
    assert rgb0.shape == (1, h, w, 3) and rgb0.min() >= 0 and rgb0.max() <= 1

    @tf.function
    def step(raw, m, v, t):
        with tf.GradientTape() as tape:
            tape.watch(raw)
            loss = -tf.reduce_mean(tf.square(param.rgb(raw, h, w) - target))
        return adam_update(raw, tape.gradient(loss, raw), m, v, t, 0.05)

    m = v = tf.zeros_like(raw)
    for t in range(1, 1001):
        raw, m, v = step(raw, m, v, tf.constant(float(t)))
    assert np.abs(param.rgb(raw, h, w).numpy() - target.numpy()).mean() < 0.01
    # encode inverts rgb
    np.testing.assert_allclose(param.rgb(param.encode(target), h, w).numpy(), target.numpy(), atol=1e-4)


def test_colour_matrix_normalised():
    assert np.isclose(np.linalg.norm(P.COLOR_CORRELATION, axis=0).max(), 1.0)


def test_batched_equals_separate_and_seeded(cnn):
    with unchanged(cnn, np.zeros((1, 16, 16, 3), "float32")):
        batch = kv.visualize_filters(cnn, "conv2", [1, 4, 9], steps=8, **FAST)
    for i, f in enumerate([1, 4, 9]):
        alone = kv.visualize_filters(cnn, "conv2", [f], steps=8, **FAST)
        np.testing.assert_allclose(alone.images[0], batch.images[i], atol=1e-4)
    again = kv.visualize_filters(cnn, "conv2", [1, 4, 9], steps=8, **FAST)
    np.testing.assert_array_equal(again.images, batch.images)
    other = kv.visualize_filters(cnn, "conv2", [1, 4, 9], steps=8, seed=1, **FAST)
    assert np.abs(other.images - batch.images).max() > 1e-3
    assert batch.images.shape == (3, 16, 16, 3) and batch.images.dtype == np.float32
    assert 0 <= batch.images.min() and batch.images.max() <= 1
    ordered = batch.sorted()
    assert np.all(np.diff(ordered.scores) <= 0) and sorted(ordered.units) == [1, 4, 9]


def test_diversity_lowers_gram_similarity(cnn):
    def similarity(result):
        acts = kv.activations(cnn, result.images, ["conv1"])["conv1"]
        g = O.gram_matrices(tf.constant(acts)).numpy().reshape(len(acts), -1)
        s = g @ g.T
        return (s.sum() - np.trace(s)) / (len(s) * (len(s) - 1))

    plain = _run(cnn, O.channel("conv2"), [3, 3, 3, 3], steps=30)
    diverse = _run(cnn, O.channel("conv2") + 2.0 * O.diversity("conv1"), [3, 3, 3, 3], steps=30)
    assert similarity(diverse) < similarity(plain)


def test_pre_activation_warmup_revives_dead_filter():
    model = small_cnn(softmax=False, name="dead")
    kernel, bias = model.get_layer("conv1").get_weights()
    # Filter 2 is negative everywhere on the grey start image, yet can be excited.
    bias[2] = -(0.5 * np.maximum(kernel[..., 2], 0).sum() + 0.05)
    model.get_layer("conv1").set_weights([kernel, bias])
    options = dict(objective="neuron", param="pixels", transforms=None, steps=80, **FAST)
    cold = kv.visualize_filters(model, "conv1", [2], warmup_steps=0, **options)
    warm = kv.visualize_filters(model, "conv1", [2], warmup_steps=70, **options)
    assert cold.initial_scores[0] == 0 and cold.scores[0] == 0 and warm.scores[0] > 0


def test_transforms_keep_shape_and_are_per_element():
    images = tf.random.uniform((4, 20, 24, 3))
    seeds = tf.constant(P.element_seeds(0, range(4)))
    out = T.apply_transforms(images, T.standard_transforms(24), seeds, tf.constant(3))
    assert out.shape == images.shape
    alone = T.apply_transforms(images[1:2], T.standard_transforms(24), seeds[1:2], tf.constant(3))
    np.testing.assert_allclose(alone[0], out[1], atol=1e-6)
    identity = T.apply_transforms(images, [T.Jitter(0), T.Scale([1.0]), T.Rotate([0])], seeds, tf.constant(0))
    np.testing.assert_allclose(identity, images, atol=1e-5)


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_tv_and_alpha_gradients_match_finite_differences(beta):
    x = np.random.default_rng(0).uniform(0.2, 0.8, (1, 5, 6, 3))
    for fn in (lambda t: R.total_variation(t, beta), lambda t: R.lp_norm(t, 6.0)):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            value = tf.reduce_sum(fn(xt))
        grad = tape.gradient(value, xt).numpy()
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            d = np.zeros_like(x)
            d[idx] = 1e-6
            numeric[idx] = (
                float(tf.reduce_sum(fn(tf.constant(x + d)))) - float(tf.reduce_sum(fn(tf.constant(x - d))))
            ) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-7)


def test_blur_regularizer_every_k_steps():
    blur = R.Blur(1.0, every=4)
    x = tf.random.uniform((2, 8, 8, 3))
    assert float(tf.reduce_sum(blur(x, tf.constant(4)))) > 0
    assert float(tf.reduce_sum(blur(x, tf.constant(5)))) == 0


def test_octaves_regularizers_and_classes(cnn):
    result = kv.visualize_filters(
        cnn,
        "conv2",
        [0, 1],
        steps=9,
        octaves=3,
        param="pixels",
        regularizers=[R.TV(0.05), R.Blur(), R.Lp(0.01)],
        **FAST,
    )
    assert result.images.shape == (2, 16, 16, 3) and len(result.history) == 9
    with unchanged(cnn, np.zeros((1, 16, 16, 3), "float32")):
        classes = kv.visualize_classes(cnn, [0, 3], steps=10, progress=False)
    assert classes.images.shape == (2, 16, 16, 3) and np.all(classes.scores > classes.initial_scores)


def test_deep_dream_shape_and_rising_objective(fcn):
    image = kv.sample_image("cat", 48)
    with unchanged(fcn, np.zeros((1, 16, 16, 3), "float32")):
        dream = kv.deep_dream(fcn, image, {"conv1": 1.0, "conv2": 0.5}, steps=6, progress=False)
    assert dream.image.shape == (48, 48, 3) and 0 <= dream.image.min() and dream.image.max() <= 1
    assert dream.sizes == [(int(48 / 1.4**i),) * 2 for i in (3, 2, 1, 0)]
    for losses in dream.losses:
        assert np.all(losses[-1] > losses[0])
    assert dream.image is dream.images and np.asarray(dream).shape == (48, 48, 3)


def test_inversion_error_falls_and_early_layer_is_close(fcn):
    image = kv.sample_image("cat", 32)
    with unchanged(fcn, np.zeros((1, 16, 16, 3), "float32")):
        inv = kv.invert(fcn, image, ["conv1", "conv2"], steps=150, progress=False)
    assert inv.images.shape == (2, 32, 32, 3) and inv.errors.shape == (2,)
    windows = inv.history.reshape(-1, 10, 2).mean(axis=1)
    assert np.all(windows[-1] < windows[0]) and inv.errors[0] < 0.1
    smooth = kv.invert(fcn, image, "conv2", steps=60, tv_weight=5.0, progress=False)
    rough = kv.invert(fcn, image, "conv2", steps=60, tv_weight=0.0, progress=False)
    assert R.total_variation(smooth.images, 2.0).numpy().sum() < R.total_variation(rough.images, 2.0).numpy().sum()


def test_keras_applications_smoke():
    vgg = kv.load_vgg16(weights=None, include_top=False)
    mobile = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
    resnet = keras.applications.ResNet50(weights=None, include_top=False)
    for model, layer in [(vgg, "block1_conv2"), (mobile, "block_1_expand"), (resnet, "conv2_block1_1_conv")]:
        assert architecture_defaults(model)["size"] == 128
        result = kv.visualize_filters(model, layer, [0, 5], steps=2, size=32, progress=False)
        assert result.images.shape == (2, 32, 32, 3) and np.isfinite(result.scores).all()
    assert "untrained" in result.label or result.label == ""


def test_plots_and_widget(cnn):
    import matplotlib

    from kerasviz.widgets.featurevis import FeatureVisExplorer

    result = kv.visualize_filters(cnn, "conv2", [0, 1, 2], steps=3, **FAST)
    assert isinstance(kv.plot_filter_grid(result), matplotlib.figure.Figure)
    explorer = FeatureVisExplorer(cnn, steps=8, size=16)
    first = explorer.result.units.copy()
    explorer.filter.value = 5
    assert explorer.result.units[0] == 5 and not np.array_equal(first, explorer.result.units)
    explorer.layer.value = "conv1"
    assert explorer.filter.max == 7
    explorer.param.value = "pixels"
    explorer.regularizer.value = "total variation"
    assert isinstance(explorer.figure, matplotlib.figure.Figure)


# --- performance by design: one filter computed per image; many steps per compiled call ---


def _conv_zoo():
    x = inputs = keras.Input((13, 11, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="same")(x)
    x = keras.layers.Conv2D(5, (3, 2), strides=2, padding="same", activation="tanh", name="strided")(x)
    x = keras.layers.Conv2D(4, 2, dilation_rate=2, padding="valid", use_bias=False, name="dilated")(x)
    return keras.Model(inputs, x, name="zoo")


@pytest.mark.parametrize("layer", ["same", "strided", "dilated"])
def test_unit_conv_probe_equals_full_layer_values_and_gradients(layer):
    from kerasviz.featurevis.probe import Probe
    from kerasviz.featurevis.unit_conv import unit_conv_probe

    model = _conv_zoo()
    ids = tf.constant([0, 3, 1, 3], tf.int32)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 13, 11, 3)).astype("float32"))
    full, sliced = Probe(model, [layer]), unit_conv_probe(model, O.channel(layer))
    assert sliced is not None
    for warm in (True, False):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            expected = O.channel(layer)(*full.read(x, tf.constant(warm), ids))
            got = O.channel(layer)(*sliced.read(x, tf.constant(warm), ids))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tape.gradient(got, x), tape.gradient(expected, x), rtol=1e-4, atol=1e-6)


def test_unit_slicing_only_where_it_is_exact(cnn):
    from kerasviz.featurevis.unit_conv import unit_conv_probe

    assert unit_conv_probe(cnn, O.channel("conv2")) is not None
    assert unit_conv_probe(cnn, 2.0 * O.neuron("conv2")) is not None
    assert unit_conv_probe(cnn, O.channel("conv2") + O.diversity("conv2")) is None  # reads all channels
    assert unit_conv_probe(cnn, O.deepdream("conv2")) is None
    assert unit_conv_probe(cnn, O.channel("pool1")) is None  # not a Conv2D


def test_sliced_and_full_rendering_agree_and_history_is_complete(cnn):
    from kerasviz.featurevis.loop import Renderer
    from kerasviz.featurevis.probe import Probe

    result = kv.visualize_filters(cnn, "conv2", [1, 5, 9], steps=20, precision="float32", **FAST)  # two compiled calls
    assert result.history.shape == (20, 3) and np.isfinite(result.history).all()
    renderer = Renderer(
        cnn, O.channel("conv2"), P.Fourier(), T.standard_transforms(16), [], None, 0.05, 16, unit_slicing=False
    )
    assert isinstance(renderer.probe, Probe)
    seeds = P.element_seeds(0, [1, 5, 9])
    images, scores, _, history = renderer.run([1, 5, 9], seeds, (16, 16), 20, steps_per_call=7)
    np.testing.assert_allclose(images, result.images, atol=2e-4)
    np.testing.assert_allclose(scores, result.scores, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(history, result.history, rtol=1e-3, atol=1e-5)
