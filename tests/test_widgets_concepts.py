"""The Explorer's Concepts tab: lazy sub-tabs (TCAV, NMF concepts, CRP, activation atlas, caricature), each
cached per setting, errors shown inside, work above the budget asked first; driven as the browser drives it
(comm "update" messages and button clicks)."""

import matplotlib
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.core import cost
from kerasviz.testing import small_cnn, unchanged

matplotlib.use("Agg")

MODEL = small_cnn(softmax=False)
X = np.random.default_rng(0).uniform(0, 1, (5, 16, 16, 3)).astype("float32")
CONCEPTS = {"bright": np.clip(X[:4] + 0.5, 0, 1), "dark": X[:4] * 0.2}
POOL = np.random.default_rng(1).uniform(0, 1, (12, 16, 16, 3)).astype("float32")


def send(control, **state):
    control.comm.handle_msg({"content": {"data": {"method": "update", "state": state}}})


def concepts_tab(**kwargs):
    explorer = kv.widgets.Explorer(MODEL, X, **kwargs)
    return explorer, explorer.tabs.select("Concepts")


def test_tab_is_lazy_and_says_what_tcav_needs():
    explorer = kv.widgets.Explorer(MODEL, X)
    assert not explorer.panels["Concepts"].built
    tabs = explorer.tabs.select("Concepts")
    assert list(tabs.panels) == ["TCAV", "NMF concepts", "CRP", "activation atlas", "caricature"]
    assert [t for t, p in tabs.panels.items() if p.built] == ["TCAV"]  # only the shown sub-tab
    note = tabs.panels["TCAV"].content.value
    assert "TCAV needs concept images and a random pool" in note and "random_images=" in note


def test_tcav_with_concepts_is_cached_per_setting(monkeypatch):
    with unchanged(MODEL, X):
        _, tabs = concepts_tab(concepts=CONCEPTS, random_images=POOL)
    view = tabs.panels["TCAV"].content
    assert view.error is None and view.draws == 1 and len(view.results) == 1
    result = next(iter(view.results.values()))
    assert list(result.concepts) == ["bright", "dark"] and np.shape(result.score) == (2,)
    send(view.target, index=1)  # a class: computed
    send(view.target, index=0)  # back to "predicted": cached, redrawn without recomputing
    assert len(view.results) == 2 and view.draws == 3 and view.status.state == "done"


def test_nmf_views_and_an_error_inside_that_recovers(monkeypatch):
    _, tabs = concepts_tab()
    view = tabs.select("NMF concepts")
    assert view.error is None and view.layer.options == ("conv1", "conv2")  # the layers after a ReLU
    assert view.layer.value == "conv2"
    send(view.view, index=1)  # heatmaps on the current image: same result, redrawn
    send(view.image, value=2)
    assert view.error is None and len(view.results) == 1 and view.draws == 3
    monkeypatch.setattr("kerasviz.concepts.nmf_concepts", lambda *a, **k: 1 / 0)
    send(view.k, value=3)  # a new k: computed, and it fails inside the widget
    assert isinstance(view.error, ZeroDivisionError) and view.status.state == "failed" and view.draws == 3
    monkeypatch.undo()
    send(view.k, value=5)
    assert view.error is None and view.status.state == "done" and view.draws == 4
    result = view.results[("conv2", 5, None)]
    assert result.components.shape == (5, 16)


def test_crp_bars_click_a_channel_and_references():
    _, tabs = concepts_tab()
    view = tabs.select("CRP")
    assert view.error is None and view.layer.value == "conv2"
    ranked = view.crp_result
    assert len(view.bars.children) == 12 and np.shape(ranked.filters) == (6,)
    top = int(np.argmax(np.abs(ranked.share)))
    assert view.bars.children[0].children[0].description == f"#{top}"
    channel = int(view.bars.children[3].children[0].description[1:])
    view.bars.children[3].children[0].click()  # what the browser does on a click
    assert view.error is None and view.channel == channel
    alone = kv.crp(MODEL, X[0], layer="conv2", filters=[channel], progress=False)
    np.testing.assert_allclose(view.crp_result.heatmaps, alone.heatmaps, rtol=1e-5, atol=1e-7)
    view.all_top.click()
    assert view.channel is None and view.crp_result is ranked  # cached
    send(view.view, index=1)  # references: relevance maximization and top-activating, over the images
    assert view.error is None and view.status.state == "done"
    relevant, active = view.results[("references", "conv2", "epsilon")]
    assert relevant.indices.shape == (16, 5) and active.indices.shape == (16, 5)
    send(view.image, value=1)  # a new image: back to its top channels
    assert view.channel is None and view.error is None


@pytest.fixture
def slow(monkeypatch):
    """A slow machine for MODEL: every pass takes 1 s, so the atlas asks first."""
    fixed = cost.ModelTiming(
        forward=0.5,
        gradient=1.0,
        trace=1.0,
        input_pixels=16 * 16,
        depth={"conv1": 0.25, "pool1": 0.25, "conv2": 0.9, "gap": 0.9, "head": 1.0},
    )
    monkeypatch.setattr(cost, "model_timing", lambda model: fixed)
    return fixed


def test_atlas_asks_above_the_budget_and_is_cached_per_layer_and_grid(slow):
    _, tabs = concepts_tab(steps=8)
    view = tabs.select("activation atlas")
    assert view.status.state == "waiting" and view.draws == 0 and "atlas: 36 icons" in view.status.value
    send(view.grid, value=3)  # 9 icons: still above 10 s on this machine
    assert view.status.state == "waiting"
    view.run_anyway.click()
    assert view.status.state == "done" and view.draws == 1 and list(view.results) == [("conv2", 3)]
    send(view.grid, value=4)
    view.run_anyway.click()
    send(view.grid, value=3)  # computed before: shown at once, no question
    assert view.status.state == "done" and view.draws == 3 and len(view.results) == 2


def test_caricature_per_layer_and_image():
    _, tabs = concepts_tab(steps=8)
    view = tabs.select("caricature")
    assert view.error is None and view.draws == 1
    send(view.image, value=1)
    send(view.layer, index=0)
    assert view.error is None and set(view.results) == {("conv2", 0), ("conv2", 1), ("conv1", 1)}


def test_a_failing_sub_tab_stays_in_its_panel(monkeypatch):
    import kerasviz.widgets.crp as crp_module

    monkeypatch.setattr(crp_module.CRPView, "__init__", lambda self, *a, **k: 1 / 0)
    _, tabs = concepts_tab()
    tabs.select("CRP")
    assert (
        isinstance(tabs.panels["CRP"].error, ZeroDivisionError)
        and "ZeroDivisionError" in tabs.panels["CRP"].status.value
    )
    assert tabs.select("NMF concepts").error is None


def test_bad_concept_sets_fail_at_construction():
    from _checks import assert_clear_error

    assert_clear_error(lambda: kv.widgets.Explorer(MODEL, X, concepts=["stripes"]), "concepts")
    assert_clear_error(lambda: kv.widgets.Explorer(MODEL, X, concepts={"a": X[..., :2]}), "concepts['a']")
    assert_clear_error(lambda: kv.widgets.Explorer(MODEL, X, random_images=np.zeros((3, 16, 16))), "random_images")
