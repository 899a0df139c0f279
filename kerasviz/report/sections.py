"""The report's sections: each a function `Inspection -> Part` over the public techniques.

An `Inspection` is frozen: every section reads the same model, inputs and
predicted classes (found once, by `kerasviz.core.gradients.model_outputs`)
and none writes anything another reads. A section returns its HTML and the
facts of what it actually ran (steps, sizes), which the page header lists.
"""

from __future__ import annotations

import functools
import inspect
import io
import warnings
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import keras
import numpy as np

from kerasviz.activation_maps import activations
from kerasviz.attribution.registry import get_method
from kerasviz.core.layers import conv_layers, find_layer
from kerasviz.featurevis import visualize_filters
from kerasviz.loaders import download_timeout
from kerasviz.plotting.activations import plot_activations
from kerasviz.plotting.attribution import plot_attribution_grid
from kerasviz.plotting.featurevis import plot_filter_grid
from kerasviz.plotting.filters import plot_filters
from kerasviz.provenance import IMAGENET
from kerasviz.report.featurevis_plan import FeaturevisPlan, plan_featurevis
from kerasviz.report.page import array_data_uri, escape, figure_html, figures_html, table_html


@dataclass(frozen=True)
class Settings:
    """How much each section computes; `resolve` fills what was not given from the quick or full defaults."""

    layers: tuple | None = None  # None: the last conv layer of each block
    filters: int = 4  # filter-maximization images per layer
    steps: int = 32  # filter-maximization steps
    top: int = 5  # classes listed per image
    ig_steps: int = 16  # integrated-gradients Gauss-Legendre intervals
    occlusion_grid: int = 7  # occluding patch = image side / grid, stride = patch
    max_maps: int = 64  # activation maps drawn per layer
    featurevis_size: int | None = None  # None: per architecture (kv.visualize_filters' default)
    featurevis_layers: int | None = 3  # at most this many layers, spread from first to last; None: all
    octaves: int | None = None  # filter maximization: octaves (None: automatic, see featurevis_plan)
    open_size: bool = True  # filter maximization at the shown size on an open-size model (see featurevis_plan)
    # Compute precision of the sections where a small numeric error does not change the answer (filter
    # maximization; occlusion once it takes `precision=`): "auto", "float32" or "bfloat16" (see
    # kerasviz.core.precision). The exact methods (gradients, integrated gradients, Grad-CAM) stay float32.
    precision: str = "auto"

    @classmethod
    def resolve(cls, quick: bool, **given) -> Settings:
        """Quick or full defaults, with every value that is not None in `given` used as is."""
        base = dict(filters=2, steps=8, ig_steps=4, occlusion_grid=3, max_maps=16, featurevis_size=64) if quick else {}
        base.update({k: v for k, v in given.items() if v is not None})
        return cls(**base)


def precision_options(settings: Settings, technique: Callable) -> dict:
    """`{"precision": ...}` for a technique that takes `precision=`, else {} (it computes in float32)."""
    return {"precision": settings.precision} if "precision" in inspect.signature(technique).parameters else {}


@dataclass(frozen=True)
class Inspection:
    """What every section reads; built once, never changed."""

    model: keras.Model
    inputs: np.ndarray  # (N, H, W, C) in the model's input space
    pictures: np.ndarray  # (N, H, W, 3) or (N, H, W) uint8, what the model sees
    names: tuple
    preprocess: Callable  # RGB in [0, 1] -> model space (featurevis.inputs.input_mapping)
    label: str  # weights label
    settings: Settings
    layers: tuple  # layers for activations and filter maximization
    outputs: np.ndarray  # (N, K) what the prediction table shows (probabilities or scores)
    probabilities: bool  # whether `outputs` are probabilities
    predicted: np.ndarray  # (N,) predicted classes, explained by every attribution method
    baseline: np.ndarray  # (H, W, C) a black image in the model's input space (IG's baseline)
    class_names: tuple | None = None
    strict: bool = False  # a failing attribution method raises instead of being shown
    quick: bool = False  # the defaults came from quick mode

    def caption(self, text: str) -> str:
        return f"{text} ({self.label})" if self.label else text


@dataclass
class Part:
    """A section's HTML and the facts of what it ran (for the page header)."""

    html: str
    facts: list = field(default_factory=list)
    data: dict = field(default_factory=dict)  # results for callers other than the page (benchmarks, tests)


def block_layers(model: keras.Model) -> list[str]:
    """The last conv layer of each block: a block is a run of convs at one spatial resolution."""
    chosen, previous = [], None
    for path in conv_layers(model):
        try:
            resolution = tuple(find_layer(model, path).output.shape[1:3])
        except (AttributeError, ValueError):
            resolution = path  # unknown shape: every conv is its own block
        if chosen and resolution == previous:
            chosen[-1] = path
        else:
            chosen.append(path)
        previous = resolution
    return chosen


def model_section(ins: Inspection) -> Part:
    text = io.StringIO()
    ins.model.summary(print_fn=lambda line, **_: text.write(line + "\n"), expand_nested=True)
    shape = tuple(ins.model.inputs[0].shape)
    facts = [
        ("input", escape(shape)),
        ("parameters", f"{ins.model.count_params():,}"),
        ("conv layers", str(len(conv_layers(ins.model)))),
        ("layers shown per block", escape(", ".join(ins.layers) or "none")),
        ("weights", escape(ins.label or "not recorded")),
        ("images", escape(", ".join(ins.names))),
    ]
    summary = f"<details><summary>Keras model summary</summary><pre>{escape(text.getvalue())}</pre></details>"
    return Part(table_html(["", ""], [(f"<b>{k}</b>", v) for k, v in facts]) + summary)


def imagenet_names(label: str, classes: int) -> list[str] | None:
    """ImageNet class names, only for real ImageNet weights (the index file may not download offline)."""
    if classes != 1000 or label != IMAGENET:
        return None
    from keras.applications.imagenet_utils import decode_predictions

    try:
        with download_timeout(15), redirect_stdout(io.StringIO()):
            decoded = decode_predictions(np.eye(1000, dtype=np.float32), top=1)
    except Exception:
        return None
    return [row[0][1] for row in decoded]


def prediction_section(ins: Inspection) -> Part:
    names = ins.class_names or imagenet_names(ins.label, ins.outputs.shape[1])
    what = "probability" if ins.probabilities else "score (model output)"
    note = (
        ""
        if names
        else '<p class="note">Class indices only: class names need real ImageNet weights (or pass class_names).</p>'
    )
    rows = []
    for i, row in enumerate(ins.outputs):
        top = np.argsort(-row, kind="stable")[: ins.settings.top]
        classes = "<br>".join(f"{escape(names[c]) + ' ' if names else ''}(class {c}): {row[c]:.3f}" for c in top)
        rows.append(
            (
                f'<img class="thumb" src="{array_data_uri(ins.pictures[i])}" alt="{escape(ins.names[i])}">',
                escape(ins.names[i]),
                classes,
            )
        )
    return Part(note + table_html(["image", "name", f"top {ins.settings.top} classes: {what}"], rows))


def activations_section(ins: Inspection) -> Part:
    acts = activations(ins.model, ins.inputs[:1], list(ins.layers))
    parts = [
        f'<p class="note">Each block\'s last conv layer on the first image ({escape(ins.names[0])}); each map is '
        "scaled to its own range, blank maps are outlined in red. Early blocks respond to edges and colours, "
        "later ones to larger, more abstract patterns.</p>"
    ]
    figures = [
        figure_html(
            plot_activations(acts, layer, 0, max_maps=ins.settings.max_maps, title=ins.label or None),
            ins.caption(f"activations of {layer}"),
        )
        for layer in ins.layers
    ]
    return Part("".join(parts) + figures_html(figures))


def weights_section(ins: Inspection) -> Part:
    first = conv_layers(ins.model)[0]
    fig = plot_filters(ins.model, first)
    return Part(figure_html(fig, ins.caption(f"filter weights of the first conv layer, {first}")))


def spread(items: Sequence, count: int | None) -> list:
    """At most `count` items, evenly spread and always with the first and the last."""
    if count is None or len(items) <= count:
        return list(items)
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, count)).astype(int))
    return [items[i] for i in picks]


def _visualize(ins: Inspection, plan: FeaturevisPlan, layer: str, count: int):
    s = ins.settings
    return visualize_filters(
        plan.model,
        layer,
        filters=range(count),
        steps=s.steps,
        size=plan.size,
        progress=False,
        preprocessing=ins.preprocess,
        octaves=plan.octaves,
        octave_scale=plan.octave_scale,
        **precision_options(s, visualize_filters),
    )


def featurevis_section(ins: Inspection) -> Part:
    s = ins.settings
    layers = spread(list(ins.layers), s.featurevis_layers)
    plan = plan_featurevis(ins.model, s.featurevis_size, s.octaves, s.open_size)
    figures, ran, scores, precisions = [], set(), {}, set()
    for layer in layers:
        count = min(s.filters, int(find_layer(ins.model, layer).output.shape[-1]))
        try:
            result = _visualize(ins, plan, layer, count)
        except Exception:
            if plan.is_plain:
                raise
            plan = plan.plain()  # this model's layers need its fixed input size: as it is, in one octave
            result = _visualize(ins, plan, layer, count)
        ran.add(int(result.history.shape[0]))
        scores[layer] = np.asarray(result.scores)
        precisions.add(getattr(result, "precision", "float32"))
        figures.append(
            figure_html(
                plot_filter_grid(result, cols=min(8, len(result))), ins.caption(f"filter maximization, {layer}")
            )
        )
    steps = ", ".join(map(str, sorted(ran)))
    note = (
        f'<p class="note">The image each filter responds to most, by gradient ascent ({steps} steps'
        f"{plan.describe()}); the number under a tile is the activation it reaches. "
        f"Layers: {escape(', '.join(layers))}.</p>"
    )
    fact = (
        f"filter maximization: {s.filters} filter(s) per layer on {len(layers)} layer(s), {steps} steps"
        f"{plan.describe()}, in {'/'.join(sorted(precisions))}"
    )
    return Part(
        note + figures_html(figures),
        [fact],
        {"scores": scores, "octaves": plan.octaves, "precision": "/".join(sorted(precisions))},
    )


# The report's attribution methods: `{caption: attribution registry name}`.
REPORT_METHODS = {
    "saliency": "saliency",
    "integrated gradients": "integrated_gradients",
    "Grad-CAM": "grad_cam",
    "occlusion": "occlusion",
}


def attribution_methods(ins: Inspection) -> dict[str, Callable[[], object]]:
    """Each method on the whole batch, explaining the predicted classes (functions from the registry).

    The registry entry's function is called, not the entry itself, so that integrated gradients
    keeps its result object (the completeness error the report prints).
    """
    m, x, t, s = ins.model, ins.inputs, ins.predicted, ins.settings
    side = min(x.shape[1:3])
    patch = max(1, side // s.occlusion_grid)
    occlusion = get_method("occlusion").function
    options = {
        "integrated_gradients": dict(baseline=ins.baseline, steps=s.ig_steps, progress=False),
        "occlusion": dict(
            patch=patch, stride=patch, baseline="mean", progress=False, **precision_options(s, occlusion)
        ),
    }
    return {
        caption: functools.partial(get_method(name).function, m, x, t, **options.get(name, {}))
        for caption, name in REPORT_METHODS.items()
    }


def attribution_section(ins: Inspection) -> Part:
    s = ins.settings
    maps, failed, notes, facts = {}, [], [], []
    for name, compute in attribution_methods(ins).items():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = compute()
            maps[name] = np.asarray(result)
            notes += [str(w.message) for w in caught]
        except Exception as err:  # one method failing must not hide the others (unless strict)
            if ins.strict:
                raise
            failed.append(f"{name}: {type(err).__name__}: {err}")
            continue
        if name == "integrated gradients":
            error = float(np.max(result.convergence_error))
            facts.append(
                f"integrated gradients: {s.ig_steps} steps from a black image, completeness error up to "
                f"{100 * error:.1f} %"
            )
    side = min(ins.inputs.shape[1:3])
    patch = max(1, side // s.occlusion_grid)
    facts.append(f"occlusion: {s.occlusion_grid}x{s.occlusion_grid} patches of {patch} px (mean colour)")
    parts = [f'<div class="error">{escape(f)}</div>' for f in failed]
    parts += [f'<p class="note">Warning: {escape(n)}</p>' for n in notes]
    parts.append(
        '<p class="note">Which pixels the predicted class depends on: gradient magnitude (saliency), '
        "integrated gradients from a black image (red raises the score, blue lowers it), Grad-CAM on the "
        "last feature map, and the score drop when a patch is covered (occlusion).</p>"
    )
    for i, name in enumerate(ins.names):
        fig = plot_attribution_grid(
            ins.pictures[i], {k: v[i] for k, v in maps.items()}, title=ins.caption(f"{name}: class {ins.predicted[i]}")
        )
        parts.append(figure_html(fig, ins.caption(f"attribution maps, {name}")))
    if failed and not maps:
        raise RuntimeError("every attribution method failed: " + "; ".join(failed))
    return Part("".join(parts), facts)
