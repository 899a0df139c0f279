"""One app over every family: tabs built lazily on first selection, cached, with status and in-tab errors.

`Explorer` puts the family widgets (activations, filter weights and feature
visualization, attribution and LRP, filter decoding, dataset top-k, concepts)
into tabs.
Constructing it computes nothing; a tab computes the first time it is selected
(or when the app is first displayed, for the tab on show), and keeps its
content, so switching back is instant. While a tab computes, its status line
shows a spinner; when it fails, the error is shown in that tab with a retry
button, and the other tabs keep working. Inside a tab, the family widget
reports its own updates, estimates and errors (`kerasviz.widgets.base`).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import ipywidgets as W
import keras
import numpy as np

from kerasviz.core.inputs import as_image_batch, as_numeric_array
from kerasviz.core.layers import conv_layers
from kerasviz.core.layout import from_model_layout, to_model_layout
from kerasviz.preprocessing import deprocess
from kerasviz.provenance import model_family, weights_label
from kerasviz.widgets._display import widget_images
from kerasviz.widgets.activations import ActivationExplorer, FilterExplorer
from kerasviz.widgets.attribution import AttributionExplorer
from kerasviz.widgets.base import StatusLine, static_bundle
from kerasviz.widgets.concepts import concept_tabs
from kerasviz.widgets.dataset import TopActivatingExplorer
from kerasviz.widgets.decoding import DecodingExplorer, decodable_layers
from kerasviz.widgets.featurevis import FeatureVisExplorer
from kerasviz.widgets.lrp import LRPExplorer


class LazyPanel(W.VBox):
    """A panel whose content `build_fn()` is built once, on demand, with a status line.

    Errors while building are shown in the panel with a retry button. Once
    built, the content (a `kerasviz.widgets.base.ViewWidget`) reports its own
    updates and errors in its own status line.

    Attributes:
        title: the panel's name (shown in messages).
        built: True once `build_fn` ran (successfully or not).
        builds: how many times `build_fn` ran (1 after any number of re-selections).
        content: the built widget, or None.
        error: the exception `build_fn` raised (or the content's first computation), or None.
        status: a `StatusLine`: spinner while computing, timing when done, the error otherwise.
    """

    def __init__(self, title: str, build_fn: Callable[[], W.Widget]):
        self.title, self._build_fn = title, build_fn
        self.built, self.builds, self.content, self.error = False, 0, None, None
        self.status = StatusLine()
        self.status.value = f"<i>{html.escape(title)}: not computed yet.</i>"
        self.compute = W.Button(description=f"compute {title}", icon="play")
        self.compute.on_click(lambda _: self.build())
        self.retry = W.Button(description="retry", icon="redo", layout=W.Layout(display="none"))
        self.retry.on_click(lambda _: self.rebuild())
        self.body = W.VBox([self.compute])
        super().__init__([W.HBox([self.status, self.retry]), self.body])

    def build(self) -> W.Widget | None:
        """Build the content if not built yet (errors are shown, not raised); returns it."""
        if self.built:
            return self.content
        self.built, self.error = True, None
        self.body.children = []
        self.retry.layout.display = "none"
        self.status.busy(f"computing {self.title}")
        self.builds += 1
        try:
            self.content = self._build_fn()
        except Exception as err:  # shown in the panel: one failing tab must not break the app
            self._show_error(err)
            return None
        self.body.children = [self.content]
        first_error = getattr(self.content, "error", None)  # a ViewWidget's first computation
        if first_error is not None:
            self._show_error(first_error)
        else:
            self.status.done(self.title)
        return self.content

    def rebuild(self) -> W.Widget | None:
        """Forget the content (and any error) and build again."""
        self.built, self.content = False, None
        return self.build()

    def _show_error(self, err: Exception):
        self.error = err
        self.status.failed(err, f"{self.title} (while building)")
        self.retry.layout.display = None


class LazyTabs(W.Tab):
    """Tabs of `LazyPanel`s: selecting a tab builds its panel (once).

    Args:
        builders: `{title: build_fn}` in tab order; each `build_fn()` returns a widget.
        build_now: build the selected (first) tab immediately (for nested tabs, whose
            parent panel is being built anyway).
    """

    def __init__(self, builders: dict[str, Callable[[], W.Widget]], build_now: bool = False):
        self.panels = {title: LazyPanel(title, fn) for title, fn in builders.items()}
        super().__init__(children=list(self.panels.values()), titles=list(self.panels))
        self.observe(lambda change: self.build_selected(), names="selected_index")
        if build_now:
            self.build_selected()

    def build_selected(self) -> W.Widget | None:
        """Build the selected tab's panel if needed; returns its content."""
        if self.selected_index is None:
            return None
        return self.children[self.selected_index].build()

    def select(self, title: str) -> W.Widget | None:
        """Select the tab called `title` (building it if needed); returns its content."""
        self.selected_index = list(self.panels).index(title)
        return self.build_selected()


class Explorer(W.VBox):
    """One app over every kerasviz view of a model: Activations, Filters, Attribution, Decoding, Dataset, Concepts.

    Nothing is computed at construction. Each tab computes the first time it is
    selected (the tab on show computes when the app is displayed) and keeps its
    result; a spinner shows while it computes, and an error is shown inside the
    tab that raised it. The header names the model and how its weights were
    obtained ("untrained (random weights)" for `kv.load_vgg16(weights=None)`).

    Tabs:
        Activations: `ActivationExplorer` (every 4-D layer, per image and channel).
        Filters: "weights" (`FilterExplorer`) and "feature visualization"
            (`FeatureVisExplorer`, optimisation: computed only when selected).
        Attribution: "gradients and CAM" (`AttributionExplorer`: every method of the
            attribution registry, CAM family and black-box methods included) and "LRP" (`LRPExplorer`).
        Decoding: `DecodingExplorer` on the conv layers that can be decoded (a plain
            chain of convs and non-overlapping pools), or a message saying why none can.
        Dataset: `TopActivatingExplorer` over `data` (default: `images`).
        Concepts: "TCAV" (needs `concepts` and `random_images`; a note says how
            otherwise), "NMF concepts", "CRP" (concept relevance per channel, and
            reference images by relevance and by activation), "activation atlas"
            and "caricature" (`kerasviz.widgets.concepts`), each built when selected.

    Args:
        model: a Keras image model (functional, Sequential or nested); never changed.
        images: one image `(H, W, C)` or a batch `(N, H, W, C)` in the model's input space.
        display: displayable versions of `images` `(N, H, W, 3|1)`; default:
            `kv.deprocess(images)` for models loaded by kerasviz (VGG16), else `images`.
        data: images for the Dataset tab (array, `tf.data.Dataset` or generator); default `images`.
        labels: `(N,)` labels of `data` (class selectivity in the Dataset tab).
        class_names: names for the Attribution tab's target dropdown.
        layers: layers offered by the Activations tab (default: every 4-D layer).
        steps: feature-visualization steps (capped in quick mode, `KERASVIZ_QUICK=1`).
        k: top images per filter in the Dataset tab.
        concepts: `{name: images}` concept sets for TCAV (model input space).
        random_images: a pool of images without the concepts, for TCAV's random sets.
        budget: seconds one interaction may take without asking (default 10): work
            estimated above it (feature visualization on a deep layer, occlusion with
            a small patch, many IG steps) waits for a "run anyway" click.

    Example:
        >>> vgg = kv.load_vgg16(weights=None)
        >>> photos = np.stack([kv.sample_image(n, size=224) for n in ("cat", "coffee")])
        >>> app = kv.widgets.Explorer(vgg, kv.preprocess(photos)); app   # shows the Activations tab
        >>> app.tabs.select("Attribution")                                # computes it, once
    """

    TABS = ("Activations", "Filters", "Attribution", "Decoding", "Dataset", "Concepts")

    def __init__(
        self,
        model: keras.Model,
        images,
        display=None,
        *,
        data=None,
        labels=None,
        class_names: Sequence[str] | None = None,
        layers: Sequence[str] | None = None,
        steps: int = 64,
        k: int = 9,
        concepts: dict | None = None,
        random_images=None,
        budget: float | None = None,
    ):
        from kerasviz.core.gradients import require_graph
        from kerasviz.core.graph import check_model
        from kerasviz.core.validate import check_int
        from kerasviz.dataset.streaming import data_source

        check_model(model)
        require_graph(model, "the Explorer")  # its tabs read intermediate layers
        batch, single = as_image_batch(images, model)  # bad input: a clear error now, not inside a tab
        if data is not None:
            data_source(data, model, labels=labels)  # checked now (a generator is not consumed by the check)
        if layers is not None:
            from kerasviz.activation_maps import feature_extractor

            feature_extractor(model, layers)  # unknown or unusable layers: a clear error now
        steps, k = int(check_int(steps, "steps", minimum=1)), int(check_int(k, "k", minimum=1))  # type: ignore[arg-type]
        self.model, self.images = model, np.asarray(to_model_layout(batch.numpy(), model))  # the widgets' input
        self.display_images = _display_images(model, self.images, display, single)
        self.data = self.images if data is None else data
        self.labels, self.class_names, self.layers, self.steps, self.k = labels, class_names, layers, steps, k
        self.concepts, self.random_images = _concept_sets(model, concepts, random_images)
        self.budget = budget
        self.header = W.HTML(_header(model, len(self.images)))
        self.tabs = LazyTabs(
            {
                "Activations": self._activations,
                "Filters": self._filters,
                "Attribution": self._attribution,
                "Decoding": self._decoding,
                "Dataset": self._dataset,
                "Concepts": self._concepts,
            }
        )
        super().__init__([self.header, self.tabs])

    @property
    def panels(self) -> dict[str, LazyPanel]:
        """`{tab title: LazyPanel}`; `panels[t].built` says whether tab `t` was computed."""
        return self.tabs.panels

    def _repr_mimebundle_(self, **kwargs):
        # Shown in a notebook or Voila: compute the visible tab so the app never opens empty.
        self.tabs.build_selected()
        return static_bundle(self, super()._repr_mimebundle_(**kwargs), "Explorer")

    # ---- one builder per tab: family widgets, configured for this model ------------------
    def _activations(self) -> W.Widget:
        return ActivationExplorer(
            self.model, self.images, display=self.display_images, layers=self.layers, budget=self.budget
        )

    def _filters(self) -> W.Widget:
        steps = self.steps
        return LazyTabs(
            {
                "weights": lambda: FilterExplorer(self.model, budget=self.budget),
                "feature visualization": lambda: FeatureVisExplorer(self.model, steps=steps, budget=self.budget),
            },
            build_now=True,
        )

    def _attribution(self) -> W.Widget:
        return LazyTabs(
            {
                "gradients and CAM": lambda: AttributionExplorer(
                    self.model,
                    self.images,
                    display=self.display_images,
                    class_names=self.class_names,
                    budget=self.budget,
                ),
                "LRP": lambda: LRPExplorer(
                    self.model, self.images, display=self.display_images, show_flow=False, budget=self.budget
                ),
            },
            build_now=True,
        )

    def _decoding(self) -> W.Widget:
        layers, reasons = decodable_layers(self.model)
        if not layers:
            return W.HTML(_no_decoding_message(self.model, reasons))
        return DecodingExplorer(self.model, self.images, display=self.display_images, layers=layers, budget=self.budget)

    def _dataset(self) -> W.Widget:
        family = model_family(self.model)
        tiles = (lambda x: deprocess(x, family)) if family != "none" else None
        k = min(self.k, len(self.images)) if self.data is self.images else self.k
        return TopActivatingExplorer(self.model, self.data, k=k, labels=self.labels, display=tiles, budget=self.budget)

    def _concepts(self) -> W.Widget:
        family = model_family(self.model)
        tiles = (lambda x: deprocess(x, family)) if family != "none" else None
        return concept_tabs(
            self.model,
            self.images,
            display=self.display_images,
            data=self.data,
            labels=self.labels,
            tiles=tiles,
            class_names=self.class_names,
            concepts=self.concepts,
            random_images=self.random_images,
            steps=self.steps,
            budget=self.budget,
        )


def _concept_sets(model, concepts, random_images) -> tuple:
    """TCAV's concept sets and random pool, checked now (a clear error at construction, not in the tab)."""
    from kerasviz.core.errors import ArgumentTypeError

    if concepts is not None and (not isinstance(concepts, dict) or not concepts):
        raise ArgumentTypeError(f"`concepts` must be a non-empty dict {{name: images}}; got {type(concepts).__name__}.")
    prepared = lambda images, name: np.asarray(
        to_model_layout(as_image_batch(images, model, name=name)[0].numpy(), model)
    )
    checked = None if concepts is None else {str(k): prepared(v, f"concepts[{k!r}]") for k, v in concepts.items()}
    pool = None if random_images is None else prepared(random_images, "random_images")
    return checked, pool


def _display_images(model, images: np.ndarray, display, single: bool) -> np.ndarray:
    if display is None:
        family = model_family(model)
        shown = from_model_layout(images, model)  # channels last for drawing
        return deprocess(shown, family) if family != "none" else shown
    shown = np.asarray(as_numeric_array(display, "display"))
    return widget_images(model, images, shown[None] if single else shown)[1]  # one per image, checked


def _header(model: keras.Model, count: int) -> str:
    label = weights_label(model) or "weights as given"
    shape = "×".join(str(d) for d in model.inputs[0].shape[1:]) if model.inputs else "?"
    return (
        f"<b>{html.escape(model.name)}</b> · <span title='how the weights were obtained'>{html.escape(label)}</span>"
        f" · input {shape} · {model.count_params():,} parameters · {count} image{'s' if count != 1 else ''}"
    )


def _no_decoding_message(model: keras.Model, reasons: dict[str, str]) -> str:
    if not conv_layers(model):
        why = "it has no 2-D convolution layers."
    else:
        why = (
            "<ul>"
            + "".join(f"<li><code>{html.escape(p)}</code>: {html.escape(r)}</li>" for p, r in reasons.items())
            + "</ul>"
        )
    return (
        f"<p><b>No decodable layers in {html.escape(model.name)}.</b> Filter decoding (Rafegas &amp; Vanrell) "
        "needs a plain chain of Conv2D and non-overlapping pooling layers below the decoded layer; "
        f"here {why}</p>"
    )
