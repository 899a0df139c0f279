"""Concept views for the Explorer's Concepts tab: TCAV, NMF concepts, activation atlas, caricature.

Each view is a `ViewWidget` (status line, errors inside, a cost budget): it
computes a result once per setting (cached), estimates new work on the one
cost model (`kerasviz.core.cost`) and asks before work above its budget. CRP
and relevance maximization are in `kerasviz.widgets.crp`; `concept_tabs`
gathers all of them as lazy sub-tabs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import ipywidgets as W
import keras
import numpy as np

from kerasviz._config import max_steps
from kerasviz.core.cost import FORWARD_SHARE, Work, layer_share, record
from kerasviz.core.gradients import model_outputs
from kerasviz.core.graph import activation_name
from kerasviz.core.layers import conv_layers, find_layer, spatial_layers
from kerasviz.widgets._display import show_figure, widget_images
from kerasviz.widgets.base import ViewWidget

NO_CONCEPTS = (
    "<p><b>TCAV needs concept images and a random pool.</b> Pass them to the Explorer: "
    "<code>kv.widgets.Explorer(model, images, concepts={'stripes': stripe_images, 'dots': dot_images}, "
    "random_images=pool)</code> (each set <code>(n, H, W, C)</code> in the model's input space; the pool holds "
    "images without the concepts, at least a few times the size of a concept set). TCAV then tests how much each "
    "concept raises the chosen class's score at a layer (Kim et al. 2018).</p>"
)


def class_options(model, images, class_names=None, top: int = 10) -> list:
    """Target dropdown options: "predicted" (-1), then the `top` classes with the highest mean logit."""
    logits = model_outputs(model, images, prepared=False)
    order = np.argsort(-logits.mean(axis=0))[:top]
    name = lambda c: str(class_names[c]) if class_names is not None else str(c)
    return [("predicted", -1)] + [(name(c), int(c)) for c in order]


def post_relu_layers(model) -> list[str]:
    """4-D layers whose output is non-negative by construction (a ReLU, fused or standalone); NMF needs one.

    Falls back to every 4-D layer (NMF then explains, in the status line, why a layer is refused).
    """
    found = []
    for path in spatial_layers(model):
        layer = find_layer(model, path)
        act = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.ReLU) or (act is not None and activation_name(act) in ("relu", "relu6")):
            found.append(path)
    return found or spatial_layers(model)


def default_layer(model, layers: Sequence[str]) -> str:
    """The last convolution among `layers` (else the last layer)."""
    convs = [p for p in layers if p in set(conv_layers(model))]
    return (convs or list(layers))[-1]


def array_data(data, images: np.ndarray):
    """`data` when it can be read again (an array, tensor or `(images, labels)`); else `images`."""
    if isinstance(data, np.ndarray) or hasattr(data, "numpy"):
        return data
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        return data
    return images


def data_count(data) -> int:
    """Images in array data (`(images, labels)` counts its images)."""
    return len(data[0]) if isinstance(data, tuple) else len(data)


def with_display(images: np.ndarray | None, index: int) -> Callable | None:
    """A `display=` callable showing the given displayable image for image `index` (None: min-max)."""
    if images is None:
        return None
    shown = np.asarray(images[index])
    return lambda tiles: np.repeat(shown[None], len(tiles), axis=0)


class ConceptView(ViewWidget):
    """Base of the concept views: model and images, a result cache, the budget, a figure output."""

    def _common(self, model, images, display=None, class_names=None) -> None:
        self.model = model
        self.images, shown = widget_images(model, images, display)  # model layout; drawable
        self.display_images = None if display is None else shown
        self.class_names = class_names
        self.results: dict = {}
        self._ran: set = set()
        self.out = W.Output()
        self.figure = None

    def result(self, key, work: Callable[[], Work], compute: Callable[[], object]):
        """The cached result for `key`, else compute it after the budget check; None while waiting.

        `work()` counts what `compute()` runs (`core.cost.Work`; each view has its own kind, so
        each learns its own correction); the run is recorded to correct later estimates.
        """
        if key in self.results:
            return self.results[key]
        counted = work()
        traced = counted.kind in self._ran  # a first run of a kind also traces its steps
        if not self.within_budget(counted.cost(self.model, traced=traced), self.redraw):
            return None
        start = time.perf_counter()
        self.results[key] = compute()
        record(self.model, counted.kind, counted.cost(self.model), time.perf_counter() - start, traced=traced)
        self._ran.add(counted.kind)
        return self.results[key]

    def show(self, figure) -> None:
        self.figure = figure
        with self.out:
            self.out.clear_output(wait=True)
            show_figure(figure)
        self.drawn(figure)

    def redraw(self, change=None):  # pragma: no cover - every view defines it
        raise NotImplementedError


class TCAVView(ConceptView):
    """TCAV (Kim et al. 2018): how much each concept set raises a class's score at a layer.

    Args:
        model: a Keras image model (unchanged).
        images: the images of the class to test, in the model's input space.
        concepts: `{name: images}` concept sets.
        random_images: a pool of images without the concepts.
        layers: layers offered (default every 4-D layer; opens on the last convolution).
        class_names: names for the class dropdown.
        random_sets: random runs (default: `kv.tcav`'s, fewer if the pool is small, at least 2).
        budget: seconds one interaction may take without asking.
    """

    widget_name = "TCAV"

    def __init__(
        self,
        model,
        images,
        concepts: dict,
        random_images,
        *,
        layers=None,
        class_names=None,
        random_sets: int | None = None,
        budget=None,
    ):
        self._common(model, images, class_names=class_names)
        self.concepts, self.random_images, self.random_sets = concepts, random_images, random_sets
        names = list(layers or spatial_layers(model))
        self.layer = W.Dropdown(options=names, value=default_layer(model, names), description="layer")
        self.target = W.Dropdown(options=class_options(model, self.images, class_names), value=-1, description="class")
        self.observe_controls((self.layer, self.target), self.redraw)
        self._setup([W.HBox([self.layer, self.target])], [self.out], budget)
        self.run(self.redraw, "computing")

    def work(self) -> Work:
        """Activations of the concept and random images up to the layer, gradients of the class images."""
        concept_images = sum(len(v) for v in self.concepts.values()) + len(self.random_images)
        share = layer_share(self.model, self.layer.value)
        return Work(
            "tcav",
            len(self.images) + concept_images * share * FORWARD_SHARE,
            f"TCAV: {len(self.concepts)} concept(s) at {self.layer.value}",
            unit="gradient",
        )

    def redraw(self, change=None):
        from kerasviz.concepts import plot_tcav, tcav

        target = None if self.target.value == -1 else int(self.target.value)
        runs = self.random_sets
        if runs is None:  # the default runs, fewer when the pool is small (each random set needs 2 images)
            runs = max(2, min(max_steps(10, quick=4), len(self.random_images) // 2 - 1))
        options = {"random_sets": runs}
        key = (self.layer.value, target)
        result = self.result(
            key,
            self.work,
            lambda: tcav(
                self.model,
                self.layer.value,
                self.concepts,
                self.images,
                target,
                random_images=self.random_images,
                progress=False,
                **options,
            ),
        )
        if result is not None:
            self.show(plot_tcav(result, title=f"TCAV at {self.layer.value}, class {self.target.label}"))


class NMFView(ConceptView):
    """NMF concepts of a layer (Collins et al. 2018; importance as Fel et al. 2023): top patches, or heatmaps.

    Args:
        model: a Keras image model (unchanged).
        images: images to show heatmaps on (model input space).
        data: images the concepts are fitted on (default `images`).
        display: displayable `images`; tiles: maps model-space patches to RGB (e.g. `kv.deprocess`).
        layers: layers offered (default: the 4-D layers after a ReLU).
        budget: seconds one interaction may take without asking.
    """

    widget_name = "NMF concepts"
    VIEWS = ("top patches", "on this image")

    def __init__(
        self,
        model,
        images,
        data=None,
        *,
        display=None,
        tiles: Callable | None = None,
        layers=None,
        class_names=None,
        budget=None,
    ):
        self._common(model, images, display, class_names)
        self.data, self.tiles = array_data(data, self.images) if data is not None else self.images, tiles
        names = list(layers or post_relu_layers(model))
        self.layer = W.Dropdown(options=names, value=default_layer(model, names), description="layer")
        self.k = W.IntSlider(4, min=2, max=12, description="concepts", continuous_update=False)
        self.target = W.Dropdown(options=class_options(model, self.images, class_names), value=-1, description="class")
        self.view = W.ToggleButtons(options=self.VIEWS, description="show")
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.observe_controls((self.layer, self.k, self.target, self.view, self.image), self.redraw)
        self._setup([W.HBox([self.layer, self.k, self.target]), W.HBox([self.view, self.image])], [self.out], budget)
        self.run(self.redraw, "computing")

    def work(self) -> Work:
        """A pass to the layer and a gradient (the importance) per image."""
        n = data_count(self.data)
        return Work("nmf", n, f"NMF: {n} images at {self.layer.value}", unit="gradient")

    def redraw(self, change=None):
        from kerasviz.concepts import nmf_concepts, plot_nmf_concepts

        channels = int(find_layer(self.model, self.layer.value).output.shape[-1])
        k = min(self.k.value, channels)
        target = None if self.target.value == -1 else int(self.target.value)
        result = self.result(
            (self.layer.value, k, target),
            self.work,
            lambda: nmf_concepts(
                self.model,
                self.layer.value,
                self.data,
                k,
                target=target,
                top=min(6, data_count(self.data)),
                progress=False,
            ),
        )
        if result is None:
            return
        if self.view.value == "top patches":
            figure = plot_nmf_concepts(result, display=self.tiles)
        else:
            i = self.image.value
            shown = self.tiles if self.display_images is None else with_display(self.display_images, i)
            figure = plot_nmf_concepts(result, images=self.images[i][None], display=shown)
        self.show(figure)


class AtlasView(ConceptView):
    """An activation atlas of a layer over the data (Carter et al. 2019); the slowest view, cached per (layer, grid).

    Args:
        model: a Keras image model (unchanged).
        data: images sampled for the layout (model input space).
        layers: layers offered (default every 4-D layer; opens on the last convolution).
        steps: optimisation steps per icon (capped in quick mode).
        budget: seconds one interaction may take without asking.
    """

    widget_name = "activation atlas"

    def __init__(self, model, data, *, layers=None, steps: int = 128, budget=None):
        self._common(model, data[0] if isinstance(data, tuple) else data)
        self.data, self.steps = self.images, max_steps(steps)
        names = list(layers or spatial_layers(model))
        self.layer = W.Dropdown(options=names, value=default_layer(model, names), description="layer")
        self.grid = W.IntSlider(6, min=3, max=10, description="grid", continuous_update=False)
        self.observe_controls((self.layer, self.grid), self.redraw)
        self._setup([W.HBox([self.layer, self.grid])], [self.out], budget)
        self.run(self.redraw, "computing")

    def _size(self) -> tuple:
        from kerasviz.featurevis.settings import default_size

        return tuple(default_size(self.model))

    def work(self) -> Work:
        """One feature visualization per cell (at most grid x grid icons, optimised together)."""
        from kerasviz.featurevis.cost import featurevis_work

        icons = self.grid.value**2
        fv = featurevis_work(self.model, self.layer.value, icons, self.steps, self._size())
        return Work(
            "atlas",
            fv.passes,
            f"atlas: {icons} icons x {self.steps} steps on {self.layer.value}",
            unit="gradient",
            pixels=fv.pixels,
        )

    def redraw(self, change=None):
        from kerasviz.concepts import activation_atlas, plot_activation_atlas

        per_image = max(1, int(np.ceil(20 * self.grid.value**2 / len(self.data))))  # ~20 vectors per cell
        result = self.result(
            (self.layer.value, self.grid.value),
            self.work,
            lambda: activation_atlas(
                self.model,
                self.layer.value,
                self.data,
                grid=self.grid.value,
                steps=self.steps,
                min_count=1,
                samples_per_image=per_image,
                progress=False,
            ),
        )
        if result is not None:
            self.show(plot_activation_atlas(result, title=f"Activation atlas of {self.layer.value}"))


class CaricatureView(ConceptView):
    """A caricature of the current image at a layer: what the layer sees in it, exaggerated (Carter et al. 2019).

    Args:
        model: a Keras image model (unchanged).
        images: images in the model's input space; display: their displayable versions.
        layers: layers offered (default every 4-D layer; opens on the last convolution).
        steps: optimisation steps (capped in quick mode).
        budget: seconds one interaction may take without asking.
    """

    widget_name = "caricature"

    def __init__(self, model, images, *, display=None, layers=None, steps: int = 128, budget=None):
        self._common(model, images, display)
        self.steps = max_steps(steps)
        names = list(layers or spatial_layers(model))
        self.layer = W.Dropdown(options=names, value=default_layer(model, names), description="layer")
        self.image = W.IntSlider(0, 0, len(self.images) - 1, description="image", continuous_update=False)
        self.observe_controls((self.layer, self.image), self.redraw)
        self._setup([W.HBox([self.layer, self.image])], [self.out], budget)
        self.run(self.redraw, "computing")

    def work(self) -> Work:
        """One image optimised at the layer (the feature-visualization kind of work)."""
        from kerasviz.featurevis.cost import featurevis_work
        from kerasviz.featurevis.settings import default_size

        return featurevis_work(self.model, self.layer.value, 1, self.steps, tuple(default_size(self.model)))

    def redraw(self, change=None):
        from kerasviz.concepts import caricature, plot_caricature

        i = self.image.value
        result = self.result(
            (self.layer.value, i),
            self.work,
            lambda: caricature(self.model, self.layer.value, self.images[i], steps=self.steps, progress=False),
        )
        if result is not None:
            self.show(
                plot_caricature(
                    result,
                    self.images[i],
                    display=with_display(self.display_images, i),
                    title=f"Caricature at {self.layer.value}",
                )
            )


def concept_tabs(
    model,
    images,
    *,
    display=None,
    data=None,
    labels=None,
    tiles=None,
    class_names=None,
    concepts: dict | None = None,
    random_images=None,
    steps: int = 128,
    budget=None,
):
    """The Concepts tab's lazy sub-tabs: TCAV, NMF concepts, CRP, activation atlas, caricature.

    Each sub-tab is built the first time it is selected (the first one at once).
    """
    from kerasviz.widgets.crp import CRPView
    from kerasviz.widgets.explorer import LazyTabs

    data = images if data is None else data

    def tcav_tab():
        if not concepts or random_images is None:
            return W.HTML(NO_CONCEPTS)
        return TCAVView(model, images, concepts, random_images, class_names=class_names, budget=budget)

    return LazyTabs(
        {
            "TCAV": tcav_tab,
            "NMF concepts": lambda: NMFView(
                model, images, data, display=display, tiles=tiles, class_names=class_names, budget=budget
            ),
            "CRP": lambda: CRPView(
                model, images, data, display=display, labels=labels, tiles=tiles, class_names=class_names, budget=budget
            ),
            "activation atlas": lambda: AtlasView(model, array_data(data, images), steps=steps, budget=budget),
            "caricature": lambda: CaricatureView(model, images, display=display, steps=steps, budget=budget),
        },
        build_now=True,
    )
