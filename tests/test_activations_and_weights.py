"""Activation statistics, filter weights and their plots, loaders and preprocessing."""

import keras
import matplotlib
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.testing import unchanged

# --- statistics over a dataset ----------------------------------------------


def planted_model():
    """conv1 filter 2 has bias -1e3 (dead); filter 0 is copied into filter 1."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv1")])
    kernel, bias = model.layers[0].get_weights()
    bias[2] = -1e3
    model.layers[0].set_weights([kernel, bias])
    return model


def test_summary_finds_a_planted_dead_filter_and_matches_brute_force():
    model = planted_model()
    x = np.random.default_rng(0).normal(size=(20, 12, 12, 1)).astype("float32")
    s = kv.activation_summary(model, x, "conv1", batch_size=6, progress=False)
    a = kv.activations(model, x, "conv1")["conv1"]
    np.testing.assert_array_equal(s.never_active, [2])
    np.testing.assert_allclose(s.apoz, (a <= 0).mean(axis=(0, 1, 2)), atol=1e-7)
    np.testing.assert_allclose(s.blank_fraction, np.all(a == 0, axis=(1, 2)).mean(0))
    np.testing.assert_allclose(s.max, a.max(axis=(0, 1, 2)), rtol=1e-6)
    assert s.apoz[2] == 1.0 and s.count == 20


def test_blank_maps_of_one_image():
    maps = np.zeros((4, 4, 3))
    maps[1, 1, 0] = 0.5
    np.testing.assert_array_equal(kv.blank_maps(maps), [False, True, True])


# --- filter weights and roughness -------------------------------------------


def test_roughness_of_noise_smooth_and_checkerboard_filters():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(7, 7, 3, 200))
    yy, xx = np.mgrid[-3:4, -3:4]
    smooth = np.exp(-(yy**2 + xx**2) / 8.0)[..., None, None] * np.ones((1, 1, 3, 1))
    checker = ((-1.0) ** (yy + xx))[..., None, None] * np.ones((1, 1, 3, 1))
    assert abs(np.median(kv.filter_roughness(noise)) - 1.0) < 0.05
    assert kv.filter_roughness(smooth)[0] < 0.2
    assert kv.filter_roughness(checker)[0] == pytest.approx(2.0)
    assert np.isnan(kv.filter_roughness(np.ones((1, 1, 3, 2)))).all()


def test_trained_first_layer_filters_are_smoother_than_at_init(mnist):
    """Training turns noisy first-layer filters smooth (lower roughness than at initialisation)."""
    (x, y), _ = mnist
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 7, strides=2, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    before = np.median(kv.filter_roughness(kv.filter_weights(model, "conv1")))
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:4000, ..., None] / 255.0, y[:4000], epochs=3, batch_size=64, verbose=0)
    after = np.median(kv.filter_roughness(kv.filter_weights(model, "conv1")))
    assert after < 0.8 * before, (before, after)


def test_filter_weights_is_the_kernel(cnn):
    np.testing.assert_array_equal(kv.filter_weights(cnn, "conv2"), cnn.get_layer("conv2").kernel.numpy())


# --- plots only draw ---------------------------------------------------------


def test_plot_activations_marks_blank_maps(cnn, images):
    maps = kv.activations(cnn, images, "conv1")["conv1"][0]
    maps[..., :3] = 0
    fig = kv.plot_activations(maps, title="untrained")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert "3 blank" in fig.axes[0].get_title() and "untrained" in fig.axes[0].get_title()
    assert len(fig.axes[0].patches) == 3
    matplotlib.pyplot.close(fig)


def test_plot_activations_takes_one_image_or_a_batch(cnn, images):
    one = kv.activations(cnn, images[0], "conv1")  # (h, w, c): the batch axis is dropped for one image
    batch = kv.activations(cnn, images, "conv1")
    for acts, image in ((one, 0), (batch, 0), (batch, 3)):
        fig = kv.plot_activations(acts, "conv1", image)
        assert "8 maps" in fig.axes[0].get_title()
        matplotlib.pyplot.close(fig)
    np.testing.assert_array_equal(one["conv1"], batch["conv1"][0])


def test_plot_activations_with_dataset_summary():
    model = planted_model()
    x = np.random.default_rng(0).normal(size=(8, 12, 12, 1)).astype("float32")
    acts = kv.activations(model, x, "conv1")
    summary = kv.activation_summary(model, x, "conv1", progress=False)
    fig = kv.plot_activations(acts, summary=summary)
    assert "1 never active" in fig.axes[0].get_title()
    matplotlib.pyplot.close(fig)


def test_plot_activations_bad_input(cnn, images):
    acts = kv.activations(cnn, images, ["conv1", "conv2"])
    with pytest.raises(ValueError, match="Pass layer="):
        kv.plot_activations(acts)
    with pytest.raises(kv.KerasvizError, match="computed"):  # a clear kerasviz error, no longer a KeyError
        kv.plot_activations(acts, "pool1")


@pytest.mark.parametrize("mode", ["auto", "rgb", "channels", "summary"])
def test_plot_filters_modes(cnn, mode):
    layer = "conv1" if mode == "rgb" else "conv2"
    fig = kv.plot_filters(cnn, layer, mode=mode)
    assert "filter" in (fig.axes[0].get_title() + (fig._suptitle.get_text() if fig._suptitle else ""))
    matplotlib.pyplot.close(fig)


def test_plot_filters_rejects_bad_arguments(cnn):
    with pytest.raises(ValueError, match="needs 1 or 3 input channels"):
        kv.plot_filters(cnn, "conv2", mode="rgb")
    with pytest.raises(ValueError, match="out of range"):
        kv.plot_filters(cnn, "conv2", mode="channels", filters=99)
    with pytest.raises(ValueError, match="not a 2-D convolution"):
        kv.plot_filters(cnn, "gap")


# --- loaders -----------------------------------------------------------------


def test_load_vgg16_explains_how_to_provide_weights(monkeypatch):
    def offline(**kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/x.h5: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    monkeypatch.delenv("KERASVIZ_VGG16_WEIGHTS", raising=False)
    with pytest.raises(
        kv.WeightsUnavailableError, match=r"(?s)never substitutes random.*KERASVIZ_VGG16_WEIGHTS.*weights=None"
    ):
        kv.load_vgg16()


def test_untrained_vgg16_is_labelled():
    model = kv.load_vgg16(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert kv.weights_label(model) == "untrained (random weights)"
    assert kv.model_family(model) == "vgg16"
    assert len(kv.conv_layers(model)) == 13


def test_load_mnist_explains_how_to_provide_the_file(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/mnist.npz")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.delenv("KERASVIZ_MNIST", raising=False)
    with pytest.raises(kv.DatasetUnavailableError, match=r"(?s)KERAS_HOME.*KERASVIZ_MNIST"):
        kv.load_mnist()
    with pytest.raises(kv.DatasetUnavailableError, match="does not exist"):
        kv.load_mnist(path="no/such/file.npz")


def test_load_mnist_from_a_single_set_is_a_stratified_split(tmp_path):
    x = np.arange(100 * 28 * 28, dtype=np.uint32).reshape(100, 28, 28).astype(np.uint8)
    y = np.repeat(np.arange(10), 10).astype(np.uint8)  # sorted by class, like the shared file
    np.savez(tmp_path / "digits.npz", x=x, y=y)
    (xt, yt), (xs, ys) = kv.load_mnist(path=str(tmp_path / "digits.npz"), test_size=20)
    assert len(xt) == 80 and len(xs) == 20
    np.testing.assert_array_equal(np.bincount(ys), np.full(10, 2))


def test_real_mnist_digits(mnist):
    (x, y), (xt, yt) = mnist
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and set(np.unique(yt)) == set(range(10))


def test_sample_image_and_preprocessing_round_trip():
    cat = kv.sample_image("cat", size=64)
    assert cat.shape == (64, 64, 3) and cat.dtype == np.uint8
    assert kv.sample_image("coins").shape[-1] == 3  # grayscale photos become RGB
    for family in ("vgg16", "mobilenet_v2", "torch", "none"):
        np.testing.assert_array_equal(kv.deprocess(kv.preprocess(cat, family), family), cat)
    bgr = kv.preprocess(cat)
    np.testing.assert_allclose(bgr[..., 0], cat[..., 2] - 103.939, atol=1e-4)
    with pytest.raises(ValueError, match="Unknown sample image"):
        kv.sample_image("dog")
    with pytest.raises(ValueError, match="Unknown model family"):
        kv.preprocess(cat, "alexnet")


def test_lenet_matches_the_matconvnet_layout():
    net = kv.lenet()
    assert net.count_params() == 431_080
    shapes = {
        n: tuple(net.get_layer(n).output.shape[1:]) for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4")
    }
    assert shapes == {
        "conv1": (24, 24, 20),
        "pool1": (12, 12, 20),
        "conv2": (8, 8, 50),
        "pool2": (4, 4, 50),
        "conv3": (1, 1, 500),
        "conv4": (1, 1, 10),
    }
    assert net.get_layer("conv1").activation.__name__ == "linear"  # no ReLU after conv1/conv2


def test_plots_and_summaries_leave_the_model_unchanged(cnn, images):
    with unchanged(cnn, images):
        kv.plot_activations(kv.activations(cnn, images, "conv1"), "conv1")
        kv.plot_filters(cnn, "conv1")
    matplotlib.pyplot.close("all")


def test_activation_explorer_redraws_and_caches(cnn, images, monkeypatch):
    drawn = []
    monkeypatch.setattr(
        "kerasviz.widgets.activations.show_figure",
        lambda fig: (drawn.append(" ".join(a.get_title() for a in fig.axes)), matplotlib.pyplot.close(fig)),
    )
    ex = kv.widgets.ActivationExplorer(cnn, images)
    assert ex.layer.options == ("conv1", "pool1", "conv2")
    ex.layer.value = "conv2"
    assert ex.channel.max == 15
    ex.channel.value = 3
    assert "conv2 channel 3" in drawn[-1]
    ex.image.value = 2
    assert set(ex._cache) == {0, 2}


def test_filter_explorer_switches_views(cnn, monkeypatch):
    monkeypatch.setattr("kerasviz.widgets.activations.show_figure", lambda fig: matplotlib.pyplot.close(fig))
    ex = kv.widgets.FilterExplorer(cnn)
    ex.layer.value = "conv2"
    ex.mode.value = "rgb"  # falls back to channel slices for 8 inputs
    ex.filter.value = 5
    assert ex.filter.max == 15


def test_many_extractors_raise_no_retracing_warning(caplog):
    """Each cached extractor is its own compiled function; TF must not count their traces together."""
    import logging

    import kerasviz as kv
    from kerasviz.testing import small_cnn

    model = small_cnn()
    x = np.random.default_rng(1).uniform(0, 1, (3, 16, 16, 3)).astype("float32")
    caplog.set_level(logging.WARNING, logger="tensorflow")
    for layers in (["conv1"], ["conv2"], ["pool1"], ["conv1", "conv2"], ["conv2", "pool1"], ["gap"], None):
        kv.activations(model, x, layers)
        kv.activations(model, x[:2], layers)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
