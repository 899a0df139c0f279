"""Concept relevance (CRP) view: which channels of a layer the class relies on in this image, and where.

`kv.crp` gives each image's relevance per channel of a layer and the
conditional heatmap of its most relevant channels (Achtibat et al. 2023). The
view shows those heatmaps, and one clickable bar per channel (its share of the
layer's relevance): clicking a channel shows that channel's heatmap alone.
"References" shows, for the same channels, the dataset patches where each is
most relevant (`kv.relevance_maximization`) beside those where it is most
active (`kv.top_activating`).
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import numpy as np

from kerasviz.core.cost import FORWARD_SHARE, Work, layer_share
from kerasviz.core.layers import find_layer, output_rank
from kerasviz.widgets.concepts import ConceptView, array_data, class_options, data_count, default_layer, with_display

BARS = 12  # channels listed as bars
REFERENCES = 8  # reference images per channel


def crp_layers(model) -> list[str]:
    """The layers `kv.crp` can condition on that have a spatial map (all relevance layers if none has)."""
    from kerasviz.lrp import relevance_layers

    layers = relevance_layers(model)
    spatial = [p for p in layers if output_rank(find_layer(model, p)) == 4]
    return spatial or layers


def rule_choices() -> list[str]:
    from kerasviz.lrp.composites import PRESETS

    return ["epsilon", "zero", "gamma", "alpha_beta", "zplus", "zb", "w_square", "flat"] + sorted(PRESETS)


class CRPView(ConceptView):
    """Concept relevance of a layer's channels for one image and class, and their reference images.

    Args:
        model: a Keras CNN that `kv.lrp` supports (unchanged).
        images: images in the model's input space.
        data: images the references are searched in (default `images`; arrays only).
        display: displayable `images`; tiles: maps model-space patches to RGB (e.g. `kv.deprocess`).
        labels: labels of `data`: references then explain each image's label (as zennit-crp).
        class_names: names for the class dropdown.
        budget: seconds one interaction may take without asking.

    Attributes:
        channel: the channel clicked (None: the `top` most relevant channels).
        crp_result: the last `kv.crp` result shown.
    """

    widget_name = "CRP"
    VIEWS = ("heatmaps", "references")

    def __init__(
        self,
        model,
        images,
        data=None,
        *,
        display=None,
        tiles: Callable | None = None,
        labels=None,
        class_names=None,
        budget=None,
    ):
        self._common(model, images, display, class_names)
        self.data = self.images if data is None else array_data(data, self.images)
        self.labels, self.tiles = labels, tiles
        names = crp_layers(model)
        self.layer = W.Dropdown(options=names, value=default_layer(model, names), description="layer")
        self.rule = W.Dropdown(options=rule_choices(), value="epsilon", description="rule")
        self.top = W.IntSlider(6, min=1, max=BARS, description="top", continuous_update=False)
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.target = W.Dropdown(options=class_options(model, self.images, class_names), value=-1, description="class")
        self.view = W.ToggleButtons(options=self.VIEWS, description="show")
        self.all_top = W.Button(description="top channels", icon="list")
        self.bars = W.VBox([])
        self.channel: int | None = None
        self.crp_result = None
        self.observe_controls((self.layer, self.rule, self.top, self.image, self.target, self.view), self._changed)
        self.all_top.on_click(self.guard(lambda _: self.select(None)))
        controls = [W.HBox([self.layer, self.rule, self.top]), W.HBox([self.image, self.target, self.view])]
        self._setup(controls, [W.HBox([W.VBox([self.all_top, self.bars]), self.out])], budget)
        self.run(self.redraw, "computing")

    # ---- what runs -------------------------------------------------------------------------
    def _target(self):
        return None if self.target.value == -1 else int(self.target.value)

    def _key(self) -> tuple:
        return (self.layer.value, self.rule.value, self.image.value, self._target())

    def work(self) -> Work:
        """The ranking pass to the layer, then one conditional LRP pass per heatmap (about 2 passes each)."""
        count = self.top.value + 1 if self.channel is None else 2
        return Work("crp", 2.0 * count, f"CRP: {count} relevance passes at {self.layer.value}", unit="gradient")

    def reference_work(self) -> Work:
        """A relevance pass down to the layer and a forward pass up to it, per image of `data`."""
        n = data_count(self.data)
        share = layer_share(self.model, self.layer.value)
        return Work(
            "references",
            (2.0 + FORWARD_SHARE) * n * share,
            f"relevance maximization over {n} images at {self.layer.value}",
            unit="gradient",
        )

    def ranked(self):
        """The `kv.crp` result of the current image: the `top` most relevant channels (cached)."""
        from kerasviz.concepts import crp

        key = self._key() + ("top", self.top.value)
        return self.result(
            key,
            self.work,
            lambda: crp(
                self.model,
                self.images[self.image.value],
                self._target(),
                layer=self.layer.value,
                top=self.top.value,
                rule=self.rule.value,
                progress=False,
            ),
        )

    def references(self):
        """`(relevance_maximization, top_activating)` of the layer over `data` (cached per layer and rule)."""
        from kerasviz.concepts import relevance_maximization
        from kerasviz.dataset.topk import top_activating

        k = min(REFERENCES, data_count(self.data))
        labelled = self.labels is not None
        key = ("references", self.layer.value, self.rule.value)
        return self.result(
            key,
            self.reference_work,
            lambda: (
                relevance_maximization(
                    self.model,
                    self.layer.value,
                    self.data,
                    k=k,
                    target="labels" if labelled else None,
                    labels=self.labels,
                    rule=self.rule.value,
                    progress=False,
                ),
                top_activating(self.model, self.layer.value, self.data, k=k, progress=False),
            ),
        )

    # ---- interaction -------------------------------------------------------------------
    def select(self, channel: int | None) -> None:
        """Show channel `channel`'s conditional heatmap alone (None: the top channels again)."""
        self.channel = None if channel is None else int(channel)
        self.redraw()

    def _changed(self, change=None):
        if change is not None and change.get("owner") is not self.view:
            self.channel = None  # a new layer, image, class or rule: back to the top channels
        self.redraw()

    def _set_bars(self, result) -> None:
        share = np.asarray(result.share, np.float64)
        order = np.argsort(-np.abs(share))[:BARS]
        rows = []
        for c in order:
            button = W.Button(
                description=f"#{int(c)}",
                layout=W.Layout(width="64px"),
                button_style="info" if self.channel == int(c) else "",
            )
            button.on_click(self.guard(lambda _, c=int(c): self.select(c)))
            bar = W.FloatProgress(
                value=float(abs(share[c])),
                min=0.0,
                max=float(max(np.abs(share[order]).max(), 1e-12)),
                layout=W.Layout(width="110px"),
            )
            rows.append(W.HBox([button, bar, W.Label(f"{100 * share[c]:.0f}%")]))
        self.bars.children = rows

    def redraw(self, change=None):
        from kerasviz.concepts import crp
        from kerasviz.plotting.concepts import plot_crp, plot_relevance_maximization

        ranked = self.ranked()
        if ranked is None:
            return
        self._set_bars(ranked)
        i = self.image.value
        if self.view.value == "references":
            channels = [self.channel] if self.channel is not None else list(np.asarray(ranked.filters)[:6])
            refs = self.references()
            if refs is None:
                return
            relevant, active = refs
            self.show(
                plot_relevance_maximization(
                    relevant,
                    filters=channels,
                    activating=active,
                    display=self.tiles,
                    title=f"References at {self.layer.value}: most relevant | most active",
                )
            )
            return
        shown = with_display(self.display_images, i) if self.display_images is not None else self.tiles
        result = ranked
        if self.channel is not None:
            key = self._key() + ("channel", self.channel)
            result = self.result(
                key,
                self.work,
                lambda: crp(
                    self.model,
                    self.images[i],
                    self._target(),
                    layer=self.layer.value,
                    filters=[self.channel],
                    rule=self.rule.value,
                    progress=False,
                ),
            )
            if result is None:
                return
        self.crp_result = result
        what = f"channel {self.channel}" if self.channel is not None else f"top {self.top.value} channels"
        self.show(
            plot_crp(
                result,
                self.images[i],
                display=shown,
                title=f"CRP at {self.layer.value} ({self.rule.value}), {what}, class {self.target.label}",
            )
        )
