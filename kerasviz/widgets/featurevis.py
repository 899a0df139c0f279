"""Feature-visualization explorer: layer, filter, parameterization and regularizer."""

from __future__ import annotations

from typing import Optional, Sequence

import ipywidgets as W
import numpy as np

from kerasviz.core.layers import conv_layers, find_layer
from kerasviz.featurevis.regularizers import TV, Blur, Lp
from kerasviz.featurevis.render import visualize_filters
from kerasviz.plotting.featurevis import plot_filter_grid
from kerasviz.widgets._display import show_figure

REGULARIZERS = {"none": (), "total variation": (TV(0.05),), "blur every 4 steps": (Blur(1.0, 4),), "L6 norm": (Lp(0.05),)}


class FeatureVisExplorer(W.VBox):
    """Pick a layer and a filter (or a range of filters), a parameterization and a regularizer.

    Args:
        model: a Keras image model (unchanged).
        layers: layer names offered (default: every conv layer).
        count: filters shown at once, from the slider's filter on.
        steps: optimisation steps (capped in quick mode).
        size: image size (default per architecture).

    Example:
        >>> from kerasviz.widgets import FeatureVisExplorer
        >>> FeatureVisExplorer(vgg, layers=["block1_conv2", "block3_conv1", "block5_conv3"])
    """

    def __init__(self, model, layers: Optional[Sequence[str]] = None, count: int = 4, steps: int = 128, size=None):
        self.model, self.count, self.size = model, count, size
        names = list(layers) if layers is not None else conv_layers(model)
        self.layer = W.Dropdown(options=names, value=names[-1] if layers is None else names[0], description="layer")
        self.filter = W.IntSlider(0, 0, 1, description="filter", continuous_update=False)
        self.param = W.ToggleButtons(options=["fourier", "pixels"], description="param")
        self.regularizer = W.Dropdown(options=list(REGULARIZERS), description="regularizer")
        self.steps = W.IntSlider(steps, min=8, max=512, step=8, description="steps", continuous_update=False)
        self.output = W.Output()
        self.figure, self.result, self._quiet = None, None, False
        self._set_range()
        self.layer.observe(self._on_layer, names="value")
        for control in (self.filter, self.param, self.regularizer, self.steps):
            control.observe(self.redraw, names="value")
        super().__init__([W.HBox([self.layer, self.filter]), W.HBox([self.param, self.regularizer, self.steps]), self.output])
        self.redraw()

    def _set_range(self):
        channels = int(find_layer(self.model, self.layer.value).output.shape[-1])
        self._quiet = True
        self.filter.max = max(0, channels - 1)
        self.filter.value = min(self.filter.value, self.filter.max)
        self._quiet = False

    def _on_layer(self, change=None):
        self._set_range()
        self.redraw()

    def filters(self) -> np.ndarray:
        """The filters shown: `count` from the slider's value on (within the layer)."""
        return np.arange(self.filter.value, min(self.filter.value + self.count, self.filter.max + 1))

    def redraw(self, change=None):
        if self._quiet:
            return
        self.result = visualize_filters(
            self.model, self.layer.value, self.filters(), steps=self.steps.value, size=self.size,
            param=self.param.value, regularizers=REGULARIZERS[self.regularizer.value], progress=False,
        )
        self.figure = plot_filter_grid(self.result, cols=len(self.result), tile_inches=2.0)
        with self.output:
            self.output.clear_output(wait=True)
            show_figure(self.figure)
