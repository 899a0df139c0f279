"""kv.style: kerasviz's own figure defaults, applied to kerasviz figures only, never to matplotlib's globals."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv
from kerasviz.plotting.grid import grid_shape


@pytest.fixture(autouse=True)
def notebook_style():
    """Every test starts and ends with the default style."""
    kv.style("notebook")
    yield
    kv.style("notebook")
    plt.close("all")


def acts(channels=64, size=8):
    return {"conv": np.random.default_rng(0).uniform(0, 1, (1, size, size, channels)).astype("float32")}


def test_presets():
    assert kv.style() == kv.current_style() and kv.style().name == "notebook"
    slides = kv.style("slides")
    assert (slides.name, slides.font_size, slides.tiles_per_row, slides.colorbars) == ("slides", 15, 8, True)
    assert kv.current_style() is slides
    paper = kv.style("paper")
    assert paper.dpi == 300 and paper.font_size < 10


def test_style_changes_kerasviz_figures_not_matplotlib_settings():
    with global_state_unchanged():
        before = plt.figure()  # the user's own figure: matplotlib's defaults
        for name in ("notebook", "slides", "paper"):
            kv.style(name)
            fig = kv.plot_activations(acts(), "conv")
            style = kv.current_style()
            assert fig.dpi == style.dpi
            title = fig.axes[0].title
            assert title.get_fontsize() == pytest.approx(style.font_size)  # axes titles: "medium"
        kv.style("notebook")
        after = plt.figure()
    assert before.dpi == after.dpi == matplotlib.rcParams["figure.dpi"]


def test_kerasviz_figures_keep_their_resolution_under_a_low_notebook_dpi():
    # A notebook that lowers matplotlib's dpi for its own figures no longer shrinks kerasviz's.
    with matplotlib.rc_context({"figure.dpi": 72}):
        assert kv.plot_activations(acts(), "conv").dpi == 100


def test_context_manager_restores_the_previous_style():
    kv.style("slides")
    with kv.style("paper", dpi=150) as inside:
        assert kv.current_style() is inside and inside.dpi == 150 and inside.font_size == 8
        assert kv.plot_activations(acts(), "conv").dpi == 150
    assert kv.current_style().name == "slides"


def test_single_settings_override_the_current_style():
    kv.style("slides")
    changed = kv.style(colorbars=False)
    assert changed.name == "slides" and not changed.colorbars and changed.font_size == 15


def test_tiles_per_row_sets_mosaic_columns():
    for per_row in (4, 8, 16):
        with kv.style(tiles_per_row=per_row):
            cols = min(per_row, 8)  # about sqrt(64) columns, at most the style's tiles per row
            assert grid_shape(64) == (64 // cols, cols)
            fig = kv.plot_activations(acts(64, 8), "conv")
            width = fig.axes[0].images[0].get_array().shape[1]
            assert width == cols * 8 + (cols - 1) * 1  # 8-px tiles, 1-px separators


def test_colorbars_off():
    image = np.zeros((16, 16, 3), np.uint8)
    signed = np.random.default_rng(0).normal(size=(16, 16))
    for on in (True, False):
        with kv.style(colorbars=on):
            fig = kv.plot_attribution_grid(image, {"IG": signed})
            bars = [child for ax in fig.axes for child in ax.child_axes]
            assert bool(bars) == on and any(t.get_text() for t in fig.texts) == on


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: kv.style("projector"), "name"),
        (lambda: kv.style("slides", font=12), "font"),
        (lambda: kv.style(dpi=-1), "dpi"),
        (lambda: kv.style(dpi=float("nan")), "dpi"),
        (lambda: kv.style(tiles_per_row=0), "tiles_per_row"),
        (lambda: kv.style(tiles_per_row=2.5), "tiles_per_row"),
        (lambda: kv.style(colorbars="yes"), "colorbars"),
    ],
)
def test_bad_style_arguments(call, argument):
    assert_clear_error(call, argument)
    assert kv.current_style().name == "notebook"
