"""Attribution explorer: every registered method, image, target class and the method's settings."""

from __future__ import annotations

import time
from collections.abc import Sequence

import ipywidgets as W
import numpy as np

from kerasviz.attribution.registry import Method, Option
from kerasviz.attribution.registry import methods as registered_methods
from kerasviz.core.cost import Cost, record
from kerasviz.core.gradients import model_outputs
from kerasviz.core.inputs import from_model_layout
from kerasviz.data import weights_label
from kerasviz.plotting.attribution import plot_attribution
from kerasviz.widgets._display import show_figure, widget_images
from kerasviz.widgets.base import ViewWidget

# What the method dropdown lists: `{label: registry name}` (the registry's order).
METHODS = {m.label: name for name, m in registered_methods().items()}
CHEAP_PASSES = 2  # work of at most this many passes is never estimated (no measurement, never asks)


def available_methods(model) -> dict[str, Method]:
    """`{label: Method}` of the registered methods that can run on `model`.

    Subclassed models offer the methods that only call the model (gradients of
    its output, black-box methods); models without a feature map larger than
    1x1 offer no CAM.
    """
    from kerasviz.attribution.gradcam import default_cam_layer
    from kerasviz.core.errors import KerasvizError
    from kerasviz.core.graph import is_subclassed

    subclassed = is_subclassed(model)
    try:
        has_cam_layer = not subclassed and default_cam_layer(model) is not None
    except KerasvizError:
        has_cam_layer = False
    table = {}
    for method in registered_methods().values():
        if subclassed and not (method.gradient_only or method.black_box):
            continue
        if method.needs_layer and not has_cam_layer:
            continue
        table[method.label] = method
    return table


def option_control(option: Option, side: int) -> W.Widget:
    """The ipywidgets control of a registry `Option` for images of `side` pixels."""
    r = option.resolve(side)
    common = dict(description=option.label or option.name, continuous_update=False)
    if option.kind == "choice":
        return W.Dropdown(options=list(option.choices), value=r["default"], description=common["description"])
    if option.kind == "float":
        return W.FloatSlider(r["default"], min=r["low"], max=r["high"], step=option.step or 0.01, **common)
    if option.kind == "log":
        return W.FloatLogSlider(r["default"], min=r["low"], max=r["high"], step=option.step or 0.1, **common)
    return W.IntSlider(r["default"], min=r["low"], max=r["high"], step=option.step or 1, **common)


class AttributionExplorer(ViewWidget):
    """Pick a method, an image, a target class and the method's settings; see the map.

    The methods and their settings come from the attribution registry
    (`kerasviz.attribution.registry`): the gradient family, the CAM family
    (Grad-CAM, Grad-CAM++, HiResCAM, XGradCAM, LayerCAM, Eigen-CAM, Score-CAM,
    Ablation-CAM), occlusion, the black-box methods (RISE, LIME, KernelSHAP,
    Sobol) and LRP. Work of more than a couple of passes (SmoothGrad samples,
    IG steps, occlusion windows, Score-CAM and Ablation-CAM channels, RISE
    masks, LIME and KernelSHAP samples) is estimated before running ("≈ N s",
    `kerasviz.core.cost`); above `budget` seconds the widget asks first.

    Args:
        model: a Keras classifier (unchanged).
        images: `(N, H, W, C)` (or one image) in the model's input space and layout.
        display: displayable versions `(N, H, W, 3|1)` (e.g. `kv.deprocess(x)`).
        class_names: optional names for the target dropdown.
        top: how many of the top predicted classes the target dropdown offers.
        budget: seconds one interaction may take without asking (default 10).
        method: the method shown first, a registry name or label (default Grad-CAM).

    Attributes:
        methods: `{label: registry Method}` offered for this model.
        controls: `{Option: control}`; methods sharing a setting share its control.

    Example:
        >>> from kerasviz.widgets import AttributionExplorer
        >>> AttributionExplorer(model, x, display=kv.deprocess(x), method="score_cam")
    """

    widget_name = "attribution"

    def __init__(
        self,
        model,
        images,
        display=None,
        class_names: Sequence[str] | None = None,
        top: int = 5,
        *,
        budget: float | None = None,
        method: str | None = None,
    ):
        self.model = model
        self.images, self.display_images = widget_images(model, images, display)  # model layout; drawable
        self.class_names, self.top = class_names, top
        self.methods = available_methods(model)
        self.method = W.Dropdown(options=list(self.methods), value=self._first(method), description="method")
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.target = W.Dropdown(description="target")
        side = min(self.display_images.shape[1:3])
        self.controls: dict = {}
        for entry in self.methods.values():
            for option in entry.options:
                if option not in self.controls:
                    self.controls[option] = option_control(option, side)
                    if not hasattr(self, option.name):  # e.g. `self.steps`, `self.patch`
                        setattr(self, option.name, self.controls[option])
        self.output = W.Output()
        self.figure = None
        self._quiet, self._ran = False, set()
        self._set_targets()
        self._show_controls()
        self.observe_controls((self.image,), self._on_image)
        self.observe_controls((self.method,), self._on_method)
        self.observe_controls((self.target, *self.controls.values()), self.redraw)
        settings = W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap"))
        self._setup([W.HBox([self.method, self.image, self.target]), settings], [self.output], budget)
        self.run(self.redraw, "computing")

    def _first(self, method: str | None) -> str:
        if method is None:
            return "Grad-CAM" if "Grad-CAM" in self.methods else next(iter(self.methods))
        from kerasviz.attribution.registry import get_method
        from kerasviz.core.validate import check_choice

        label = get_method(method).label
        return check_choice(label, "method", list(self.methods))

    @property
    def entry(self) -> Method:
        """The registry entry of the selected method."""
        return self.methods[self.method.value]

    def _set_targets(self):
        logits = model_outputs(self.model, self.images[self.image.value][None])[0]
        best = np.argsort(-logits)[: self.top]
        name = lambda c: self.class_names[c] if self.class_names is not None else str(c)
        options = [("predicted", -1)] + [(f"{name(c)} ({logits[c]:.2f})", int(c)) for c in best]
        self._quiet = True  # new options select "predicted"; redraw once, afterwards
        try:
            self.target.options = options
            self.target.value = -1  # new options leave no selection (a blank dropdown, "target None")
        finally:
            self._quiet = False

    def _show_controls(self):
        shown = set(self.entry.options)
        for option, control in self.controls.items():
            control.layout.display = None if option in shown else "none"

    def _on_image(self, change=None):
        self._set_targets()
        self.redraw()

    def _on_method(self, change=None):
        self._show_controls()
        self.redraw()

    def settings(self) -> dict:
        """The selected method's settings, `{keyword: value}`, as the controls stand."""
        return {option.name: self.controls[option].value for option in self.entry.options}

    def estimate(self) -> Cost | None:
        """The estimated cost of the current setting, or None for work of at most a couple of passes."""
        h, w = self.display_images.shape[1:3]
        work = self.entry.work(self.model, (h, w), self.settings())
        if work.passes <= CHEAP_PASSES:
            return None
        return work.cost(self.model, traced=self.entry.name in self._ran)

    def attribution(self) -> np.ndarray:
        """The current map for the current image `(H, W)` or `(H, W, C)` (channels last)."""
        target = None if self.target.value in (None, -1) else int(self.target.value)
        # progress bars go to the status line (`ViewWidget.run`)
        heatmap = self.entry(self.model, self.images[self.image.value], target, **self.settings())
        return from_model_layout(heatmap, self.model) if heatmap.ndim == 3 else heatmap

    def redraw(self, change=None):
        if self._quiet:
            return
        cost, entry = self.estimate(), self.entry
        if cost is not None and not self.within_budget(cost, self.redraw):
            return
        traced, start = entry.name in self._ran, time.perf_counter()
        heatmap = self.attribution()
        if cost is not None and traced:  # a first run also traces: its time says little about the next ones
            h, w = self.display_images.shape[1:3]
            record(self.model, entry.work(self.model, (h, w), self.settings()).kind, cost, time.perf_counter() - start)
        self._ran.add(entry.name)
        label = weights_label(self.model)
        title = f"{self.method.value}, target {self.target.label}" + (f"\n{label}" if label else "")
        self.figure = plot_attribution(
            self.display_images[self.image.value],
            heatmap,
            title=title,
            signed=entry.signed and bool(np.min(heatmap) < 0),
        )
        with self.output:
            self.output.clear_output(wait=True)
            show_figure(self.figure)
        self.drawn(self.figure)
