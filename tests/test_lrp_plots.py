"""LRP figures and widget: they draw what kv.lrp computed and react to their controls."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import kerasviz as kv
from kerasviz.testing import unchanged


def test_heatmap_is_signed_and_scaled():
    r = np.zeros((4, 4, 3))
    r[0, 0] = 1.0
    r[3, 3] = -2.0
    heat = kv.relevance_heatmap(r, percentile=100)
    assert heat.shape == (4, 4) and heat.min() == -1 and heat[0, 0] == 0.5


def test_plot_lrp_and_flow(cnn, images):
    res = kv.lrp(cnn, images[:2], rule="small", return_layers=True, progress=False)
    fig = kv.plot_lrp(
        images[0], {"small": res.input[0], "zero": kv.lrp(cnn, images[0], rule="zero", progress=False)}, title="t"
    )
    assert len(fig.axes) == 3
    plt.close(fig)
    flow = res.flow(1)
    assert list(flow)[0] == "input" and len(flow) == len(res.layers) + 1
    fig = kv.plot_relevance_flow(flow, score=float(res.scores[1]))
    assert len(fig.axes) >= 2
    plt.close(fig)


def test_widget_controls_recompute(cnn, images):
    with unchanged(cnn, images):
        w = kv.widgets.LRPExplorer(cnn, images[:3], show_flow=False)
        w.rule.value = "gamma"
        w.gamma.value = 1.0
        assert w.params() == {"rule": "gamma", "bounds": None, "gamma": 1.0} and w.epsilon.disabled
        w.rule.value = "alpha_beta"
        w.alpha.value = 3.0
        assert w.params()["beta"] == 2.0
        w.image.value = 2
        w.flow.value = True
        assert w.result.input.shape == (1, 16, 16, 3)
        direct = kv.lrp(cnn, images[2], rule="alpha_beta", alpha=3.0, beta=2.0, progress=False)
        np.testing.assert_allclose(w.result.input[0], direct, rtol=1e-5, atol=1e-7)
    plt.close("all")
