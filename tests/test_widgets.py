"""Every stand-alone widget: errors shown inside it, a busy indicator, recovery, a budget, a static fallback.

Controls are driven as the browser drives them: a comm "update" message whose
state holds the synced trait (`value` for sliders and text boxes, `index` for
dropdowns), so the same code path runs as in JupyterLab or Voila.
"""

import matplotlib
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.widgets import budget as B

matplotlib.use("Agg")


def send(control, **state):
    """What the browser sends when the user changes `control`."""
    control.comm.handle_msg({"content": {"data": {"method": "update", "state": state}}})


def titles(widget) -> str:
    """Every title and label text of the figures the widget showed last."""
    texts = []
    for fig in widget.last_figures:
        texts += [t.get_text() for t in fig.texts]
        for ax in fig.axes:
            texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
    return " | ".join(texts)


def _widgets(cnn, images):
    return {
        "ActivationExplorer": lambda: kv.widgets.ActivationExplorer(cnn, images),
        "FilterExplorer": lambda: kv.widgets.FilterExplorer(cnn),
        "AttributionExplorer": lambda: kv.widgets.AttributionExplorer(cnn, images),
        "LRPExplorer": lambda: kv.widgets.LRPExplorer(cnn, images, show_flow=False),
        "DecodingExplorer": lambda: kv.widgets.DecodingExplorer(cnn, images),
        "DatasetExplorer": lambda: kv.widgets.DatasetExplorer(cnn, images, k=2),
        "FeatureVisExplorer": lambda: kv.widgets.FeatureVisExplorer(cnn, steps=8, size=16),
    }


# widget: (control, an invalid state from the browser, a valid state, text the new figure shows)
CASES = {
    "ActivationExplorer": ("layer", {"index": 99}, {"index": 2}, "conv2 channel 0"),
    "FilterExplorer": ("layer", {"index": 99}, {"index": 1}, "16/16 filters"),
    "AttributionExplorer": ("target", {"index": 99}, {"index": 2}, "target "),
    "LRPExplorer": ("target", {"value": 5000}, {"value": 2}, "LRP epsilon"),
    "DecodingExplorer": ("filter", {"value": "not a number"}, {"value": 5}, "filter 5"),
    "DatasetExplorer": ("layer", {"index": 99}, {"index": 1}, "conv2"),
    "FeatureVisExplorer": ("layer", {"index": 99}, {"index": 0}, "conv1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_invalid_browser_value_is_shown_inside_the_widget_and_the_next_valid_value_recovers(name, cnn, images):
    control_name, bad, good, expected = CASES[name]
    widget = _widgets(cnn, images[:3])[name]()
    assert widget.error is None and widget.status.state == "done" and widget.draws >= 1
    control, draws, before = getattr(widget, control_name), widget.draws, titles(widget)
    send(control, **bad)  # must not raise: a comm handler's exception would be lost
    assert widget.error is not None and widget.status.state == "failed", name
    assert type(widget.error).__name__ in widget.status.value and "traceback" in widget.status.value
    assert widget.draws == draws and titles(widget) == before  # the last good figure stays
    send(control, **good)
    assert widget.error is None and widget.status.state == "done", (name, widget.error)
    assert widget.draws > draws and expected in titles(widget), (name, titles(widget))
    matplotlib.pyplot.close("all")


def test_a_failing_computation_is_shown_and_the_next_change_recovers(cnn, images, monkeypatch):
    widget = kv.widgets.LRPExplorer(cnn, images[:2], show_flow=False)
    monkeypatch.setattr("kerasviz.widgets.lrp.lrp", lambda *a, **k: 1 / 0)
    send(widget.rule, index=1)
    assert isinstance(widget.error, ZeroDivisionError) and "ZeroDivisionError" in widget.status.value
    monkeypatch.undo()
    send(widget.rule, index=0)
    assert widget.error is None and widget.params()["rule"] == "epsilon"


def test_busy_indicator_and_progress_while_computing(cnn, images, monkeypatch):
    from kerasviz._config import progress_bar

    widget = kv.widgets.LRPExplorer(cnn, images[:2], show_flow=False)
    seen = []
    import kerasviz.widgets.lrp as module

    real = module.lrp

    def slow_lrp(*args, **kwargs):
        seen.append((widget.status.state, widget.status.value))
        with progress_bar(4, "relevance") as bar:
            for _ in range(3):
                bar.update(1)
        seen.append((widget.status.state, widget.status.value))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "lrp", slow_lrp)
    send(widget.image, value=1)
    (state, busy), (_, progress) = seen
    assert state == "busy" and "fa-spin" in busy
    assert "relevance 3/4" in progress and "75%" in progress
    assert widget.status.state == "done" and "fa-spin" not in widget.status.value


def test_warnings_go_to_the_status_line_not_the_cell(cnn, images):
    widget = kv.widgets.DatasetExplorer(cnn, images[:3], k=9)  # k > images: top_activating warns
    assert widget.status.state == "done" and "note:" in widget.status.value


def test_static_fallback_is_one_line(cnn, images):
    for name, make in _widgets(cnn, images[:2]).items():
        widget = make()
        bundle = widget._repr_mimebundle_()
        assert (
            bundle["text/plain"]
            == f"{type(widget).__name__}: an interactive kerasviz widget; run the notebook to use it."
        )
        assert "children=" not in bundle["text/plain"] and "application/vnd.jupyter.widget-view+json" in bundle, name
    matplotlib.pyplot.close("all")


# ---- the budget -----------------------------------------------------------------------------
@pytest.fixture
def timing(cnn, monkeypatch):
    """A fixed, known speed for `cnn` (so estimates are exact): 1 s per forward + backward pass."""
    from kerasviz.core import cost

    fixed = B.ModelTiming(
        forward=0.5,
        gradient=1.0,
        trace=0.0,
        input_pixels=16 * 16,
        depth={"conv1": 0.25, "pool1": 0.25, "conv2": 1.0, "gap": 1.0, "logits": 1.0},
    )
    monkeypatch.setattr(cost, "model_timing", lambda model: fixed)
    return fixed


def test_cost_text_and_window_count():
    assert [str(B.Cost(s)) for s in (0.2, 12.4, 200, 20000)] == ["< 1 s", "≈ 12 s", "≈ 3 min", "≈ 5.6 h"]
    # 224 px, patch 28, stride 14: windows start at 0, 14, ..., 196 -> 15 x 15
    assert B.window_count(224, 224, 28, 14) == 225 and B.window_count(224, 224, 1, 1) == 224 * 224
    assert B.window_count(10, 10, 4, 3) == 9  # starts 0, 3, 6 (and 6 + 4 = 10 covers the edge)


def test_costs_count_passes(cnn, timing):
    assert B.gradient_cost(cnn, 33, "IG").seconds == 33.0
    assert B.occlusion_cost(cnn, 2, 16, 16, 4, 2).seconds == 2 * 49 * 0.5


def test_featurevis_cost_counts_steps_filters_depth_size_and_tracing(cnn, timing):
    cost = B.featurevis_cost(cnn, "conv1", [0, 1, 2, 3], 10, (32, 32), traced=False)
    passes = B.FEATUREVIS_BASE + B.FEATUREVIS_OVERHEAD * 0.25  # per image and step, conv1 being 1/4 of the model
    warm = 4 * 10 * 1.0 * 4 * passes  # filters x steps x 1 s per pass x 4x the pixels x passes
    assert cost.seconds == pytest.approx(warm + 0.0) and "4 filter(s) x 10 steps on conv1" in cost.what  # trace 0 here
    timing.trace = 1.0
    assert B.featurevis_cost(cnn, "conv1", [0, 1, 2, 3], 10, (32, 32), traced=False).seconds == pytest.approx(
        warm + 3.0
    )
    warm_cost = B.featurevis_cost(cnn, "conv1", [0, 1, 2, 3], 10, (32, 32))
    B.record_featurevis(cnn, warm_cost, warm + 2.5, traced=False)  # a first run teaches the tracing time
    assert timing.traces["featurevis"] == pytest.approx(2.5)
    B.record_featurevis(cnn, warm_cost, warm + 100.0, traced=False)  # but at most twice the prior guess
    assert timing.traces["featurevis"] == pytest.approx(6.0)
    B.record_featurevis(cnn, warm_cost, 2 * warm, traced=True)  # a warm run: twice the estimate
    assert B.featurevis_cost(cnn, "conv1", [0, 1, 2, 3], 10, (32, 32)).seconds == pytest.approx(2 * warm)
    # kv.estimate_seconds is the same model (warm, float32)
    assert kv.estimate_seconds(cnn, "conv1", [0, 1, 2, 3], steps=10, size=32, precision="float32") == pytest.approx(
        2 * warm
    )
    timing.trace = 0.0
    timing.ratios.clear()
    timing.traces.clear()


def test_record_corrects_later_estimates(cnn, timing):
    cost = B.gradient_cost(cnn, 10, "IG")
    B.record(cnn, "gradient", cost, 5.0)  # it took half the estimate
    assert B.gradient_cost(cnn, 10, "IG").seconds == pytest.approx(5.0)
    timing.ratios.clear()


def test_attribution_asks_above_the_budget_and_runs_when_told(cnn, images, timing):
    widget = kv.widgets.AttributionExplorer(cnn, images[:2], budget=20)  # Grad-CAM: one pass, never asks
    draws = widget.draws
    send(widget.method, index=list(kv.widgets.attribution.METHODS).index("integrated gradients"))  # 33 passes: 33 s
    assert widget.status.state == "waiting" and widget.draws == draws
    assert "≈ 33 s" in widget.status.value and widget.run_anyway.layout.display != "none"
    send(widget.steps, value=8)  # 9 passes: within the budget, runs
    assert widget.status.state == "done" and widget.draws == draws + 1 and widget.run_anyway.layout.display == "none"
    send(widget.steps, value=64)
    assert widget.status.state == "waiting"
    widget.run_anyway.click()
    assert widget.status.state == "done" and widget.draws == draws + 2 and widget.error is None


def test_occlusion_patch_slider_stops_where_the_cost_explodes():
    from kerasviz.testing import small_cnn

    model = small_cnn(input_shape=(64, 64, 3))
    widget = kv.widgets.AttributionExplorer(
        model, np.random.default_rng(0).uniform(0, 1, (1, 64, 64, 3)).astype("float32")
    )
    assert (widget.patch.min, widget.patch.value, widget.patch.max) == (2, 8, 32)  # 1/32, 1/8, 1/2 of the side


def test_featurevis_opens_on_the_deepest_layer_within_the_budget(cnn, timing, monkeypatch):
    monkeypatch.delenv("KERASVIZ_QUICK", raising=False)  # the estimate counts the steps that will run
    monkeypatch.setattr(kv.core.cost, "record", lambda *args, **kwargs: None)  # keep the fixed speed
    previews = []
    monkeypatch.setattr(
        kv.widgets.FeatureVisExplorer, "_preview", lambda self, snapshot: previews.append(snapshot.step)
    )
    # per filter and step: (0.06 + 2.2 x depth) passes of 1 s at 16 px: conv1 0.61 s, conv2 2.26 s
    per_step = {layer: B.FEATUREVIS_BASE + B.FEATUREVIS_OVERHEAD * timing.depth[layer] for layer in ("conv1", "conv2")}
    widget = kv.widgets.FeatureVisExplorer(cnn, steps=8, size=16, budget=4 * 8 * per_step["conv1"] + 1)
    assert widget.layer.value == "conv1" and widget.status.state == "done"
    assert previews == [8]  # estimated above 3 s: the running images are streamed (here every 8 steps)
    widget = kv.widgets.FeatureVisExplorer(cnn, steps=8, size=16, budget=4 * 8 * per_step["conv2"] + 1)
    assert widget.layer.value == "conv2"
    widget = kv.widgets.FeatureVisExplorer(cnn, steps=128, size=16, budget=120)  # nothing fits 128 steps: fewer
    assert widget.layer.value == "conv1" and widget.steps.value == 8 * int(120 / (4 * per_step["conv1"]) // 8) == 48
    assert widget.status.state == "done"
    widget = kv.widgets.FeatureVisExplorer(cnn, steps=128, size=16, budget=20)  # but not below 32 steps
    assert widget.layer.value == "conv1" and widget.steps.value == 32 and widget.status.state == "waiting"
    send(widget.layer, index=1)  # conv2 at 32 steps: 289 s, asks
    assert widget.status.state == "waiting" and "conv2" in widget.status.value and "≈ 5 min" in widget.status.value


def test_measured_timing_is_cached_per_model(cnn):
    first = B.model_timing(cnn)
    assert first is B.model_timing(cnn) and first.forward > 0 and first.gradient > 0
    assert first.depth["conv1"] < first.depth["conv2"] <= 1.0


def test_multiply_adds_match_the_layer_shapes(cnn):
    counts = B.multiply_adds(cnn)
    expected, total = {}, 0
    for layer in cnn.layers[1:]:
        weights = [w for w in layer.weights if len(w.shape) >= 2]
        if weights:
            spatial = int(np.prod([d for d in layer.output.shape[1:-1]])) if len(layer.output.shape) > 2 else 1
            total += spatial * int(np.prod(weights[0].shape))
        expected[layer.name] = total
    assert counts == expected


def test_bad_widget_arguments_fail_at_construction(cnn, images):
    from _checks import assert_clear_error

    assert_clear_error(lambda: kv.widgets.AttributionExplorer(cnn, images[:1], budget=-1), "budget")
    assert_clear_error(lambda: kv.widgets.FeatureVisExplorer(cnn, layer="conv9"), "layer")


def _open_size_base():
    """A convolutional base as `include_top=False` gives it: any input size, a feature map as output."""
    import keras

    x = inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    return keras.Model(inputs, x)


def test_cost_model_times_a_convolutional_base():
    from kerasviz.core.cost import measure_timing

    timing = measure_timing(_open_size_base())  # no class score to back-propagate from
    assert timing.gradient > 0 and timing.forward > 0
    assert timing.layer_fraction("conv1") < timing.layer_fraction("conv2") <= 1.0


def test_feature_visualization_widget_on_a_convolutional_base():
    base = _open_size_base()
    widget = kv.widgets.FeatureVisExplorer(base, layers=["conv1", "conv2"], count=2, steps=8, size=32)
    assert widget.figure is not None, widget.status.value
    assert "failed" not in widget.status.value


def test_a_callable_score_explains_a_convolutional_base():
    import tensorflow as tf

    base, x = _open_size_base(), np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    score = lambda out: tf.reduce_sum(out, axis=(1, 2, 3))  # noqa: E731
    expected = []
    for image in x:
        t = tf.convert_to_tensor(image[None])
        with tf.GradientTape() as tape:
            tape.watch(t)
            total = score(base(t))
        expected.append(np.abs(tape.gradient(total, t).numpy()[0]).max(-1))
    np.testing.assert_allclose(kv.saliency(base, x, score, progress=False), np.stack(expected), rtol=1e-5, atol=1e-6)
