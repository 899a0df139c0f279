"""The report's sections, each a function `Inspection -> HTML` over the public techniques.

Every section reuses a technique (`kv.activations`, `kv.visualize_filters`,
`kv.saliency`, ...) and a plot function from `kerasviz.plotting`; nothing is
computed twice: the predicted classes are found once and explained by every
attribution method.
"""

from __future__ import annotations

import io
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import keras
import numpy as np

from kerasviz.activations import activations
from kerasviz.attribution import grad_cam, integrated_gradients, occlusion, saliency
from kerasviz.core.layers import conv_layers, find_layer
from kerasviz.data import _download_timeout
from kerasviz.featurevis import visualize_filters
from kerasviz.plotting.activations import plot_activations, plot_filters
from kerasviz.plotting.attribution import plot_attribution_grid
from kerasviz.plotting.featurevis import plot_filter_grid
from kerasviz.report.page import array_data_uri, escape, figure_html, figures_html, table_html


@dataclass
class Settings:
    """How much each section computes (`quick` picks small values for a fast look)."""

    # Defaults sized for a few minutes on 2 CPU cores with VGG16, whose fixed 224x224 input makes
    # every filter-maximization step a full forward and backward pass.
    layers: Optional[list] = None  # None: the last conv layer of each block
    filters: int = 4               # filter-maximization images per layer
    steps: int = 32                # filter-maximization steps
    top: int = 5                   # classes listed per image
    ig_steps: int = 16             # integrated-gradients Gauss-Legendre intervals
    occlusion_grid: int = 7        # occluding patch = image side / grid, stride = patch
    max_maps: int = 64             # activation maps drawn per layer
    featurevis_size: Optional[int] = None  # None: per architecture (kv.visualize_filters' default)
    featurevis_layers: Optional[int] = 3   # at most this many layers, spread from first to last; None: all

    @classmethod
    def for_mode(cls, quick: bool, **overrides) -> "Settings":
        base = cls(filters=2, steps=8, ig_steps=4, occlusion_grid=3, max_maps=16, featurevis_size=64,
                                 featurevis_layers=3) if quick else cls()
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


@dataclass
class Inspection:
    """What every section reads: the model, its inputs, their pictures, and shared results."""

    model: keras.Model
    inputs: np.ndarray         # (N, H, W, C) in the model's input space
    pictures: np.ndarray       # (N, H, W, 3) or (N, H, W) uint8, what the model sees
    names: list[str]
    preprocess: object         # RGB in [0, 1] -> model space (see featurevis.render.input_mapping)
    label: str                 # weights label
    settings: Settings
    class_names: Optional[Sequence[str]] = None
    layers: list[str] = field(default_factory=list)
    predicted: Optional[np.ndarray] = None  # (N,) classes, found by the prediction section

    def caption(self, text: str) -> str:
        return f"{text} ({self.label})" if self.label else text


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


def model_section(ins: Inspection) -> str:
    text = io.StringIO()
    ins.model.summary(print_fn=lambda line, **_: text.write(line + "\n"), expand_nested=True)
    shape = tuple(ins.model.inputs[0].shape)
    facts = [
        ("input", escape(shape)), ("parameters", f"{ins.model.count_params():,}"),
        ("conv layers", str(len(conv_layers(ins.model)))), ("layers shown per block", escape(", ".join(ins.layers) or "none")),
        ("weights", escape(ins.label or "not recorded")), ("images", escape(", ".join(ins.names))),
    ]
    summary = f"<details><summary>Keras model summary</summary><pre>{escape(text.getvalue())}</pre></details>"
    return table_html(["", ""], [(f"<b>{k}</b>", v) for k, v in facts]) + summary


def _imagenet_names(label: str, classes: int) -> Optional[list[str]]:
    """ImageNet class names, only for real ImageNet weights (the index file may not download offline)."""
    if classes != 1000 or label != "ImageNet weights":
        return None
    from keras.applications.imagenet_utils import decode_predictions

    try:
        with _download_timeout(15), redirect_stdout(io.StringIO()):
            decoded = decode_predictions(np.eye(1000, dtype=np.float32), top=1)
    except Exception:
        return None
    return [row[0][1] for row in decoded]


def prediction_section(ins: Inspection) -> str:
    outputs = np.asarray(ins.model.predict(ins.inputs, batch_size=16, verbose=0), np.float64).reshape(len(ins.inputs), -1)
    ins.predicted = outputs.argmax(1).astype(np.int32)
    names = ins.class_names or _imagenet_names(ins.label, outputs.shape[1])
    probabilities = bool(np.all(outputs >= 0) and np.allclose(outputs.sum(1), 1.0, atol=1e-3))
    what = "probability" if probabilities else "score (model output)"
    note = "" if names else '<p class="note">Class indices only: class names need real ImageNet weights (or pass class_names).</p>'
    rows = []
    for i, row in enumerate(outputs):
        top = np.argsort(-row)[: ins.settings.top]
        classes = "<br>".join(f"{escape(names[c]) + ' ' if names else ''}(class {c}): {row[c]:.3f}" for c in top)
        rows.append((f'<img class="thumb" src="{array_data_uri(ins.pictures[i])}" alt="{escape(ins.names[i])}">',
                     escape(ins.names[i]), classes))
    return note + table_html(["image", "name", f"top {ins.settings.top} classes: {what}"], rows)


def activations_section(ins: Inspection) -> str:
    acts = activations(ins.model, ins.inputs[:1], ins.layers)
    parts = [f'<p class="note">Each block\'s last conv layer on the first image ({escape(ins.names[0])}); each map is '
             "scaled to its own range, blank maps are outlined in red. Early blocks respond to edges and colours, "
             "later ones to larger, more abstract patterns.</p>"]
    figures = [figure_html(plot_activations(acts, layer, 0, max_maps=ins.settings.max_maps, title=ins.label or None),
                           ins.caption(f"activations of {layer}")) for layer in ins.layers]
    return "".join(parts) + figures_html(figures)


def weights_section(ins: Inspection) -> str:
    first = conv_layers(ins.model)[0]
    fig = plot_filters(ins.model, first)
    return figure_html(fig, ins.caption(f"filter weights of the first conv layer, {first}"))


def spread(items: Sequence, count: Optional[int]) -> list:
    """At most `count` items, evenly spread and always with the first and the last."""
    if count is None or len(items) <= count:
        return list(items)
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, count)).astype(int))
    return [items[i] for i in picks]


def featurevis_section(ins: Inspection) -> str:
    s = ins.settings
    layers = spread(ins.layers, s.featurevis_layers)
    parts = [f'<p class="note">The image each filter responds to most, by gradient ascent ({s.steps} steps); the '
             f"number under a tile is the activation it reaches. Layers: {escape(', '.join(layers))}.</p>"]
    figures = []
    for layer in layers:
        channels = int(find_layer(ins.model, layer).output.shape[-1])
        result = visualize_filters(ins.model, layer, filters=range(min(s.filters, channels)), steps=s.steps,
                                   size=s.featurevis_size, progress=False, preprocess=ins.preprocess)
        figures.append(figure_html(plot_filter_grid(result, cols=min(8, len(result))), ins.caption(f"filter maximization, {layer}")))
    return "".join(parts) + figures_html(figures)


def attribution_methods(ins: Inspection, black: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    """Each method on the whole batch, explaining the predicted classes."""
    m, x, t, s = ins.model, ins.inputs, ins.predicted, ins.settings
    side = min(x.shape[1:3])
    patch = max(1, side // s.occlusion_grid)
    return {
        "saliency": lambda: saliency(m, x, t),
        "integrated gradients": lambda: integrated_gradients(m, x, t, baseline=black, steps=s.ig_steps, progress=False).attributions,
        "Grad-CAM": lambda: grad_cam(m, x, t),
        "occlusion": lambda: occlusion(m, x, t, patch=patch, stride=patch, baseline="mean", progress=False),
    }


def attribution_section(ins: Inspection, black: np.ndarray) -> str:
    if ins.predicted is None:
        ins.predicted = np.asarray(ins.model.predict(ins.inputs, verbose=0)).reshape(len(ins.inputs), -1).argmax(1).astype(np.int32)
    maps, failed, notes = {}, [], []
    for name, compute in attribution_methods(ins, black).items():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                maps[name] = np.asarray(compute())
            notes += [str(w.message) for w in caught]
        except Exception as err:  # one method failing must not hide the others
            failed.append(f"{name}: {type(err).__name__}: {err}")
    parts = [f'<div class="error">{escape(f)}</div>' for f in failed]
    parts += [f'<p class="note">Warning: {escape(n)}</p>' for n in notes]
    parts.append('<p class="note">Which pixels the predicted class depends on: gradient magnitude (saliency), '
                 "integrated gradients from a black image (red raises the score, blue lowers it), Grad-CAM on the "
                 "last feature map, and the score drop when a patch is covered (occlusion).</p>")
    for i, name in enumerate(ins.names):
        fig = plot_attribution_grid(ins.pictures[i], {k: v[i] for k, v in maps.items()},
                                    title=ins.caption(f"{name}: class {ins.predicted[i]}"))
        parts.append(figure_html(fig, ins.caption(f"attribution maps, {name}")))
    if failed and not maps:
        raise RuntimeError("every attribution method failed: " + "; ".join(failed))
    return "".join(parts)
