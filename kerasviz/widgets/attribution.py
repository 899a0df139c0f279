"""Attribution explorer: method, image, target class and method settings."""

from __future__ import annotations

import time
from typing import Optional, Sequence

import ipywidgets as W
import numpy as np

from kerasviz.attribution import (
    deconvnet, grad_cam, grad_cam_plus_plus, guided_backprop, guided_grad_cam, integrated_gradients, occlusion,
    saliency, smoothgrad,
)
from kerasviz.core.gradients import model_outputs
from kerasviz.data import weights_label
from kerasviz.plotting.attribution import plot_attribution
from kerasviz.widgets import budget as B
from kerasviz.widgets._display import show_figure
from kerasviz.widgets.base import ViewWidget

METHODS = {
    "saliency": lambda m, x, t, s: saliency(m, x, t),
    "SmoothGrad": lambda m, x, t, s: smoothgrad(m, x, t, noise=s["noise"], samples=s["samples"]),
    "guided backprop": lambda m, x, t, s: guided_backprop(m, x, t),
    "deconvnet": lambda m, x, t, s: deconvnet(m, x, t),
    "integrated gradients": lambda m, x, t, s: integrated_gradients(m, x, t, steps=s["steps"]).attributions,
    "Grad-CAM": lambda m, x, t, s: grad_cam(m, x, t),
    "Grad-CAM++": lambda m, x, t, s: grad_cam_plus_plus(m, x, t),
    "guided Grad-CAM": lambda m, x, t, s: guided_grad_cam(m, x, t),
    "occlusion": lambda m, x, t, s: occlusion(m, x, t, patch=s["patch"], stride=max(1, s["patch"] // 2)),
}
# Methods whose cost is a count of passes chosen by a setting; the others are one forward + backward.
_MANY_PASSES = {"SmoothGrad", "integrated gradients", "occlusion"}


class AttributionExplorer(ViewWidget):
    """Pick a method, an image, a target class and the method's settings; see the map.

    Settings that multiply the work (SmoothGrad samples, IG steps, occlusion
    patch) are estimated before running ("≈ N s"); above `budget` seconds the
    widget asks before computing.

    Args:
        model: a Keras classifier (unchanged).
        images: `(N, H, W, C)` in the model's input space.
        display: displayable versions `(N, H, W, 3|1)` (e.g. `kv.deprocess(x)`).
        class_names: optional names for the target dropdown.
        top: how many of the top predicted classes the target dropdown offers.
        budget: seconds one interaction may take without asking (default 10).

    Example:
        >>> from kerasviz.widgets import AttributionExplorer
        >>> AttributionExplorer(model, x, display=kv.deprocess(x))
    """

    widget_name = "attribution"

    def __init__(self, model, images, display=None, class_names: Optional[Sequence[str]] = None, top: int = 5, *,
                 budget: Optional[float] = None):
        self.model, self.images = model, np.asarray(images, np.float32)
        self.display_images = np.asarray(display if display is not None else images)
        if self.images.ndim == 3:
            self.images, self.display_images = self.images[None], self.display_images[None]
        self.class_names, self.top = class_names, top
        side = min(self.images.shape[1:3])
        self.method = W.Dropdown(options=list(METHODS), value="Grad-CAM", description="method")
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.target = W.Dropdown(description="target")
        self.noise = W.FloatSlider(0.15, min=0.0, max=0.5, step=0.05, description="noise", continuous_update=False)
        self.samples = W.IntSlider(16, min=1, max=64, description="samples", continuous_update=False)
        self.steps = W.IntSlider(32, min=2, max=256, description="IG steps", continuous_update=False)
        # Below 1/32 of the side, occlusion needs thousands of passes for no visible gain.
        self.patch = W.IntSlider(max(2, side // 8), min=max(1, side // 32), max=max(1, side // 2), description="patch",
                                 continuous_update=False)
        self.output = W.Output()
        self.figure = None
        self._quiet, self._ran = False, set()
        self._set_targets()
        self.observe_controls((self.image,), self._on_image)
        self.observe_controls((self.method, self.target, self.noise, self.samples, self.steps, self.patch), self.redraw)
        settings = W.HBox([self.noise, self.samples, self.steps, self.patch])
        self._setup([W.HBox([self.method, self.image, self.target]), settings], [self.output], budget)
        self.run(self.redraw, "computing")

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

    def _on_image(self, change=None):
        self._set_targets()
        self.redraw()

    def settings(self) -> dict:
        """The method settings the controls stand for."""
        return dict(noise=self.noise.value, samples=self.samples.value, steps=self.steps.value, patch=self.patch.value)

    def estimate(self) -> Optional[B.Cost]:
        """The estimated cost of the current setting, or None for a one-pass method (always cheap)."""
        method, s = self.method.value, self.settings()
        if method not in _MANY_PASSES:
            return None
        traced = method in self._ran
        if method == "occlusion":
            h, w = self.images.shape[1:3]
            cost = B.occlusion_cost(self.model, 1, h, w, s["patch"], max(1, s["patch"] // 2))
            return cost if traced else cost + B.forward_cost(self.model, 0, "", traced=False)
        passes, what = (s["samples"], f"SmoothGrad: {s['samples']} samples") if method == "SmoothGrad" else (
            s["steps"] + 1, f"integrated gradients: {s['steps']} steps")
        return B.gradient_cost(self.model, passes, what, traced=traced)

    def attribution(self) -> np.ndarray:
        """The current map for the current image `(H, W)` or `(H, W, C)`."""
        target = None if self.target.value in (None, -1) else int(self.target.value)
        return METHODS[self.method.value](self.model, self.images[self.image.value], target, self.settings())

    def redraw(self, change=None):
        if self._quiet:
            return
        cost, method = self.estimate(), self.method.value
        if cost is not None and not self.within_budget(cost, self.redraw):
            return
        traced, start = method in self._ran, time.perf_counter()
        heatmap = self.attribution()
        if cost is not None and traced:  # a first run also traces: its time says little about the next ones
            B.record(self.model, "forward" if method == "occlusion" else "gradient", cost, time.perf_counter() - start)
        self._ran.add(method)
        label = weights_label(self.model)
        title = f"{self.method.value}, target {self.target.label}" + (f"\n{label}" if label else "")
        self.figure = plot_attribution(self.display_images[self.image.value], heatmap, title=title)
        with self.output:
            self.output.clear_output(wait=True)
            show_figure(self.figure)
        self.drawn(self.figure)
