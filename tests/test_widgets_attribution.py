"""The Attribution widget lists every registry method, renders each one, and asks before expensive work.

Controls are driven as the browser drives them (a comm "update" message), as in test_widgets.py.
"""

import keras
import matplotlib
import pytest

import kerasviz as kv
from kerasviz.attribution import catalog
from kerasviz.attribution.registry import methods
from kerasviz.core import cost
from kerasviz.testing import unchanged
from kerasviz.widgets.attribution import available_methods

matplotlib.use("Agg")


def send(control, **state):
    control.comm.handle_msg({"content": {"data": {"method": "update", "state": state}}})


def titles(widget) -> str:
    return " | ".join(ax.get_title() for fig in widget.last_figures for ax in fig.axes)


# Cheap settings per option name, so the whole registry renders in a few seconds on the tiny CNN.
CHEAP = {"samples": 100, "n_segments": 8, "designs": 8, "grid_size": 4}


def test_every_registry_method_renders_in_the_widget(cnn, images):
    x = images[:2]
    with unchanged(cnn, x):
        widget = kv.widgets.AttributionExplorer(cnn, x, budget=1e6)
        assert list(widget.method.options) == [m.label for m in methods().values()]  # all of them, in order
        for option, control in widget.controls.items():
            if option.name in CHEAP:
                control.value = (
                    min(max(CHEAP[option.name], control.min), control.max)
                    if hasattr(control, "min")
                    else CHEAP[option.name]
                )
        for index, label in enumerate(widget.method.options):
            draws = widget.draws
            send(widget.method, index=index)
            assert widget.error is None and widget.status.state == "done", (label, widget.error)
            assert widget.draws == draws + 1 and label in titles(widget), (label, titles(widget))
            shown = {o.name for o, c in widget.controls.items() if c.layout.display != "none"}
            assert shown == {o.name for o in widget.entry.options}, label  # only this method's settings
    matplotlib.pyplot.close("all")


@pytest.fixture
def timing(cnn, monkeypatch):
    """A fixed speed for `cnn`: 0.5 s per forward pass, 1 s per forward + backward; conv2 halfway."""
    fixed = cost.ModelTiming(
        forward=0.5,
        gradient=1.0,
        trace=0.0,
        input_pixels=16 * 16,
        depth={"conv1": 0.25, "pool1": 0.25, "conv2": 0.5, "gap": 0.5, "head": 1.0},
    )
    monkeypatch.setattr(cost, "model_timing", lambda model: fixed)
    return fixed


# label: the seconds the fixed speed gives with the widget's default settings (conv2 has 16 channels)
EXPENSIVE = {
    "Score-CAM": (16 + 1) * 0.5,
    "Ablation-CAM": (16 * 0.5 + 1) * 0.5,  # each ablated copy runs the second half of the model
    "RISE": 1001 * 0.5,
    "LIME": 501 * 0.5,
    "KernelSHAP": (1024 + 2) * 0.5,
    "Sobol": 32 * (64 + 2) * 0.5,
    "occlusion": (15 * 15 + 1) * 0.5,  # patch 2 of 16 px, stride 1
}


@pytest.mark.parametrize("label", list(EXPENSIVE))
def test_expensive_methods_are_estimated_and_ask_above_the_budget(cnn, images, timing, label):
    widget = kv.widgets.AttributionExplorer(cnn, images[:2], budget=2)  # opens on Grad-CAM: one pass, never asks
    assert widget.status.state == "done" and widget.last_cost is None
    draws = widget.draws
    send(widget.method, index=list(widget.method.options).index(label))
    estimate = widget.estimate()
    assert estimate.seconds == pytest.approx(EXPENSIVE[label])
    assert widget.status.state == "waiting" and widget.draws == draws, label
    assert str(estimate) in widget.status.value and widget.run_anyway.layout.display != "none"


def test_run_anyway_computes_and_a_cheaper_setting_runs_without_asking(cnn, images, timing):
    widget = kv.widgets.AttributionExplorer(cnn, images[:2], budget=4, method="score_cam")
    assert widget.status.state == "waiting" and widget.draws == 0  # 8.5 s > 4 s: the first picture waits too
    widget.run_anyway.click()
    assert widget.status.state == "done" and widget.draws == 1 and "Score-CAM" in titles(widget)
    send(widget.max_channels, index=1)  # 16 channels at most: all of conv2's, still 8.5 s
    assert widget.status.state == "waiting"
    send(widget.method, index=list(widget.method.options).index("SmoothGrad"))
    send(widget.samples, value=3)  # 3 passes of 1 s
    assert widget.status.state == "done" and widget.settings() == {"noise": 0.15, "samples": 3}


def test_methods_offered_follow_what_the_model_allows():
    mlp = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    offered = available_methods(mlp)
    assert "Grad-CAM" not in offered and "Score-CAM" not in offered and "saliency" in offered and "RISE" in offered
    assert catalog.PATCH in offered["occlusion"].options
