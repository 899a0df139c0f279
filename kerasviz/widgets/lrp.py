"""LRP explorer: rule and its parameters, image and class, heatmap and relevance flow."""

from __future__ import annotations

import ipywidgets as W

from kerasviz.data import weights_label
from kerasviz.lrp.composites import PRESETS
from kerasviz.lrp.propagate import lrp
from kerasviz.plotting.lrp import plot_lrp, plot_relevance_flow
from kerasviz.widgets._display import show_figure, widget_images
from kerasviz.widgets.base import ViewWidget

RULE_CHOICES = ["epsilon", "zero", "gamma", "alpha_beta", "zplus", "zb", "w_square", "flat"] + sorted(PRESETS)
_USES_EPSILON = {"epsilon", "zb", "w_square", "flat"}


class LRPExplorer(ViewWidget):
    """Pick an LRP rule and its parameters and see the relevance heatmap and its flow.

    Args:
        model: a Keras CNN (unchanged).
        images: `(N, H, W, C)` in the model's input space.
        display: `(N, H, W, 3|1)` displayable images (e.g. `kv.deprocess(images)`).
        rule: the rule or preset shown first.
        bounds: input range for z^B (see `kv.lrp`).
        show_flow: also draw the per-layer relevance flow.
        budget: seconds one interaction may take without asking.

    Controls: `rule`, `epsilon`, `gamma`, `alpha` (β = α − 1), `image`,
    `target` (-1: predicted class). Each change recomputes one image; an
    invalid value (a class the model does not have) is reported inside the
    widget, and the next valid value recomputes.

    Example:
        >>> kv.widgets.LRPExplorer(vgg, x, display=kv.deprocess(x), rule="vgg")
    """

    widget_name = "LRP"

    def __init__(
        self, model, images, display=None, rule: str = "epsilon", bounds=None, show_flow: bool = True, *, budget=None
    ):
        self.model, self.bounds = model, bounds
        self.images, self.display_images = widget_images(model, images, display)
        style = {"description_width": "70px"}
        self.rule = W.Dropdown(options=RULE_CHOICES, value=rule, description="rule", style=style)
        self.epsilon = W.FloatLogSlider(
            1e-6, base=10, min=-9, max=1, description="ε", continuous_update=False, style=style
        )
        self.gamma = W.FloatSlider(0.25, min=0, max=2, step=0.05, description="γ", continuous_update=False, style=style)
        self.alpha = W.FloatSlider(
            2.0, min=1, max=4, step=0.5, description="α (β=α−1)", continuous_update=False, style=style
        )
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False, style=style)
        self.target = W.IntText(-1, description="class", style=style)
        self.flow = W.Checkbox(show_flow, description="relevance flow")
        self.out = W.Output()
        self.result = None
        self.observe_controls(
            (self.rule, self.epsilon, self.gamma, self.alpha, self.image, self.target, self.flow),
            lambda change: self.redraw(),
        )
        controls = W.HBox(
            [W.VBox([self.rule, self.image, self.target, self.flow]), W.VBox([self.epsilon, self.gamma, self.alpha])]
        )
        self._setup([controls], [self.out], budget)
        self.run(self.redraw, "computing")

    def params(self) -> dict:
        """The `kv.lrp` keyword arguments the current controls stand for."""
        rule = self.rule.value
        self.epsilon.disabled = rule not in _USES_EPSILON
        self.gamma.disabled = rule != "gamma" and rule not in PRESETS
        self.alpha.disabled = rule != "alpha_beta"
        params = {"rule": rule, "bounds": self.bounds}
        if not self.epsilon.disabled:
            params["epsilon"] = self.epsilon.value
        if not self.gamma.disabled:
            params["gamma"] = self.gamma.value
        if not self.alpha.disabled:
            params.update(alpha=self.alpha.value, beta=self.alpha.value - 1)
        return params

    def redraw(self) -> None:
        """Recompute LRP for the chosen image and redraw."""
        i = self.image.value
        target = None if self.target.value < 0 else int(self.target.value)
        params = self.params()
        result = lrp(self.model, self.images[i : i + 1], target, return_layers=self.flow.value, **params)
        relevance = result.input[0] if self.flow.value else result[0]
        label = weights_label(self.model)
        title = f"{self.model.name}" + (f" ({label})" if label else "")
        figs = [plot_lrp(self.display_images[i], {f"LRP {params['rule']}": relevance}, title=title)]
        if self.flow.value:
            figs.append(plot_relevance_flow(result.flow(0), score=float(result.scores[0]), title="relevance per layer"))
        self.result = result
        with self.out:
            self.out.clear_output(wait=True)
            for fig in figs:
                show_figure(fig)
        self.drawn(*figs)
