"""Dataset views: receptive fields, streaming top-k, Neuron Feature, dead/redundant filters, grids.

Invariants: the receptive field equals the gradient's support; streaming
top-k equals a brute-force argsort; planted dead and duplicate filters are
found; the grid assignment is a bijection that recovers a grid.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.dataset.topk import crop
from kerasviz.testing import small_cnn, unchanged


def linear_stack(input_shape=(23, 21, 2), max_pool=False, dilation=1):
    """Positive-weight, activation-free layers of every supported kind: the gradient's support is the field."""
    init = keras.initializers.RandomUniform(0.1, 1.0, seed=0)
    conv = lambda f, k, name, **kw: keras.layers.Conv2D(f, k, kernel_initializer=init, name=name, **kw)
    pool = keras.layers.MaxPooling2D if max_pool else keras.layers.AveragePooling2D
    x = inputs = keras.Input(input_shape)
    x = conv(3, 3, "c1", padding="same", strides=2)(x)
    x = keras.layers.ZeroPadding2D(((1, 2), (0, 1)), name="zp")(x)
    x = conv(3, (3, 2), "c2", padding="valid", dilation_rate=(dilation, 1))(x)
    x = pool(3, strides=2, padding="same", name="pool")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    x = conv(4, 2, "c3", padding="same")(x)
    return keras.Model(inputs, x, name="linear_stack")


def support_box(model, layer, row, col, channel=0):
    """Bounding box (top, left, bottom, right) of the nonzero input gradient of one output unit."""
    fx = kv.feature_extractor(model, [layer])
    x = tf.convert_to_tensor(np.random.default_rng(1).uniform(0.5, 1, (1,) + model.input_shape[1:]), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fx(x)[layer][0, row, col, channel]
    grad = np.abs(tape.gradient(out, x).numpy()[0]).sum(-1)
    rows, cols = np.nonzero(grad)
    return (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) if len(rows) else None


def clip_box(box, size):
    """The part of `box` inside the image, None if it lies wholly in the padding."""
    top, left, bottom, right = box
    clipped = max(top, 0), max(left, 0), min(bottom, size[0]), min(right, size[1])
    return clipped if clipped[2] > clipped[0] and clipped[3] > clipped[1] else None


# --------------------------------------------------------------------------- receptive fields


def test_receptive_field_known_values():
    lenet = kv.lenet()
    assert kv.receptive_field(lenet, "conv2").size == (14, 14)
    assert kv.receptive_field(lenet, "conv2").jump == (2, 2)
    assert kv.receptive_field(lenet, "relu3").size == (28, 28)
    vgg = kv.load_vgg16(weights=None, include_top=False)
    rf = kv.receptive_field(vgg, "block5_conv3", input_size=(224, 224))  # the textbook 196 px, stride 16
    assert (rf.size, rf.jump, rf.start, rf.output_size) == ((196, 196), (16, 16), (-90, -90), (14, 14))


@pytest.mark.parametrize("layer", ["c1", "zp", "c2", "pool", "bn", "crop", "c3"])
def test_receptive_field_equals_gradient_support(layer):
    model = linear_stack()
    rf = kv.receptive_field(model, layer)
    h, w = rf.output_size
    for row, col in [(0, 0), (h // 2, w // 2), (h - 1, w - 1), (0, w - 1)]:
        expected = clip_box(rf.box(row, col), rf.input_size)
        assert support_box(model, layer, row, col) == expected, (layer, row, col)


def test_receptive_field_with_dilation():
    model = linear_stack(dilation=2)
    rf = kv.receptive_field(model, "c2")
    assert rf.size == (3 + (5 - 1) * 2, 3 + (2 - 1) * 2)  # c1 3x3, then a (5, 2) dilated tap span at jump 2
    h, w = rf.output_size
    assert support_box(model, "c2", h // 2, w // 2) == clip_box(rf.box(h // 2, w // 2), rf.input_size)


@pytest.mark.parametrize("model", [linear_stack(max_pool=True), linear_stack(dilation=2)], ids=["max_pool", "dilated"])
def test_receptive_field_contains_gradient_support(model):
    """Max pooling routes the gradient through one input, and dilation holes at the border skip rows: subsets."""
    rf = kv.receptive_field(model, "c3")
    for row, col in [(0, 0), (2, 1), (rf.output_size[0] - 1, 0)]:
        top, left, bottom, right = support_box(model, "c3", row, col)
        t, l, b, r = clip_box(rf.box(row, col), rf.input_size)
        assert t <= top and l <= left and bottom <= b and right <= r


def test_receptive_field_through_nested_models(nested_seq, nested_fn, cnn):
    expected = kv.receptive_field(cnn, "conv2")
    assert kv.receptive_field(nested_seq, "base/conv2") == expected
    assert kv.receptive_field(nested_fn, "conv2") == expected


def test_receptive_field_errors(cnn):
    with pytest.raises(UnsupportedLayerError, match="spatial"):
        kv.receptive_field(cnn, "gap")
    with pytest.raises(kv.LayerNotFoundError, match="conv2"):
        kv.receptive_field(cnn, "conv_2")
    x = inputs = keras.Input((8, 8, 1))
    x = keras.layers.UpSampling2D(name="up")(keras.layers.Conv2D(2, 3, name="c")(x))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="after")(x))
    with pytest.raises(UnsupportedLayerError, match="up"):
        kv.receptive_field(model, "after", method="exact")
    assert kv.receptive_field(model, "c").size == (3, 3)


def test_untraceable_layer_falls_back_to_the_gradient_support():
    """UpSampling2D breaks the size/stride recursion; the field is then measured, and equals the support."""
    x = inputs = keras.Input((8, 9, 1))
    x = keras.layers.UpSampling2D(name="up")(keras.layers.Conv2D(2, 3, name="c")(x))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="after")(x))
    rf = kv.receptive_field(model, "after")
    assert rf.method == "gradient" and rf.size == (4, 4)
    h, w = rf.output_size
    for row in range(h):
        for col in (0, w // 2, w - 1):
            assert support_box(model, "after", row, col) == clip_box(rf.box(row, col), rf.input_size), (row, col)
    linear = linear_stack()
    for layer in ("c2", "c3"):  # where the trace works, the measurement agrees with it exactly
        exact, measured = kv.receptive_field(linear, layer), kv.receptive_field(linear, layer, method="gradient")
        assert exact.method == "exact" and measured.method == "gradient"
        assert (measured.size, measured.jump, measured.start) == (exact.size, exact.jump, exact.start)
    whole = kv.receptive_field(model, "after", method="whole image")
    assert whole.box(3, 5) == (0, 0, 8, 9) and whole.method == "whole image"


# --------------------------------------------------------------------------- top-k


@pytest.fixture(scope="module")
def scan_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(150, 16, 16, 3)).astype("float32"), rng.integers(0, 4, 150)


def brute_force_top(model, layer, x, k):
    maxima = kv.activations(model, x, layer, batch_size=64)[layer].max(axis=(1, 2)).T  # (F, N)
    order = np.argsort(-maxima, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(maxima, order, 1)


def test_top_activating_equals_brute_force(cnn, scan_data):
    x, y = scan_data
    with unchanged(cnn, x[:2]):
        top = kv.top_activating(cnn, "conv2", x, k=7, labels=y, batch_size=64, progress=False)
    order, values = brute_force_top(cnn, "conv2", x, 7)
    np.testing.assert_array_equal(top.indices, order)
    np.testing.assert_allclose(top.values, values, rtol=1e-6)
    np.testing.assert_array_equal(top.labels, y[order])
    assert top.patches.shape == (16, 7, 8, 8, 3) and top.count == 150


def test_top_activating_same_for_every_source_and_batch_size(cnn, scan_data):
    x, y = scan_data
    reference = kv.top_activating(cnn, "conv2", x, k=5, labels=y, progress=False)

    def generator():
        for s in range(0, len(x), 40):
            yield x[s : s + 40], y[s : s + 40]

    sources = {
        "generator": dict(data=generator()),
        "dataset": dict(data=tf.data.Dataset.from_tensor_slices((x, y))),
        "tensor, batch 7": dict(data=tf.constant(x), labels=y, batch_size=7),
    }
    for name, kwargs in sources.items():
        top = kv.top_activating(cnn, "conv2", k=5, progress=False, **{"batch_size": 64, **kwargs})
        np.testing.assert_array_equal(top.indices, reference.indices, err_msg=name)
        np.testing.assert_array_equal(top.labels, reference.labels, err_msg=name)
        np.testing.assert_allclose(top.patches, reference.patches, err_msg=name)


def test_patches_are_the_crops_of_the_gradient_support():
    model = linear_stack()
    x = np.random.default_rng(2).uniform(0, 1, (40,) + model.input_shape[1:]).astype("float32")
    top = kv.top_activating(model, "c3", x, k=3, progress=False)
    for f in range(4):
        index, (row, col), box = top.indices[f, 0], top.locations[f, 0], top.boxes[f, 0]
        assert support_box(model, "c3", row, col, channel=f) == clip_box(box, x.shape[1:3])
        patch = top.patches[f, 0]
        t, l, b, r = clip_box(box, x.shape[1:3])
        inside = patch[t - box[0] : b - box[0], l - box[1] : r - box[1]]
        np.testing.assert_array_equal(inside, x[index, t:b, l:r])
        assert patch.size - inside.size == np.count_nonzero(patch == 0) or inside.size == patch.size


def test_crop_pads_outside_the_image():
    image = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    out = crop(image, (-1, 2, 2, 5), pad_value=-7)
    expected = np.array([[-7, -7, -7], [2, 3, -7], [6, 7, -7]], np.float32)[..., None]
    np.testing.assert_array_equal(out, expected)


def test_top_activating_errors_and_small_data(cnn, images):
    inputs = keras.Input((16, 16, 3))
    sequence = keras.Model(inputs, keras.layers.Reshape((256, 3), name="seq")(inputs))
    with pytest.raises(ValueError, match="feature map"):
        kv.top_activating(sequence, "seq", images, progress=False)
    dense = kv.top_activating(cnn, "head", images, k=2, progress=False)  # a Dense unit sees the whole image
    assert dense.patches.shape == (4, 2, 16, 16, 3) and (dense.locations == 0).all()
    with pytest.warns(UserWarning, match="top 5"):
        top = kv.top_activating(cnn, "conv1", images, k=9, progress=False)
    assert top.indices.shape == (8, 5) and sorted(top.indices[0]) == list(range(5))
    single = kv.top_activating(cnn, "conv1", images[0], k=1, progress=False)
    assert single.indices.shape == (8, 1) and single.count == 1


# --------------------------------------------------------------------------- Neuron Feature


def test_neuron_feature_is_the_weighted_mean_of_top_crops(cnn, scan_data):
    x, y = scan_data
    top = kv.top_activating(cnn, "conv2", x, k=4, labels=y, progress=False)
    with unchanged(cnn, x[:2]):
        nf = kv.neuron_feature(top)
    f = 3
    weights = top.values[f] / np.abs(top.values[f]).max()
    expected = sum(w * p for w, p in zip(weights, top.patches[f])) / 4
    np.testing.assert_allclose(nf.images[f], expected, rtol=1e-5, atol=1e-6)
    assert nf.images.shape == (16, 8, 8, 3) and nf.class_selectivity.shape == (16,)
    again = kv.neuron_feature(cnn, "conv2", x, k=4, labels=y, progress=False)
    np.testing.assert_allclose(again.images, nf.images)


def test_class_selectivity_index():
    ones = np.ones((3, 4))
    labels = np.array([[2, 2, 2, 2], [0, 1, 2, 3], [5, 5, 1, 1]])
    np.testing.assert_allclose(kv.class_selectivity(labels, ones), [1.0, 0.0, 2 / 3])
    # threshold 0.5: one class of two equally weighted ones is enough
    assert kv.class_selectivity(labels[2:], ones[2:], threshold=0.5)[0] == 1.0
    assert np.isnan(kv.class_selectivity(labels[:1], np.zeros((1, 4)))[0])


# --------------------------------------------------------------------------- dead and redundant filters


@pytest.fixture(scope="module")
def planted():
    """small_cnn with conv1 filter 3 dead (bias -1e3) and conv2 filter 9 a copy of filter 2."""
    model = small_cnn(seed=1, name="planted")
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    bias = conv1.bias.numpy()
    bias[3] = -1e3
    conv1.bias.assign(bias)
    kernel, bias = conv2.kernel.numpy(), conv2.bias.numpy()
    kernel[..., 9], bias[9] = kernel[..., 2], bias[2]
    conv2.kernel.assign(kernel)
    conv2.bias.assign(bias)
    return model


def test_planted_dead_filter_is_found(planted, scan_data):
    x, _ = scan_data
    with unchanged(planted, x[:2]):
        report = kv.dead_filters(planted, None, x, progress=False)
    assert list(report.dead["conv1"]) == [3]
    assert 3 in report.rarely_active["conv1"] and report.summaries["conv1"].apoz[3] == 1.0
    assert [row["layer"] for row in report.table()] == ["conv1", "conv2"]
    alone = kv.activation_summary(planted, "conv2", x, progress=False)  # one pass for all layers == one per layer
    np.testing.assert_array_equal(alone.apoz, report.summaries["conv2"].apoz)
    np.testing.assert_array_equal(alone.max, report.summaries["conv2"].max)


def test_planted_duplicate_is_found(planted, scan_data):
    x, _ = scan_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the dead channel must not make numpy warn
        with unchanged(planted, x[:2]):
            pairs = kv.redundant_filters(planted, "conv2", x, progress=False)
        sim = kv.filter_similarity(planted, "conv1", x, progress=False)
    kinds = {(tuple(p), p.kind) for p in pairs}
    assert ((2, 9), "duplicate") in kinds and ((2, 9), "correlated") in kinds
    assert all(abs(p.score - 1) < 1e-6 for p in pairs if tuple(p) == (2, 9))
    assert np.isnan(sim.correlation[3]).all() and not np.isnan(sim.correlation[0, 1])
    i, j = pairs[0]  # pairs unpack as plain index pairs


def test_opposite_phase_pair_and_thresholds(planted):
    conv1 = planted.get_layer("conv1")
    kernel = conv1.kernel.numpy()
    model = small_cnn(seed=1, name="opposite")
    kernel[..., 5] = -kernel[..., 0]
    model.get_layer("conv1").kernel.assign(kernel)
    pairs = kv.redundant_filters(model, "conv1")
    assert [(tuple(p), p.kind) for p in pairs] == [((0, 5), "opposite")]
    assert kv.redundant_filters(model, "conv1", opposite=False) == []
    assert len(kv.redundant_filters(model, "conv1", cosine_threshold=-1.0, opposite=False)) == 28


# --------------------------------------------------------------------------- grid assignment


def test_grid_assignment_is_a_bijection_that_recovers_a_grid():
    rows, cols = 5, 7
    r, c = np.divmod(np.arange(rows * cols), cols)
    perm = np.random.default_rng(0).permutation(rows * cols)
    points = np.stack([c * 3.0 + 10, r * 0.5 - 2], axis=1)[perm]  # a scaled, shuffled grid
    cells = kv.grid_assignment(points, (rows, cols))
    np.testing.assert_array_equal(cells, np.stack([r, c], axis=1)[perm])
    scattered = np.random.default_rng(1).normal(size=(30, 2))
    cells = kv.grid_assignment(scattered, (rows, cols))
    assert len({tuple(cell) for cell in cells}) == 30


def test_grid_assignment_beats_random_bijections():
    points = np.random.default_rng(3).uniform(size=(20, 2))
    cells = kv.grid_assignment(points, (4, 5))
    unit = (points - points.min(0)) / (points.max(0) - points.min(0))
    centre = lambda cells: np.stack([cells[:, 1] / 4, cells[:, 0] / 3], axis=1)
    cost = lambda cells: ((unit - centre(cells)) ** 2).sum()
    rng = np.random.default_rng(4)
    all_cells = np.stack(np.divmod(np.arange(20), 5), axis=1)
    assert all(cost(cells) <= cost(all_cells[rng.permutation(20)]) for _ in range(50))


# --------------------------------------------------------------------------- plots and widget


def test_plots_draw_every_view(cnn, planted, scan_data):
    import matplotlib.pyplot as plt

    x, y = scan_data
    top = kv.top_activating(cnn, "conv2", x, k=3, labels=y, progress=False)
    similarity = kv.filter_similarity(planted, "conv2", x[:40], progress=False)
    pairs = kv.redundant_filters(planted, "conv2", x[:40], progress=False)
    grid_result = kv.embedding_grid(cnn, "gap", x[:30], max_iter=250, progress=False)
    figures = [
        kv.plot_top_activating(top, [0, 5], kind="patches"),
        kv.plot_top_activating(top, kind="images", max_filters=3),
        kv.plot_neuron_features(kv.neuron_feature(top)),
        kv.plot_dead_filters(kv.dead_filters(planted, None, x[:40], progress=False)),
        kv.plot_filter_similarity(similarity, pairs),
        kv.plot_embedding_grid(grid_result, labels=y[:30]),
    ]
    assert all(isinstance(f, plt.Figure) for f in figures)
    assert len(figures[4].axes[0].collections) == 1  # the planted duplicate is circled
    plt.close("all")
    with pytest.raises(ValueError, match="kind"):
        kv.plot_top_activating(top, kind="maps")


def test_explorer_widget_follows_its_controls(cnn, scan_data):
    x, y = scan_data
    with unchanged(cnn, x[:2]):
        explorer = kv.widgets.TopActivatingExplorer(cnn, x[:60], k=3, labels=y[:60], rows=2)
    assert explorer.scan()[0].layer == "conv1" and explorer.first.max == 6
    explorer.layer.value = "conv2"
    assert explorer.scan()[0].layer == "conv2" and explorer.first.max == 14
    explorer.first.value = 4
    assert explorer.filters() == [4, 5]
    for view in ("images", "neuron feature"):
        explorer.view.value = view
        assert explorer.figure().axes


def test_load_image_folder(tmp_path):
    photos, names = kv.load_image_folder(size=32)
    assert photos.shape == (28, 32, 32, 3) and photos.dtype == np.uint8 and len(set(names)) == 28
    import skimage.io

    (tmp_path / "sub").mkdir()
    skimage.io.imsave(tmp_path / "sub" / "a.png", photos[0])
    skimage.io.imsave(tmp_path / "b.png", np.zeros((40, 60), np.uint8), check_contrast=False)
    images, names = kv.load_image_folder(str(tmp_path), size=16)
    assert images.shape == (2, 16, 16, 3) and names == ["b.png", "sub/a.png"]
    with pytest.raises(FileNotFoundError):
        kv.load_image_folder(str(tmp_path / "missing"))
