"""Feature-visualization explorer: layer, filter, parameterization and regularizer, within a time budget."""

from __future__ import annotations

import time
from collections.abc import Sequence

import ipywidgets as W
import numpy as np

from kerasviz._config import max_steps
from kerasviz.core.layers import conv_layers, find_layer
from kerasviz.core.validate import check_choice
from kerasviz.featurevis import visualize_filters
from kerasviz.featurevis.regularizers import TV, Blur, Lp
from kerasviz.plotting.featurevis import plot_filter_grid
from kerasviz.widgets import budget as B
from kerasviz.widgets._display import show_figure
from kerasviz.widgets.base import ViewWidget

REGULARIZERS = {
    "none": (),
    "total variation": (TV(0.05),),
    "blur every 4 steps": (Blur(1.0, 4),),
    "L6 norm": (Lp(0.05),),
}
OPENING_STEPS = 32  # fewest steps the widget opens with: fewer show little more than the random start
PREVIEW_AFTER = 3.0  # seconds: optimisations estimated longer show their images while they run
PREVIEW_EVERY = 2.0  # seconds between two previews


class FeatureVisExplorer(ViewWidget):
    """Pick a layer and a filter (or a range of filters), a parameterization and a regularizer.

    Each setting's cost is estimated before it runs (`kerasviz.widgets.budget`:
    the model's measured step time, the layer's depth, the image size, corrected
    by the widget's earlier runs on the model) and shown as "≈ N s"; above `budget`
    seconds the widget asks before optimising, and an optimisation estimated
    above 3 s shows its images every ~2 s while it runs. By default it opens
    on the deepest conv layer whose picture fits in what is left of the
    budget once the step is traced (on VGG16 and a busy 2-core CPU: block 1
    or 2, not block5_conv3); when not even
    the first layer fits, it opens there with fewer steps (at least 32; the
    slider says how many) so a first picture appears about within the budget.

    Args:
        model: a Keras image model (unchanged).
        layers: layer names offered (default: every conv layer).
        count: filters shown at once, from the slider's filter on.
        steps: optimisation steps (capped in quick mode).
        size: image side or (H, W) (default: `visualize_filters`' default for the model).
        layer: the layer shown first (default: the deepest one within the budget).
        budget: seconds one interaction may take without asking (default 10).

    Example:
        >>> from kerasviz.widgets import FeatureVisExplorer
        >>> FeatureVisExplorer(vgg, layers=["block1_conv2", "block3_conv1", "block5_conv3"])
    """

    widget_name = "feature visualization"

    def __init__(
        self,
        model,
        layers: Sequence[str] | None = None,
        count: int = 4,
        steps: int = 128,
        size=None,
        *,
        layer: str | None = None,
        budget: float | None = None,
    ):
        self.model, self.count = model, count
        self.size = _image_size(model, size)
        names = list(layers) if layers is not None else conv_layers(model)
        if layer is not None:
            check_choice(layer, "layer", names)
        self.layer = W.Dropdown(options=names, value=names[0], description="layer")
        self.filter = W.IntSlider(0, 0, 1, description="filter", continuous_update=False)
        self.param = W.ToggleButtons(options=["fourier", "pixels"], description="param")
        self.regularizer = W.Dropdown(options=list(REGULARIZERS), description="regularizer")
        self.steps = W.IntSlider(steps, min=8, max=512, step=8, description="steps", continuous_update=False)
        self.output = W.Output()
        self.figure, self.result, self._quiet, self._traced, self.previews = None, None, False, set(), 0
        self.observe_controls((self.layer,), self._on_layer)
        self.observe_controls((self.filter, self.param, self.regularizer, self.steps), self.redraw)
        self._setup(
            [W.HBox([self.layer, self.filter]), W.HBox([self.param, self.regularizer, self.steps])],
            [self.output],
            budget,
        )
        self.run(lambda: self._open(layer, layers is None), "computing")

    def _open(self, layer: str | None, choose: bool) -> None:
        start, steps = time.perf_counter(), None
        if layer is None and choose:
            warm = {name: self.estimate(name, traced=True) for name in self.layer.options}
            # What is left of the budget once the estimates are made and a new step is traced.
            available = (
                self.budget
                - (time.perf_counter() - start)
                - (self.estimate(traced=False).seconds - self.estimate(traced=True).seconds)
            )
            layer = B.deepest_within(warm, available)
            if layer is None:  # not even the first layer fits: fewer steps there
                layer = self.layer.options[0]
                per_step = warm[layer].seconds / max_steps(self.steps.value)
                steps = int(np.clip(available / max(per_step, 1e-9) // 8 * 8, OPENING_STEPS, self.steps.value))
        self._quiet = True
        try:
            if layer is not None:
                self.layer.value = layer
            if steps is not None:
                self.steps.value = steps
        finally:
            self._quiet = False
        self._on_layer()

    def _set_range(self):
        channels = int(find_layer(self.model, self.layer.value).output.shape[-1])
        self._quiet = True
        try:
            self.filter.max = max(0, channels - 1)
            self.filter.value = min(self.filter.value, self.filter.max)
        finally:
            self._quiet = False

    def _on_layer(self, change=None):
        if self._quiet:
            return
        self._set_range()
        self.redraw()

    def filters(self) -> np.ndarray:
        """The filters shown: `count` from the slider's value on (within the layer)."""
        return np.arange(self.filter.value, min(self.filter.value + self.count, self.filter.max + 1))

    def _key(self, layer: str) -> tuple:
        return (layer, self.param.value, self.regularizer.value)

    def estimate(self, layer: str | None = None, traced: bool | None = None) -> B.Cost:
        """The estimated cost of optimising the shown filters on `layer` (default: the current layer).

        `traced`: whether the step for that layer is already compiled (default: known from earlier runs).
        """
        layer = layer or self.layer.value
        channels = int(find_layer(self.model, layer).output.shape[-1])
        first = min(self.filter.value, channels - 1) if layer == self.layer.value else 0
        filters = range(first, min(first + self.count, channels))
        steps = max_steps(self.steps.value)  # what visualize_filters will run (capped in quick mode)
        traced = self._key(layer) in self._traced if traced is None else traced
        return B.featurevis_cost(self.model, layer, filters, steps, self.size, traced=traced)

    def redraw(self, change=None):
        if self._quiet:
            return
        cost = self.estimate()
        if not self.within_budget(cost, self.redraw):
            return
        key = self._key(self.layer.value)
        traced, warm, start = key in self._traced, self.estimate(traced=True), time.perf_counter()
        steps = max_steps(self.steps.value)
        options = {}
        if warm.seconds > PREVIEW_AFTER:  # long: stream the images every ~2 s so something shows early
            every = int(np.clip(steps * PREVIEW_EVERY / warm.seconds // 8 * 8, 8, steps))
            options = dict(callback=self._preview, callback_every=every)
        result = visualize_filters(
            self.model,
            self.layer.value,
            self.filters(),
            steps=self.steps.value,
            size=self.size,
            param=self.param.value,
            regularizers=REGULARIZERS[self.regularizer.value],
            **options,
        )
        B.record_featurevis(self.model, warm, time.perf_counter() - start, traced)
        self._traced.add(key)
        self.result = result
        self.figure = plot_filter_grid(result, cols=len(result), tile_inches=2.0)
        with self.output:
            self.output.clear_output(wait=True)
            show_figure(self.figure)
        self.drawn(self.figure)

    def _preview(self, snapshot) -> None:
        """Show the images of a running optimisation (a `kerasviz.featurevis.Snapshot`)."""
        if snapshot.step >= snapshot.steps:
            return  # the final figure follows
        figure = plot_filter_grid(
            images=snapshot.images,
            units=list(snapshot.units),
            scores=snapshot.scores,
            cols=len(snapshot.units),
            tile_inches=2.0,
            title=f"{self.layer.value}: step {snapshot.step} of {snapshot.steps} (running)",
        )
        with self.output:
            self.output.clear_output(wait=True)
            show_figure(figure)
        self.previews += 1


def _image_size(model, size) -> tuple:
    """The optimised image size: `size`, else `visualize_filters`' default for the model."""
    from kerasviz.featurevis.settings import check_size, default_size

    return default_size(model) if size is None else check_size(size)
