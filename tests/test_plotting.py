"""Every public plot function: readable text at the style's resolution, matplotlib settings untouched, and
the layouts that used to mislead (layer sizes, 1x1 maps, empty Grad-CAM, colour-bar meanings, labels
running into tiles)."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from _checks import global_state_unchanged
from matplotlib.text import Text

import kerasviz as kv
from kerasviz.plotting.decoding import plot_error_table
from kerasviz.plotting.grid import mosaic

RNG = np.random.default_rng(0)
IMAGE = (RNG.uniform(0, 1, (16, 16, 3)) * 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def close_figures():
    kv.style("notebook")
    yield
    kv.style("notebook")
    plt.close("all")


@pytest.fixture(scope="module")
def scan():
    from kerasviz.testing import small_cnn

    model = small_cnn()
    x = RNG.uniform(0, 1, (6, 16, 16, 3)).astype("float32")
    top = kv.top_activating(model, "conv1", x, k=2, labels=np.arange(6) % 2, progress=False)
    return model, x, top, kv.neuron_feature(top)


def plot_calls(scan):
    """One call per public plot function, on small synthetic inputs."""
    model, x, top, features = scan
    signed = RNG.normal(size=(16, 16, 3))
    summary = SimpleNamespace(apoz=RNG.uniform(0, 1, 8))
    report = SimpleNamespace(
        table=lambda: [{"layer": "conv1", "dead": 1, "apoz>0.9": 2, "filters": 8}],
        summaries={"conv1": summary},
        apoz_threshold=0.9,
    )
    stages = ("logits", "conv2", "conv1")
    randomized = SimpleNamespace(
        method="gradient",
        stages=stages,
        spearman_abs=RNG.uniform(size=(3, 2)),
        spearman=RNG.uniform(size=(3, 2)),
        ssim=RNG.uniform(size=(3, 2)),
    )
    decoded = RNG.normal(size=(10, 5, 5, 1))
    return {
        "plot_activations": lambda: kv.plot_activations(kv.activations(model, x[:1], ["conv1"]), "conv1"),
        "plot_filters": lambda: kv.plot_filters(model, "conv1"),
        "plot_filters channels": lambda: kv.plot_filters(model, "conv2", mode="channels"),
        "plot_filters summary": lambda: kv.plot_filters(model, "conv2", mode="summary"),
        "plot_channel": lambda: kv.plot_channel(IMAGE, RNG.uniform(size=(8, 8, 4)), 2, layer="conv1"),
        "plot_attribution": lambda: kv.plot_attribution(IMAGE, signed, title="IG"),
        "plot_attribution_grid": lambda: kv.plot_attribution_grid(
            IMAGE, {"IG": signed, "saliency": np.abs(signed[..., 0])}
        ),
        "plot_randomization": lambda: kv.plot_randomization([randomized]),
        "plot_perturbation_curves": lambda: kv.plot_perturbation_curves({"IG": RNG.uniform(size=(2, 11))}),
        "plot_lrp": lambda: kv.plot_lrp(IMAGE, {"LRP": signed}),
        "plot_relevance_flow": lambda: kv.plot_relevance_flow(
            {"input": signed, "conv1": RNG.normal(size=(8, 8, 4))}, score=1.0
        ),
        "plot_filter_grid": lambda: kv.plot_filter_grid(
            images=RNG.uniform(size=(4, 16, 16, 3)), units=[0, 1, 2, 3], scores=[1.0, 0.5, 0.2, 0.1], title="conv1"
        ),
        "plot_dream": lambda: kv.plot_dream(
            IMAGE,
            SimpleNamespace(
                image=RNG.uniform(size=(16, 16, 3)),
                label="untrained",
                losses=[RNG.uniform(size=(3, 1))],
                sizes=[(16, 16)],
            ),
        ),
        "plot_inversion": lambda: kv.plot_inversion(
            IMAGE,
            SimpleNamespace(
                images=RNG.uniform(size=(2, 16, 16, 3)), label="", layers=["conv1", "conv2"], errors=[0.1, 0.2]
            ),
        ),
        "plot_decoded_filters": lambda: kv.plot_decoded_filters(decoded, labels=range(10), title="conv1"),
        "plot_decoded_filter": lambda: kv.plot_decoded_filter(
            decoded[0], title="conv1 filter 0 (bicubic) untrained (random weights)"
        ),
        "plot_response_comparison": lambda: kv.plot_response_comparison(
            IMAGE[..., 0], {"c": RNG.normal(size=(8, 8, 3))}, {"c": RNG.normal(size=(8, 8, 3))}, maps=3
        ),
        "plot_top_images": lambda: kv.plot_top_images(
            decoded[0],
            IMAGE[None, ..., 0].repeat(2, 0),
            np.zeros((2, 2), int),
            IMAGE[None, ..., 0].repeat(2, 0),
            np.ones((2, 2), int),
            stride=2,
        ),
        "plot_class_matrix": lambda: kv.plot_class_matrix(
            RNG.uniform(size=(3, 3)), RNG.uniform(size=(3, 3, 8, 8)), decoded[:3], hit_rate=0.67
        ),
        "plot_error_table": lambda: plot_error_table({("L3", "bicubic"): (0.01, 0.002)}),
        "plot_top_activating": lambda: kv.plot_top_activating(top, [0, 1]),
        "plot_neuron_features": lambda: kv.plot_neuron_features(features),
        "plot_dead_filters": lambda: kv.plot_dead_filters(report),
        "plot_filter_similarity": lambda: kv.plot_filter_similarity(
            SimpleNamespace(layer="conv1", cosine=np.eye(4), correlation=None)
        ),
        "plot_embedding_grid": lambda: kv.plot_embedding_grid(
            SimpleNamespace(
                layer="gap",
                embedding=RNG.normal(size=(6, 2)),
                trustworthiness=0.9,
                random_trustworthiness=0.5,
                mosaic=RNG.uniform(size=(32, 48, 3)),
                shape=(2, 3),
            )
        ),
    }


def text_sizes_px(fig) -> list:
    """(pixels, text) of every visible non-empty text in the figure, colour-bar insets included."""
    return [
        (t.get_fontsize() * fig.dpi / 72, t.get_text())
        for t in fig.findobj(Text)
        if t.get_text().strip() and t.get_visible()
    ]


@pytest.mark.parametrize("style, smallest", [("notebook", 11.0), ("slides", 17.0)])
def test_every_plot_is_readable_and_leaves_matplotlib_settings_alone(scan, style, smallest):
    kv.style(style)
    with global_state_unchanged():
        for name, call in plot_calls(scan).items():
            fig = call()
            assert fig.dpi == kv.current_style().dpi, name
            sizes = text_sizes_px(fig)
            assert sizes and min(sizes)[0] >= smallest, (name, min(sizes))  # 72 dpi and 6-pt labels gave 6-px text
            plt.close(fig)


def test_activation_titles_give_the_layer_size_not_the_drawn_size():
    maps = {"block1_conv1": RNG.uniform(size=(1, 224, 224, 4))}
    title = kv.plot_activations(maps, "block1_conv1").axes[0].get_title()
    assert "4/4 maps 224x224" in title and "averaged over 2x2 blocks" in title
    title = kv.plot_activations(maps, "block1_conv1", max_tile=None).axes[0].get_title()
    assert "224x224" in title and "averaged" not in title


def test_one_pixel_maps_are_drawn_as_one_bar_per_channel():
    values = RNG.normal(size=10)
    fig = kv.plot_activations({"conv4": values.reshape(1, 1, 1, 10)}, "conv4")
    bars = fig.axes[0].patches
    np.testing.assert_allclose([b.get_height() for b in bars], values)  # the values themselves, not 10 equal squares
    assert "10/10 maps 1x1" in fig.axes[0].get_title()


def test_an_all_zero_grad_cam_says_why():
    cam = np.zeros((16, 16))
    for fig in (
        kv.plot_attribution_grid(IMAGE, {"Grad-CAM": cam, "saliency": RNG.uniform(size=(16, 16))}),
        kv.plot_attribution(IMAGE, cam, title="Grad-CAM"),
    ):
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert sum("no positive evidence" in t for t in texts) == 1
    texts = [t.get_text() for t in kv.plot_attribution(IMAGE, np.zeros((16, 16)), title="occlusion").findobj(Text)]
    assert any("zero everywhere" in t for t in texts)


def test_colour_bars_state_what_red_and_blue_mean():
    signed, unsigned = RNG.normal(size=(16, 16, 3)), RNG.uniform(size=(16, 16))
    fig = kv.plot_attribution_grid(IMAGE, {"IG": signed, "saliency": unsigned})
    ticks = [[t.get_text() for t in ax.child_axes[0].get_xticklabels()] for ax in fig.axes[1:3]]
    assert ticks == [["against", "0", "for"], ["0", "high"]]
    note = " ".join(t.get_text() for t in fig.texts)  # the figure-level note under the panels
    assert "red: evidence for the class" in note and "blue: evidence against" in note and "importance" in note
    fig = kv.plot_lrp(IMAGE, {"LRP": signed})
    assert [t.get_text() for t in fig.axes[1].child_axes[0].get_xticklabels()] == ["against", "0", "for"]
    assert "red: relevance for the class" in " ".join(t.get_text() for t in fig.texts)


@pytest.mark.parametrize("style", ["notebook", "slides"])
def test_tile_labels_do_not_run_into_other_tiles(scan, style):
    kv.style(style)
    for fig in (
        kv.plot_decoded_filters(RNG.normal(size=(12, 5, 5, 1)), labels=range(12)),
        kv.plot_neuron_features(scan[3]),
    ):
        ax = fig.axes[0]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        grid = ax.images[0].get_array()
        labels = [t for t in ax.texts if t.get_text().strip()]
        assert labels
        for label in labels:  # the label's box covers only padding/band pixels of the mosaic, never another tile
            box = label.get_window_extent(renderer).transformed(ax.transData.inverted())
            rows = slice(max(int(np.floor(min(box.y0, box.y1))), 0), int(np.ceil(max(box.y0, box.y1))))
            cols = slice(max(int(np.floor(box.x0)), 0), int(np.ceil(box.x1)))
            under = np.asarray(grid)[rows, cols]
            assert np.all(under == 1.0), (style, label.get_text())


def test_mosaic_places_tiles_in_reading_order_or_at_given_cells():
    tiles = RNG.uniform(size=(5, 3, 2))
    image, origins = mosaic(tiles, cols=2, pad=1, fill=-1.0)
    assert image.shape == (3 * 4 - 1, 2 * 3 - 1) and origins[3] == (4, 3)
    for tile, (y, x) in zip(tiles, origins):
        np.testing.assert_array_equal(image[y : y + 3, x : x + 2], tile)
    cells = np.array([[1, 2], [0, 0], [2, 1], [0, 1], [1, 0]])
    image, origins = mosaic(tiles, pad=0, cells=cells, shape=(3, 3))
    expected = np.ones((9, 6))
    for tile, (r, c) in zip(tiles, cells):
        expected[3 * r : 3 * r + 3, 2 * c : 2 * c + 2] = tile
    np.testing.assert_array_equal(image, expected)
