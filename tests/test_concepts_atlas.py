"""Activation atlas and caricatures: sampling, binning, cell means, whitening, objectives reached."""

import keras
import numpy as np
import pytest
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.concepts.atlas import Reservoir, bin_layout
from kerasviz.testing import unchanged


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(0).uniform(0, 1, (60, 16, 16, 3)).astype("float32")


def test_reservoir_keeps_a_uniform_sample():
    inclusion = np.zeros(1000)
    for seed in range(300):
        res = Reservoir(100, np.random.default_rng(seed))
        for start in range(0, 1000, 64):
            rows = np.arange(start, min(start + 64, 1000))
            res.add(rows[:, None].astype(float), rows[:, None])
        assert len(res.rows) == 100 and len(np.unique(res.tags)) == 100 and res.seen == 1000
        np.testing.assert_array_equal(res.rows[:, 0], res.tags[:, 0])  # rows and tags move together
        inclusion[res.tags[:, 0]] += 1
    blocks = inclusion.reshape(10, 100).mean(1) / 300  # each block of the stream: kept with probability 0.1
    np.testing.assert_allclose(blocks, 0.1, atol=0.02)
    small = Reservoir(100, np.random.default_rng(0))
    small.add(np.arange(30.0)[:, None], np.arange(30)[:, None])
    np.testing.assert_array_equal(small.tags[:, 0], np.arange(30))  # fewer than the cap: all, in order


def test_binning_puts_each_point_in_one_cell():
    coords = np.random.default_rng(0).normal(size=(500, 2))
    unit, cells = bin_layout(coords, 5)
    assert unit.min() >= 0 and unit.max() <= 1 and cells.min() >= 0 and cells.max() <= 4
    np.testing.assert_array_equal(cells[:, 1], np.minimum(np.floor(unit[:, 0] * 5), 4))  # x -> column
    np.testing.assert_array_equal(cells[:, 0], np.minimum(np.floor(unit[:, 1] * 5), 4))  # y -> row


def test_atlas_cells_and_icons(cnn, data):
    with unchanged(cnn, data[:2]), global_state_unchanged():
        atlas = kv.activation_atlas(
            cnn,
            "conv2",
            data,
            grid=3,
            samples_per_image=4,
            min_count=5,
            steps=12,
            max_samples=1000,
            batch_size=16,
            progress=False,
        )
    n = len(atlas.samples)
    assert n == 240 and atlas.layout.shape == (240, 2) and atlas.samples.shape == (240, 16)
    flat = atlas.sample_cells[:, 0] * 3 + atlas.sample_cells[:, 1]
    counts = np.bincount(flat, minlength=9)
    kept = np.flatnonzero(counts >= 5)
    np.testing.assert_array_equal(atlas.cells[:, 0] * 3 + atlas.cells[:, 1], kept)  # cells below min_count dropped
    np.testing.assert_array_equal(atlas.counts, counts[kept])
    for cell, direction in zip(kept, atlas.directions):  # a cell's direction is its groupby mean
        np.testing.assert_allclose(direction, atlas.samples[flat == cell].mean(0), rtol=1e-5, atol=1e-6)
    acts = kv.activations(cnn, data, "conv2")["conv2"]  # every sample is the activation at its image and position
    rows, cols = atlas.sample_positions.T
    np.testing.assert_array_equal(atlas.samples, acts[atlas.sample_images, rows, cols])
    assert rows.min() >= 1 and rows.max() <= 6  # away from the border of the 8x8 map
    assert atlas.icons.shape == (len(kept), 16, 16, 3)
    assert (atlas.scores > atlas.initial_scores).all()  # each icon moved along its cell's direction
    assert atlas.image.shape == (48, 48, 3)
    again = kv.activation_atlas(
        cnn,
        "conv2",
        data,
        grid=3,
        samples_per_image=4,
        min_count=5,
        steps=12,
        max_samples=1000,
        batch_size=16,
        progress=False,
    )
    np.testing.assert_array_equal(again.icons, atlas.icons)


def test_atlas_whitening_tsne_and_streams(cnn, data):
    whitened = kv.activation_atlas(cnn, "conv2", data, grid=2, min_count=1, whiten=True, steps=2, progress=False)
    plain = kv.activation_atlas(cnn, "conv2", data, grid=2, min_count=1, steps=2, progress=False)
    second = whitened.samples.T.astype(np.float64) @ whitened.samples / len(whitened.samples)
    np.testing.assert_allclose(
        whitened.directions, plain.directions @ np.linalg.pinv(second, hermitian=True), rtol=1e-4, atol=1e-6
    )
    tsne = kv.activation_atlas(cnn, "conv2", data, grid=2, min_count=1, method="tsne", steps=2, progress=False)
    assert tsne.method == "tsne" and tsne.layout.shape == (60, 2)
    streamed = kv.activation_atlas(
        cnn,
        "conv2",
        (data[i : i + 25] for i in range(0, 60, 25)),
        grid=2,
        min_count=1,
        max_samples=40,
        steps=2,
        progress=False,
    )
    assert len(streamed.samples) == 40 and streamed.sample_images.max() < 60
    dense = kv.activation_atlas(cnn, "gap", data, grid=2, min_count=1, steps=2, progress=False)
    assert dense.samples.shape == (60, 16)


def test_atlas_refuses_constant_activations():
    keras.utils.set_random_seed(0)
    x = inp = keras.Input((8, 8, 3))
    flat = keras.layers.Conv2D(4, 3, kernel_initializer="zeros", bias_initializer="ones", name="flat")(x)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(flat)))
    images = np.random.default_rng(0).uniform(0, 1, (20, 8, 8, 3)).astype("float32")
    with pytest.raises(kv.InvalidArgumentError, match="identical"):
        kv.activation_atlas(model, "flat", images, method="tsne", progress=False)


def test_caricature_matches_the_photo(cnn, data):
    with unchanged(cnn, data[:2]), global_state_unchanged():
        result = kv.caricature(cnn, "conv2", data[:3], steps=48, transforms=None, progress=False)
    assert result.images.shape == (3, 16, 16, 3) and result.similarity.shape == (3,)
    assert (result.scores > result.initial_scores).all()
    # the reported cosine is the literal one (small_cnn reads RGB in [0, 1] as is)
    target = kv.activations(cnn, data[:3], "conv2")["conv2"].reshape(3, -1)
    drawn = kv.activations(cnn, result.images, "conv2")["conv2"].reshape(3, -1)
    cos = (drawn * target).sum(1) / np.linalg.norm(drawn, axis=1) / np.linalg.norm(target, axis=1)
    np.testing.assert_allclose(result.similarity, cos, rtol=1e-4)
    noise = kv.activations(cnn, np.random.default_rng(5).uniform(0, 1, (3, 16, 16, 3)), "conv2")["conv2"].reshape(3, -1)
    chance = (noise * target).sum(1) / np.linalg.norm(noise, axis=1) / np.linalg.norm(target, axis=1)
    assert (result.similarity > chance).all()
    one = kv.caricature(cnn, "conv2", data[3], steps=4, cosine_power=0.0, progress=False)
    assert one.images.shape == (16, 16, 3) and isinstance(one.similarity, float)


def test_concept_plots(cnn, data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    atlas = kv.activation_atlas(cnn, "conv2", data, grid=2, min_count=1, steps=2, progress=False)
    concepts = kv.nmf_concepts(cnn, "conv2", data, 3, top=4, progress=False)
    drawn = kv.caricature(cnn, "conv2", data[:2], steps=2, progress=False)
    with global_state_unchanged():
        figures = [
            kv.plot_activation_atlas(atlas),
            kv.plot_nmf_concepts(concepts),
            kv.plot_nmf_concepts(concepts, images=data[:2], concepts=[0, 2]),
            kv.plot_caricature(drawn, data[:2]),
        ]
    assert [len(f.axes) for f in figures] == [2, 12, 6, 4]
    for f in figures:
        plt.close(f)
