"""kv.widgets.Explorer: lazy tabs (nothing computed at construction), cached, figures shown, errors shown in the tab."""

import keras
import matplotlib
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.testing import nested_model, unchanged
from kerasviz.widgets.explorer import LazyTabs

TABS = ["Activations", "Filters", "Attribution", "Decoding", "Dataset", "Concepts"]


@pytest.fixture
def shown():
    """What a notebook would display: an IPython shell with the inline matplotlib backend, recording outputs.

    Family widgets show figures either with `plt.show()` or `display(fig)`; both reach the
    shell's display publisher here, as they reach the kernel's in Jupyter or Voila.
    """
    import matplotlib.pyplot as plt
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats
    from traitlets.config import Config

    outputs = []

    class Recorder(DisplayPublisher):
        def publish(self, data, metadata=None, *args, **kwargs):
            outputs.append(data)

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):  # inline figures need no GUI event loop
            pass

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    rc = matplotlib.rcParams.copy()
    shell = Shell.instance(config=config)
    shell.display_pub = Recorder(shell=shell)
    shell.enable_matplotlib("inline")
    select_figure_formats(shell, {"png"})  # the inline backend registers it for its first shell only
    yield outputs
    plt.close("all")
    Shell.clear_instance()
    plt.switch_backend("Agg")
    matplotlib.rcParams.update(rc)


def images_shown(outputs) -> int:
    return sum("image/png" in data for data in outputs)


def walk(explorer):
    """Select every tab and every sub-tab; returns {title: (built, error)}."""
    states = {}
    for title in TABS:
        explorer.tabs.select(title)
        panel = explorer.panels[title]
        states[title] = (panel.built, panel.error)
        if isinstance(panel.content, LazyTabs):
            for sub, subpanel in panel.content.panels.items():
                panel.content.select(sub)
                states[f"{title}/{sub}"] = (subpanel.built, subpanel.error)
    return states


def test_construction_computes_nothing_and_display_builds_only_the_shown_tab(cnn, images, shown):
    with unchanged(cnn, images):
        explorer = kv.widgets.Explorer(cnn, images)
        assert list(explorer.panels) == TABS and explorer.tabs.titles == tuple(TABS)
        assert not any(p.built or p.builds for p in explorer.panels.values()) and not shown
        explorer._repr_mimebundle_()  # what Jupyter / Voila call to show it
    assert [t for t, p in explorer.panels.items() if p.built] == ["Activations"]
    assert images_shown(shown) >= 1 and "computed in" in explorer.panels["Activations"].status.value


def test_each_tab_builds_once_shows_a_figure_and_is_cached(cnn, images, shown):
    explorer = kv.widgets.Explorer(cnn, images)
    with unchanged(cnn, images):
        for index in (1, 2, 3, 4, 5, 0):  # the first tab is already selected: come back to it last
            title, before = TABS[index], len(shown)
            explorer.tabs.selected_index = index
            panel = explorer.panels[title]
            assert panel.built and panel.error is None, (title, panel.error)
            if title == "Concepts":  # its first sub-tab, TCAV, says what it needs (no concepts were given)
                assert "TCAV needs concept images" in panel.content.panels["TCAV"].content.value
                assert not any(p.built for t, p in panel.content.panels.items() if t != "TCAV")
                continue
            assert images_shown(shown[before:]) >= 1, f"{title} showed no figure"
    filters = explorer.panels["Filters"].content
    assert filters.panels["weights"].built and not filters.panels["feature visualization"].built  # optimisation waits
    before = len(shown)
    for index in (0, 2, 4, 5, 2, 0):  # switching back: cached, nothing recomputed or redrawn
        explorer.tabs.selected_index = index
    assert all(p.builds == 1 for p in explorer.panels.values()) and len(shown) == before
    filters.select("feature visualization")
    assert filters.panels["feature visualization"].built and images_shown(shown[before:]) >= 1


def test_build_error_is_shown_in_its_tab_and_retry_recovers(cnn, images, monkeypatch):
    import kerasviz.widgets.explorer as explorer_module

    def broken(*args, **kwargs):
        raise RuntimeError("scan failed: disk on fire")

    real = explorer_module.TopActivatingExplorer
    monkeypatch.setattr(explorer_module, "TopActivatingExplorer", broken)
    explorer = kv.widgets.Explorer(cnn, images)
    explorer.tabs.select("Dataset")  # does not raise
    panel = explorer.panels["Dataset"]
    assert isinstance(panel.error, RuntimeError) and panel.content is None
    assert "disk on fire" in panel.status.value and "RuntimeError" in panel.status.value
    assert panel.retry.layout.display != "none"
    explorer.tabs.select("Activations")  # the other tabs still work
    assert explorer.panels["Activations"].error is None
    explorer.tabs.select("Dataset")
    assert panel.builds == 1  # an error is a result too: no silent recompute on every visit
    monkeypatch.setattr(explorer_module, "TopActivatingExplorer", real)
    panel.retry.click()
    assert panel.error is None and panel.content is not None and panel.builds == 2
    assert panel.retry.layout.display == "none"


def test_error_while_updating_a_control_is_shown_in_its_tab(cnn, images, monkeypatch):
    explorer = kv.widgets.Explorer(cnn, images)
    activations = explorer.tabs.select("Activations")
    draws = activations.draws
    monkeypatch.setattr("kerasviz.widgets.activations.activations", lambda *a, **k: 1 / 0)
    # what the browser sends when the image slider moves (a new image needs new activations)
    activations.image.comm.handle_msg({"content": {"data": {"method": "update", "state": {"value": 3}}}})
    # the tab's own widget shows the error; the tab itself (built fine) and the other tabs are untouched
    assert isinstance(activations.error, ZeroDivisionError) and activations.status.state == "failed"
    assert "ZeroDivisionError" in activations.status.value and activations.draws == draws
    assert explorer.panels["Activations"].error is None
    monkeypatch.undo()
    activations.image.comm.handle_msg({"content": {"data": {"method": "update", "state": {"value": 1}}}})
    assert (
        activations.error is None
        and "activations: updated in" in activations.status.value
        and activations.draws > draws
    )


def test_widget_error_in_a_nested_tab_stays_in_that_widget(cnn, images):
    explorer = kv.widgets.Explorer(cnn, images)
    attribution = explorer.tabs.select("Attribution")
    lrp = attribution.select("LRP")
    lrp.target.comm.handle_msg({"content": {"data": {"method": "update", "state": {"value": 5000}}}})
    assert isinstance(lrp.error, ValueError) and "5000" in lrp.status.value
    assert attribution.panels["LRP"].error is None and explorer.panels["Attribution"].error is None
    lrp.target.comm.handle_msg({"content": {"data": {"method": "update", "state": {"value": 1}}}})
    assert lrp.error is None and lrp.status.state == "done"


def test_static_views_get_one_line_of_text(cnn, images):
    bundle = kv.widgets.Explorer(cnn, images)._repr_mimebundle_()
    assert bundle["text/plain"] == "Explorer: an interactive kerasviz widget; run the notebook to use it."
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_decoding_tab_explains_when_no_layer_can_be_decoded(images):
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, dilation_rate=2, activation="relu", name="dilated")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x), name="dilated_net")
    explorer = kv.widgets.Explorer(model, images)
    content = explorer.tabs.select("Decoding")
    assert explorer.panels["Decoding"].error is None
    assert "No decodable layers" in content.value and "dilated" in content.value and "dilation" in content.value


@pytest.mark.parametrize("sequential", [True, False])
def test_nested_transfer_learning_model(sequential, images):
    model = nested_model(sequential=sequential)
    with unchanged(model, images):
        explorer = kv.widgets.Explorer(model, images)
        states = walk(explorer)
    assert all(built and error is None for built, error in states.values()), states
    assert explorer.panels["Activations"].content.layer.options[0] == "base/conv1"
    assert explorer.panels["Decoding"].content.layer.options == ("base/conv1", "base/conv2")
    matplotlib.pyplot.close("all")


def test_vgg16_untrained_header_and_tabs():
    vgg = kv.load_vgg16(weights=None)
    photo = kv.preprocess(kv.sample_image("cat", size=224))  # one image (H, W, C)
    explorer = kv.widgets.Explorer(vgg, photo)  # (unchanged() is checked on the small models: 2 x 138M weights copied)
    assert "vgg16" in explorer.header.value and "untrained" in explorer.header.value
    explorer.tabs.select("Activations")
    explorer.tabs.select("Decoding")
    for title in ("Activations", "Decoding"):
        assert explorer.panels[title].error is None
    activations = explorer.panels["Activations"].content
    assert activations.display_images.dtype == np.uint8 and activations.display_images.shape == (1, 224, 224, 3)
    assert len(explorer.panels["Decoding"].content.layer.options) == 13  # every VGG16 conv decodes
    matplotlib.pyplot.close("all")


def test_lenet_trained_on_mnist(mnist):
    (xt, yt), (xs, ys) = mnist
    net = kv.train_lenet(xt[:3000], yt[:3000], xs[:200], ys[:200], epochs=1)
    digits = xs[::100][:8]
    with unchanged(net.model, net.prepare(digits[:2])):
        explorer = kv.widgets.Explorer(
            net.model,
            net.prepare(digits),
            display=digits[..., None],
            labels=ys[::100][:8],
            class_names=[str(d) for d in range(10)],
        )
        states = walk(explorer)
    assert all(built and error is None for built, error in states.values()), states
    assert "LeNet" in explorer.header.value and "test acc" in explorer.header.value
    assert explorer.panels["Decoding"].content.layer.options == ("conv1", "conv2", "conv3", "conv4")
    matplotlib.pyplot.close("all")


def test_bad_images_fail_at_construction(cnn):
    with pytest.raises(ValueError, match="channel"):
        kv.widgets.Explorer(cnn, np.zeros((2, 16, 16, 1), np.float32))
