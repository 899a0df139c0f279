"""Attribution explorer: method, image, target class and method settings."""

from __future__ import annotations

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
from kerasviz.widgets._display import show_figure

METHODS = {
    "saliency": lambda m, x, t, s: saliency(m, x, t),
    "SmoothGrad": lambda m, x, t, s: smoothgrad(m, x, t, noise=s["noise"], samples=s["samples"], progress=False),
    "guided backprop": lambda m, x, t, s: guided_backprop(m, x, t),
    "deconvnet": lambda m, x, t, s: deconvnet(m, x, t),
    "integrated gradients": lambda m, x, t, s: integrated_gradients(m, x, t, steps=s["steps"], progress=False).attributions,
    "Grad-CAM": lambda m, x, t, s: grad_cam(m, x, t),
    "Grad-CAM++": lambda m, x, t, s: grad_cam_plus_plus(m, x, t),
    "guided Grad-CAM": lambda m, x, t, s: guided_grad_cam(m, x, t),
    "occlusion": lambda m, x, t, s: occlusion(m, x, t, patch=s["patch"], stride=max(1, s["patch"] // 2), progress=False),
}


class AttributionExplorer(W.VBox):
    """Pick a method, an image, a target class and the method's settings; see the map.

    Args:
        model: a Keras classifier (unchanged).
        images: `(N, H, W, C)` in the model's input space.
        display: displayable versions `(N, H, W, 3|1)` (e.g. `kv.deprocess(x)`).
        class_names: optional names for the target dropdown.
        top: how many of the top predicted classes the target dropdown offers.

    Example:
        >>> from kerasviz.widgets import AttributionExplorer
        >>> AttributionExplorer(model, x, display=kv.deprocess(x))
    """

    def __init__(self, model, images, display=None, class_names: Optional[Sequence[str]] = None, top: int = 5):
        self.model, self.images = model, np.asarray(images, np.float32)
        self.display_images = np.asarray(display if display is not None else images)
        if self.images.ndim == 3:
            self.images, self.display_images = self.images[None], self.display_images[None]
        self.class_names, self.top = class_names, top
        self.method = W.Dropdown(options=list(METHODS), value="Grad-CAM", description="method")
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.target = W.Dropdown(description="target")
        self.noise = W.FloatSlider(0.15, min=0.0, max=0.5, step=0.05, description="noise", continuous_update=False)
        self.samples = W.IntSlider(16, min=1, max=64, description="samples", continuous_update=False)
        self.steps = W.IntSlider(32, min=2, max=256, description="IG steps", continuous_update=False)
        self.patch = W.IntSlider(max(2, self.images.shape[1] // 8), min=1, max=max(1, self.images.shape[1] // 2), description="patch", continuous_update=False)
        self.output = W.Output()
        self.figure = None
        self._set_targets()
        self.image.observe(self._on_image, names="value")
        for control in (self.method, self.target, self.noise, self.samples, self.steps, self.patch):
            control.observe(self.redraw, names="value")
        settings = W.HBox([self.noise, self.samples, self.steps, self.patch])
        super().__init__([W.HBox([self.method, self.image, self.target]), settings, self.output])
        self.redraw()

    def _set_targets(self):
        logits = model_outputs(self.model, self.images[self.image.value][None])[0]
        best = np.argsort(-logits)[: self.top]
        name = lambda c: self.class_names[c] if self.class_names is not None else str(c)
        options = [("predicted", -1)] + [(f"{name(c)} ({logits[c]:.2f})", int(c)) for c in best]
        self._quiet = True  # new options select "predicted"; redraw once, afterwards
        self.target.options = options
        self.target.value = -1  # new options leave no selection (a blank dropdown, "target None")
        self._quiet = False

    def _on_image(self, change=None):
        self._set_targets()
        self.redraw()

    def attribution(self) -> np.ndarray:
        """The current map for the current image `(H, W)` or `(H, W, C)`."""
        target = None if self.target.value in (None, -1) else int(self.target.value)
        settings = dict(noise=self.noise.value, samples=self.samples.value, steps=self.steps.value, patch=self.patch.value)
        return METHODS[self.method.value](self.model, self.images[self.image.value], target, settings)

    def redraw(self, change=None):
        if getattr(self, "_quiet", False):
            return
        heatmap = self.attribution()
        label = weights_label(self.model)
        title = f"{self.method.value}, target {self.target.label}" + (f"\n{label}" if label else "")
        self.figure = plot_attribution(self.display_images[self.image.value], heatmap, title=title)
        with self.output:
            self.output.clear_output(wait=True)
            show_figure(self.figure)
