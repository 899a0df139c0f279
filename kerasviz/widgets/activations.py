"""Activation and filter-weight explorer: layer dropdown, image picker, channel slider."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from kerasviz.activation_maps import activations, image_layers
from kerasviz.core.layers import conv_layers
from kerasviz.plotting.activations import plot_activations, plot_channel
from kerasviz.plotting.filters import plot_filters
from kerasviz.provenance import weights_label
from kerasviz.widgets._display import show_figure, widget_images
from kerasviz.widgets.base import ViewWidget


class ActivationExplorer(ViewWidget):
    """Browse every feature-map layer of a model for a set of images.

    Activations of all layers are computed once per image (one forward pass)
    and cached, so moving the controls only redraws. Errors are shown inside
    the widget (see `kerasviz.widgets.base`).

    Args:
        model: a Keras image model (unchanged).
        images: `(N, H, W, C)` in the model's input space.
        display: `(N, H, W, 3|1)` displayable versions of the images (e.g.
            `kv.deprocess(images)`); default: the images themselves.
        layers: layer paths to offer (default: every 4-D layer).
        budget: seconds one interaction may take without asking.

    Example:
        >>> ex = kv.widgets.ActivationExplorer(vgg, x, display=kv.deprocess(x)); ex
    """

    widget_name = "activations"

    def __init__(self, model, images, display=None, layers=None, *, budget=None):
        self.model = model
        self.images, self.display_images = widget_images(model, images, display)
        if layers is not None:
            from kerasviz.activation_maps import feature_extractor

            feature_extractor(model, layers)  # unknown or unusable layers: a clear error now, not in a tab
        self.layer_names = list(layers or image_layers(model))
        self._cache: dict[int, dict] = {}
        self.layer = W.Dropdown(options=self.layer_names, description="layer")
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.channel = W.IntSlider(0, 0, 0, description="channel", continuous_update=False)
        self.grid_out, self.channel_out = W.Output(), W.Output()
        self.observe_controls((self.layer, self.image), self._redraw_all)
        self.observe_controls((self.channel,), self._redraw_channel)
        self._setup([W.HBox([self.layer, self.image, self.channel])], [self.channel_out, self.grid_out], budget)
        self.run(self._redraw_all, "computing")

    def maps(self) -> np.ndarray:
        """The current image's activations of the current layer `(h, w, c)`."""
        index = self.image.value
        if index not in self._cache:
            self._cache[index] = activations(self.model, self.images[index : index + 1], self.layer_names)
        return self._cache[index][self.layer.value][0]

    def _redraw_all(self, change=None):
        maps = self.maps()
        self.channel.max = maps.shape[-1] - 1
        figure = plot_activations(maps, self.layer.value, max_maps=256, title=weights_label(self.model) or None)
        with self.grid_out:
            self.grid_out.clear_output(wait=True)
            show_figure(figure)
        self.drawn(figure)
        self._redraw_channel()

    def _redraw_channel(self, change=None):
        figure = plot_channel(
            self.display_images[self.image.value], self.maps(), self.channel.value, layer=self.layer.value
        )
        with self.channel_out:
            self.channel_out.clear_output(wait=True)
            show_figure(figure)
        self.drawn(figure)


class FilterExplorer(ViewWidget):
    """Browse the filters of every convolution layer: mode and filter index.

    Args:
        model: a Keras model with 2-D convolutions (unchanged).
        budget: seconds one interaction may take without asking.

    Example:
        >>> kv.widgets.FilterExplorer(vgg)
    """

    widget_name = "filters"

    def __init__(self, model, *, budget=None):
        self.model = model
        self.layer = W.Dropdown(options=conv_layers(model), description="layer")
        self.mode = W.ToggleButtons(options=["auto", "rgb", "channels", "summary"], description="view")
        self.filter = W.IntSlider(0, 0, 0, description="filter", continuous_update=False)
        self.out = W.Output()
        self.observe_controls((self.layer, self.mode, self.filter), self._redraw)
        self._setup([W.HBox([self.layer, self.filter]), self.mode], [self.out], budget)
        self.run(self._redraw, "drawing")

    def _redraw(self, change=None):
        from kerasviz.weights import filter_weights

        kernel = filter_weights(self.model, self.layer.value)
        self.filter.max = kernel.shape[-1] - 1
        mode = self.mode.value
        if mode == "rgb" and kernel.shape[2] not in (1, 3):
            mode = "channels"  # rgb needs 1 or 3 inputs; show the slices instead
        figure = plot_filters(self.model, self.layer.value, mode=mode, filters=self.filter.value)
        with self.out:
            self.out.clear_output(wait=True)
            show_figure(figure)
        self.drawn(figure)
