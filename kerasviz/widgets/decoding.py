"""Filter-decoding explorer: layer, filter and unpooling method -> decoded filter, thresholded view, top images."""

from __future__ import annotations

import ipywidgets as W

from kerasviz.activations import activations
from kerasviz.core.layers import conv_layers
from kerasviz.data import takes_bgr, weights_label
from kerasviz.decoding import decode_filters, decoded_response, top_locations
from kerasviz.decoding.substitution import decoding_plan, input_geometry
from kerasviz.plotting.decoding import plot_decoded_filter, plot_top_images
from kerasviz.widgets._display import show_figure, widget_images
from kerasviz.widgets.base import ViewWidget


def decodable_layers(model) -> tuple[list[str], dict[str, str]]:
    """The conv layers `kv.decode_filters` can decode, and why each other conv layer cannot.

    Returns:
        `(paths, reasons)`: decodable layer paths in graph order, and
        `{path: reason}` for the conv layers that are not decodable.
    """
    paths, reasons = [], {}
    for path in conv_layers(model):
        try:
            decoding_plan(model, path)
            paths.append(path)
        except (TypeError, ValueError) as err:
            reasons[path] = str(err)
    return paths, reasons


class DecodingExplorer(ViewWidget):
    """Browse decoded filters of a plain conv/pool network (Rafegas & Vanrell).

    Args:
        model: a Keras model (unchanged).
        images: `(N, H, W, C)` in the model's input space (for top images).
        display: displayable versions of `images` (default: `images`).
        layers: conv layers to offer (default: every decodable conv layer).
        top: number of top images shown.
        budget: seconds one interaction may take without asking.

    Example:
        >>> kv.widgets.DecodingExplorer(net.model, net.prepare(x_test[:500]), display=x_test[:500])
    """

    widget_name = "decoding"

    def __init__(self, model, images, display=None, layers=None, top: int = 4, *, budget=None):
        self.model, self.top = model, top
        self.images, self.display_images = widget_images(model, images, display)
        if not layers:
            layers, reasons = decodable_layers(model)
            if not layers:
                raise ValueError(f"No decodable conv layer in {model.name!r}: {reasons or 'no Conv2D layers'}.")
        self.layer = W.Dropdown(options=layers, value=layers[-1], description="layer")
        self.filter = W.IntSlider(0, 0, 1, description="filter")
        self.unpool = W.ToggleButtons(options=["bicubic", "nearest", "bilinear"], description="unpool")
        self.output = W.Output()
        self._responses = {}
        self._sync_filter_range()
        self.observe_controls((self.layer, self.filter, self.unpool), self._changed)
        self._setup([W.HBox([self.layer, self.filter]), self.unpool], [self.output], budget)
        self.run(self.refresh, "computing")

    def _sync_filter_range(self):
        self.filter.max = decoding_plan(self.model, self.layer.value).num_filters - 1

    def _changed(self, change):
        if change["owner"] is self.layer:
            self._sync_filter_range()
        self.refresh()

    def figures(self):
        """The current figures: (decoded + thresholded, top images CNN vs decoded)."""
        layer, k, method = self.layer.value, self.filter.value, self.unpool.value
        df = decode_filters(self.model, layer, method, filters=[k])
        shown = df[0][..., ::-1] if takes_bgr(self.model) and df.shape[-1] == 3 else df[0]  # draw BGR filters as RGB
        views = plot_decoded_filter(shown, title=f"{layer} filter {k} ({method}) {weights_label(self.model)}")
        cnn = self._responses.setdefault(layer, activations(self.model, self.images, layers=[layer])[layer])
        dec = decoded_response(self.model, layer, self.images, method, filters=[k], decoded=df)
        ci, _, cp = top_locations(cnn, k, self.top)
        di, _, dp = top_locations(dec, 0, self.top)
        (stride, offset, _), _ = input_geometry(decoding_plan(self.model, layer), *self.images.shape[1:3])
        tops = plot_top_images(
            shown,
            self.display_images[ci],
            cp,
            self.display_images[di],
            dp,
            stride=stride,
            offset=offset,
            title=f"top {self.top} images: CNN (red) vs decoded (yellow)",
        )
        return views, tops

    def refresh(self):
        figures = self.figures()
        with self.output:
            self.output.clear_output(wait=True)
            for fig in figures:
                show_figure(fig)
        self.drawn(*figures)
