"""The LRP engine: relevance as a custom gradient through the rebuilt graph.

1. `trace` replays the model once symbolically (`core.graph.rebuild`) to list
   every layer call with its input and output tensors, through nested models.
   From that list: unsupported layers (clear error), the layers reading the
   pixels (input rules), BatchNorms that fold into the conv / dense before them,
   and the graph order that composites split into lower / middle / upper.
2. A substitute replaces each Conv2D / Dense by a `RuleLayer` (forward pass
   unchanged, gradient = its rule) and drops folded BatchNorms.
3. `core.gradients.score_gradients` runs that variant: one compiled step per
   batch chunk. The gradient of the target logit w.r.t. any tensor is then the
   relevance per unit of that tensor, so `R = a ⊙ gradient` everywhere, and the
   start is `R = f_c(x)·onehot(c)` (methods.md §7.2, test 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import keras
import numpy as np

from kerasviz.core.gradients import score_gradients
from kerasviz.core.graph import cache, is_probability_head, output_layer, rebuild
from kerasviz.core.inputs import as_image_batch
from kerasviz.core.layers import is_model
from kerasviz.core.targets import Target
from kerasviz.lrp.composites import BoundsSpec, Composite, resolve
from kerasviz.lrp.layers import (
    WEIGHTED,
    PassThrough,
    RuleLayer,
    UnsupportedLayerError,
    can_fold,
    check_supported,
    needs_pass_through,
)

# Layers that only move or copy values: an input rule may sit behind them.
_STRUCTURAL = (keras.layers.ZeroPadding2D, keras.layers.Cropping2D, keras.layers.Dropout, keras.layers.InputLayer)


@dataclass
class Call:
    """One layer call in the replayed graph."""

    layer: keras.layers.Layer
    path: str
    inputs: list
    outputs: list


@dataclass
class Graph:
    """What LRP needs to know about a model's graph (see `trace`)."""

    calls: list
    input_paths: set
    folds: dict  # conv/dense path -> the BatchNorm layer folded into it
    folded: set  # paths of folded BatchNorms
    head_path: str  # the last Conv2D / Dense: the logits

    @property
    def weighted(self) -> list:
        return [(c.path, c.layer) for c in self.calls if isinstance(c.layer, WEIGHTED)]

    def relevance_paths(self) -> list:
        """Layer paths (graph order, no duplicates) whose output relevance is reported."""
        seen = []
        for c in self.calls:
            if c.path not in self.folded and c.path not in seen and not isinstance(c.layer, keras.layers.InputLayer):
                seen.append(c.path)
        return seen


def _tensors(structure) -> list:
    return [t for t in keras.tree.flatten(structure) if isinstance(t, keras.KerasTensor)]


def trace(model: keras.Model) -> Graph:
    """Replay `model` symbolically, recording every layer call; checks support."""
    calls: list[Call] = []

    def recorder(layer, path):
        if is_model(layer):
            return None

        def call(*args, **kwargs):
            outputs = layer(*args, **kwargs)
            calls.append(Call(layer, path, _tensors((args, kwargs)), _tensors(outputs)))
            return outputs

        return call

    inputs, _ = rebuild(model, substitute=recorder)
    head = output_layer(model)
    for c in calls:
        check_supported(c.layer, c.path, is_head=c.layer is head)
    weighted = [c.path for c in calls if isinstance(c.layer, WEIGHTED)]
    if not weighted:
        raise UnsupportedLayerError(f"Model {model.name!r} has no Conv2D or Dense layer; LRP has nothing to propagate through.")
    folds, folded = _batch_norm_folds(calls)
    return Graph(calls, _pixel_layers(calls, inputs), folds, folded, weighted[-1])


def _producers_and_uses(calls):
    producer = {id(t): c for c in calls for t in c.outputs}
    uses: dict[int, int] = {}
    for c in calls:
        for t in c.inputs:
            uses[id(t)] = uses.get(id(t), 0) + 1
    return producer, uses


def _batch_norm_folds(calls):
    producer, uses = _producers_and_uses(calls)
    folds, folded = {}, set()
    for c in calls:
        if isinstance(c.layer, keras.layers.BatchNormalization) and len(c.inputs) == 1:
            source = producer.get(id(c.inputs[0]))
            if source is not None and uses[id(c.inputs[0])] == 1 and can_fold(c.layer, source.layer):
                folds[source.path] = c.layer
                folded.add(c.path)
    return folds, folded


def _pixel_layers(calls, model_input) -> set:
    """Weighted layers fed by the input through structural layers only (for input rules)."""
    reached, pixel, frontier = {id(model_input)}, set(), True
    while frontier:
        frontier = False
        for c in calls:
            if c.path in pixel or not any(id(t) in reached for t in c.inputs):
                continue
            if isinstance(c.layer, WEIGHTED):
                pixel.add(c.path)
            elif isinstance(c.layer, _STRUCTURAL) and not all(id(t) in reached for t in c.outputs):
                reached.update(id(t) for t in c.outputs)
                frontier = True
    return pixel


def _substitute(graph: Graph, rules: dict, model) -> callable:
    head = output_layer(model)

    def substitute(layer, path):
        if path in rules:
            drop = layer is head and is_probability_head(layer)
            return RuleLayer(layer, rules[path], batch_norm=graph.folds.get(path), drop_activation=drop)
        if path in graph.folded:
            return lambda x, *args, **kwargs: x
        if isinstance(layer, keras.layers.Activation) and layer is not head and needs_pass_through(layer.activation):
            return PassThrough(layer)
        return None

    return substitute


def _check_input_rule(graph: Graph, rules: dict, model) -> bool:
    """True if the pixel layers use an input rule (then d/dx is already the relevance)."""
    input_only = {p for p, r in rules.items() if r.input_only}
    if not input_only:
        return False
    if input_only != graph.input_paths:
        raise ValueError(
            f"Input rules (z^B, w², flat) must cover every layer that reads the pixels; they are set on "
            f"{sorted(input_only)} but the pixel layers are {sorted(graph.input_paths)}."
        )
    return True


@dataclass
class Relevance:
    """Result of `kv.lrp(..., return_layers=True)` (numpy arrays on the host).

    Attributes:
        input: `(N, H, W, C)` relevance of each input value.
        layers: `{layer path: (N, ...)}` relevance of each layer's output, in
            graph order from the input to the logits.
        scores: `(N,)` the explained logits `f_c(x)` (the relevance put in).
        targets: `(N,)` classes explained.
        rules: `{layer path: rule}` used for each Conv2D / Dense layer.
        composite: the composite's name.
    """

    input: np.ndarray
    layers: dict = field(default_factory=dict)
    scores: Optional[np.ndarray] = None
    targets: Optional[np.ndarray] = None
    rules: dict = field(default_factory=dict)
    composite: str = ""

    def flow(self, index: int = 0) -> dict:
        """`{"input": (H, W, C), layer path: (...), ...}` for image `index` (for `plot_relevance_flow`)."""
        return {"input": self.input[index], **{k: v[index] for k, v in self.layers.items()}}

    def totals(self) -> dict:
        """`{"input": (N,), layer path: (N,), ...}`: relevance summed per image and layer."""
        sums = {"input": self.input.reshape(len(self.input), -1).sum(axis=1)}
        sums.update({k: v.reshape(len(v), -1).sum(axis=1) for k, v in self.layers.items()})
        return sums


def lrp(
    model: keras.Model,
    images,
    target: Target = None,
    rule="epsilon",
    *,
    epsilon: Optional[float] = None,
    gamma: Optional[float] = None,
    alpha: Optional[float] = None,
    beta: Optional[float] = None,
    bounds: BoundsSpec = None,
    batch_size: int = 16,
    progress: bool = True,
    return_layers: bool = False,
):
    """Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019).

    The target logit `f_c(x)` is distributed backwards, layer by layer, onto
    the input values; the rules decide how. Runs in eager TensorFlow (one
    compiled step per batch chunk), beside any GradientTape code.

    Args:
        model: a Keras CNN (functional / Sequential / nested; never changed)
            made of Conv2D, Dense, pooling, Flatten, ReLU / fused activations,
            Dropout, BatchNormalization (folded into the layer before it), Add
            and Concatenate. Other layers raise `UnsupportedLayerError`.
        images: `(N, H, W, C)` or `(H, W, C)` in the model's input space.
        target: None (predicted class), int, list of ints, or a callable
            `score(logits) -> (N,)`.
        rule: "epsilon" (default), "zero", "gamma", "alpha_beta", "zplus" (αβ
            with α=1, β=0) everywhere; "zb", "w_square", "flat" at the pixel
            layer with ε elsewhere; a composite preset "vgg", "resnet",
            "small", "lenet", "epsilon_gamma", "epsilon_gamma_box"; a
            `kv.lrp_rules.Rule`; or a `kv.Composite`.
        epsilon, gamma, alpha, beta: set this parameter on every rule of that
            kind (defaults: ε = 1e-6, γ = 0.25, α = 2, β = 1; α − β must be 1).
        bounds: input range for z^B: `(low, high)` (scalars or per channel),
            or a preprocessing family ("vgg16", "tf", "torch", ...). Without
            it, z^B uses each image's own min and max (the "vgg" preset uses
            VGG's caffe range).
        batch_size: images per compiled call.
        progress: show a progress bar over chunks.
        return_layers: also return the relevance at every layer.

    Returns:
        `(N, H, W, C)` float32 relevance (`(H, W, C)` for a single image); its
        per-image sum is about `f_c(x)` (biases and ε absorb some). With
        `return_layers=True`, a `Relevance` (arrays keep the batch axis).

    Raises:
        UnsupportedLayerError: a layer type without an LRP rule (named).
        ValueError: unknown rule, α − β ≠ 1, bad images or target.

    Example:
        >>> x = kv.preprocess(kv.sample_image("cat", size=224))
        >>> r = kv.lrp(vgg, x, rule="vgg")           # (224, 224, 3)
        >>> heat = r.sum(-1)                          # (224, 224)
    """
    composite = resolve(rule, epsilon=epsilon, gamma=gamma, alpha=alpha, beta=beta, bounds=bounds)
    graph = cache.get(model, ("lrp_graph",), lambda: trace(model))
    rules = composite.assign(graph.weighted, graph.input_paths, graph.head_path)
    input_rule = _check_input_rule(graph, rules, model)
    layers = tuple(graph.relevance_paths()) if return_layers else ()
    grads = score_gradients(
        model, images, target, layers=layers, substitute=_substitute(graph, rules, model),
        substitute_key=("lrp", composite.key()), batch_size=batch_size, progress=progress,
    )
    x, single = as_image_batch(images, model)
    relevance = grads.input if input_rule else x.numpy() * grads.input
    if not return_layers:
        return relevance[0] if single else relevance
    per_layer = {k: grads.activations[k] * grads.layer_gradients[k] for k in layers}
    return Relevance(relevance, per_layer, grads.scores, grads.targets, rules, composite.name)
