"""Dataset-views explorer: layer dropdown, filter slider, patches / images / Neuron Feature."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as W
import numpy as np

from kerasviz.core.layers import conv_layers
from kerasviz.data import weights_label
from kerasviz.dataset.neuron_feature import neuron_feature
from kerasviz.dataset.topk import top_activating
from kerasviz.plotting.dataset import plot_neuron_features, plot_top_activating
from kerasviz.widgets import budget as B
from kerasviz.widgets._display import show_figure
from kerasviz.widgets.base import ViewWidget

VIEWS = ("patches", "images", "neuron feature")


class TopActivatingExplorer(ViewWidget):
    """Browse the top-k images, patches and Neuron Feature of every filter.

    Each layer is scanned once (`kv.top_activating`, cached); moving the
    controls only redraws.

    Args:
        model: a Keras image model (unchanged).
        data: images `(N, H, W, C)` in the model's input space (or a dataset / generator).
        layers: layer names to offer (default: every conv layer).
        k: top images per filter.
        labels: `(N,)` labels, for the class selectivity index.
        display: maps model-space tiles to RGB (e.g. `kv.deprocess`).
        rows: filters drawn per page.
        budget: seconds one interaction may take without asking.

    Example:
        >>> kv.widgets.TopActivatingExplorer(net, x_test[:2000], labels=y_test[:2000])
    """

    widget_name = "dataset"

    def __init__(
        self,
        model,
        data,
        layers: Sequence[str] | None = None,
        k: int = 9,
        labels=None,
        display: Callable | None = None,
        rows: int = 4,
        *,
        budget=None,
    ):
        self.model, self.data, self.k, self.labels, self.display, self.rows = model, data, k, labels, display, rows
        self._scans: dict = {}
        self.layer = W.Dropdown(options=list(layers or conv_layers(model)), description="layer")
        self.first = W.IntSlider(0, 0, 0, description="first filter", continuous_update=False)
        self.view = W.ToggleButtons(options=VIEWS, description="show")
        self.out = W.Output()
        self.observe_controls((self.layer,), self._new_layer)
        self.observe_controls((self.first, self.view), self._redraw)
        self._setup([W.HBox([self.layer, self.first]), self.view], [self.out], budget)
        self.run(self._new_layer, "scanning")

    def scan(self):
        """The `(TopActivating, NeuronFeatures)` of the current layer (computed once).

        None while a scan estimated above the budget waits for "run anyway".
        """
        name = self.layer.value
        if name not in self._scans:
            count = len(self.data) if isinstance(self.data, np.ndarray) else 0
            if count > 256:  # a large array: estimate the scan first (generators have no length)
                depth = B.model_timing(self.model).layer_fraction(name)
                cost = B.forward_cost(self.model, count * depth, f"scanning {count:,} images up to {name}")
                if not self.within_budget(cost, self._new_layer):
                    return None
            top = top_activating(self.model, name, self.data, self.k, labels=self.labels)
            self._scans[name] = (top, neuron_feature(top))
        return self._scans[name]

    def filters(self) -> list[int]:
        top, _ = self.scan()
        return list(range(self.first.value, min(self.first.value + self.rows, len(top.indices))))

    def figure(self):
        """The current view as a Figure (what the widget shows)."""
        top, features = self.scan()
        label = weights_label(self.model)
        suffix = f" [{label}]" if label else ""
        if self.view.value == "neuron feature":
            return plot_neuron_features(
                features,
                self.filters(),
                display=self.display,
                cols=self.rows,
                title=f"{top.layer}: Neuron Features{suffix}",
            )
        return plot_top_activating(
            top,
            self.filters(),
            kind=self.view.value,
            display=self.display,
            title=f"{top.layer}: top {top.k} {self.view.value}{suffix}",
        )

    def _new_layer(self, change=None):
        scanned = self.scan()
        if scanned is None:
            return
        top, _ = scanned
        self.first.max = max(len(top.indices) - self.rows, 0)
        self.first.value = min(self.first.value, self.first.max)
        self._redraw()

    def _redraw(self, change=None):
        if self.layer.value not in self._scans:  # waiting for "run anyway"
            return
        figure = self.figure()
        with self.out:
            self.out.clear_output(wait=True)
            show_figure(figure)
        self.drawn(figure)


DatasetExplorer = TopActivatingExplorer  # the Explorer's tab name
