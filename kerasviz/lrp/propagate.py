"""`kv.lrp`: relevance as a custom gradient through the rebuilt graph.

1. `graph.trace` reads the model's graph once (cached per model): each layer's
   treatment, BatchNorm folds, the layers reading the pixels, gates, heads.
2. A substitute replaces each weighted layer by a `RuleLayer` (forward pass
   unchanged, gradient = its rule), gates, LayerNorms and non-ReLU activations
   by their stand-ins, and drops folded BatchNorms.
3. `core.gradients.score_gradients` runs that variant: one compiled step per
   batch chunk. The gradient of the target logit w.r.t. any tensor is then the
   relevance per unit of that tensor, so `R = a ⊙ gradient` everywhere, and the
   start is `R = f_c(x)·onehot(c)`.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Union, overload

import keras
import numpy as np

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import score_gradients
from kerasviz.core.graph import cache, is_probability_head, output_layer
from kerasviz.core.inputs import as_model_batch
from kerasviz.core.outputs import OutputSpec, resolve_output
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_int, check_number
from kerasviz.lrp.composites import BoundsSpec, Composite, resolve
from kerasviz.lrp.graph import Graph, trace
from kerasviz.lrp.layers import AFFINE
from kerasviz.lrp.linear import RuleLayer
from kerasviz.lrp.precision import Float32Call, is_low_precision
from kerasviz.lrp.rules import Rule
from kerasviz.lrp.substitutes import AffinePrefix, Gate, LayerNormRule, PassThrough

RuleSpec = Union[str, Rule, Composite]


def _identity(x, *args, **kwargs):
    return x


def _substitute(graph: Graph, rules: dict, model, output: int):
    head = output_layer(model, output)
    chain_starts = {p.layers[0] for p in graph.prefixes.values() if p is not None}
    state: dict = {}

    def replacement(layer, path):
        kind = graph.kinds.get(path)
        if path in rules:
            prefix = graph.prefixes.get(path)
            drop = layer is head and is_probability_head(layer)
            rule_layer = RuleLayer(
                layer, rules[path], batch_norm=graph.folds.get(path), drop_activation=drop, prefix=prefix
            )
            return rule_layer if prefix is None else (lambda a, *args, **kwargs: rule_layer([a, state["raw"]]))
        if path in graph.folded or (layer is head and is_probability_head(layer) and kind == "gradient"):
            return _identity  # a folded BatchNorm; a softmax head read as logits
        if path in graph.folded_into_pixels and isinstance(layer, AFFINE):
            return AffinePrefix(layer)
        if kind == "gate":
            gate = Gate(layer, graph.gates[path])
            return lambda *args, **kwargs: gate(
                *[t for t in keras.tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)]
            )
        if kind == "layer_norm":
            return LayerNormRule(layer)
        if kind == "pass" and layer is not head:
            return PassThrough(layer)
        if graph.low_precision and isinstance(layer, keras.layers.Layer) and is_low_precision(layer):
            return Float32Call(layer)
        return None

    def substitute(layer, path):
        found = replacement(layer, path)
        if layer not in chain_starts:
            return found

        def call(x, *args, **kwargs):  # the first layer after the pixels: remember the raw pixels
            state["raw"] = x
            return (found or layer)(x, *args, **kwargs)

        return call

    return substitute


def _check_input_rule(graph: Graph, rules: dict) -> bool:
    """True if the pixel layers use an input rule (then d/dx is already the relevance)."""
    input_only = {p for p, r in rules.items() if r.input_only}
    if not input_only:
        return False
    if input_only != graph.input_paths:
        raise InvalidArgumentError(
            f"`rule`: input rules (z^B, w², flat) must cover every layer that reads the pixels; they are set on "
            f"{sorted(input_only)} but the pixel layers are {sorted(graph.input_paths)}."
        )
    return True


@dataclass(frozen=True)
class Setup:
    """What an LRP pass needs, resolved and checked once (`prepare`).

    Attributes:
        composite: the resolved `Composite`.
        graph: the model's traced `Graph` (cached per model).
        rules: `{weighted layer path: Rule}`.
        output: index of the explained model output.
        substitute: the call substitution that makes gradients carry relevance
            (for `core.graph.tap_model` / `core.gradients.score_gradients`).
        key: a hashable name of that model variant, for caching compiled steps.
        input_rule: True if the pixel layers use an input rule (z^B, w², flat):
            then d/dx is already the input relevance, otherwise it is x ⊙ d/dx.
    """

    composite: Composite
    graph: Graph
    rules: dict
    output: int
    substitute: object
    key: tuple
    input_rule: bool


def prepare(
    model: keras.Model,
    rule: RuleSpec = "epsilon",
    *,
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds: BoundsSpec = None,
    output: OutputSpec = None,
) -> Setup:
    """Check the LRP settings and resolve the rules, graph and substitution for `model` (no model work).

    Raises:
        UnsupportedLayerError: a layer type without an LRP rule.
        InvalidArgumentError: unknown rule, a parameter out of range, bad bounds or output.
    """
    epsilon = check_number(epsilon, "epsilon", minimum=0.0, allow_none=True)
    gamma = check_number(gamma, "gamma", minimum=0.0, allow_none=True)
    alpha = check_number(alpha, "alpha", minimum=1.0, allow_none=True)
    beta = check_number(beta, "beta", minimum=0.0, allow_none=True)
    composite = resolve(rule, epsilon=epsilon, gamma=gamma, alpha=alpha, beta=beta, bounds=bounds)
    output_index = resolve_output(model, output)
    graph = cache.get(model, ("lrp_graph",), lambda: trace(model))
    rules = composite.assign(graph.weighted, graph.input_paths, graph.heads[output_index], spatial=graph.spatial)
    input_rule = _check_input_rule(graph, rules)
    return Setup(
        composite,
        graph,
        rules,
        output_index,
        _substitute(graph, rules, model, output_index),
        ("lrp", composite.key(), output_index),
        input_rule,
    )


@dataclass(frozen=True)
class Relevance(ArrayResult):
    """Result of `kv.lrp(..., return_layers=True)` (NumPy arrays on the host).

    Behaves as its input relevance (`np.asarray(result)`, `result.shape`,
    `result[i]`). All arrays keep the batch axis, also for a single image, so
    that `flow(0)` and `scores[0]` read the same way for any input.

    Attributes:
        input: `(N, H, W, C)` relevance of each input value.
        layers: `{layer path: (N, ...)}` relevance of each layer's output, in
            graph order from the input to the logits (folded BatchNorms and
            input Rescaling / Normalization layers are part of the layer they
            are folded into and not listed).
        scores: `(N,)` the explained logits `f_c(x)` (the relevance put in).
        targets: `(N,)` classes explained.
        rules: `{layer path: rule}` used for each weighted layer.
        composite: the composite's name.
    """

    array_field: ClassVar[str] = "input"
    input: np.ndarray
    layers: dict = field(default_factory=dict)
    scores: np.ndarray | None = None
    targets: np.ndarray | None = None
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


@overload
def lrp(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    rule: RuleSpec = "epsilon",
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds: BoundsSpec = None,
    output: OutputSpec = None,
    batch_size: int = 16,
    progress: bool = True,
    return_layers: Literal[False] = False,
) -> np.ndarray: ...


@overload
def lrp(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    rule: RuleSpec = "epsilon",
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds: BoundsSpec = None,
    output: OutputSpec = None,
    batch_size: int = 16,
    progress: bool = True,
    return_layers: Literal[True],
) -> Relevance: ...


def lrp(model, images, target=None, *legacy, **kwargs):
    if legacy:
        if len(legacy) > 1 or "rule" in kwargs:
            raise InvalidArgumentError(
                "kv.lrp takes (model, images, target) positionally and everything else by keyword, e.g. rule='vgg'."
            )
        warnings.warn(
            "Passing `rule` positionally to kv.lrp is deprecated; write kv.lrp(model, images, target, rule=...).",
            DeprecationWarning,
            stacklevel=2,
        )
        kwargs["rule"] = legacy[0]
    return _lrp(model, images, target, **kwargs)


def _lrp(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    rule: RuleSpec = "epsilon",
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds: BoundsSpec = None,
    output: OutputSpec = None,
    batch_size: int = 16,
    progress: bool = True,
    return_layers: bool = False,
):
    """Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019).

    The target logit `f_c(x)` is distributed backwards, layer by layer, onto
    the input values; the rules decide how. Each rule is the custom gradient of
    its layer in a rebuilt copy of the graph, so a batch costs one compiled
    forward and backward pass per chunk of `batch_size` images. Mixed-precision
    models are explained in float32.

    Args:
        model: a Keras CNN (functional / Sequential / nested; never changed)
            made of the layers in `kv.supported_layers()`: Conv2D (also
            grouped), DepthwiseConv2D, SeparableConv2D, Dense (also on feature
            maps), pooling, padding, cropping, up-sampling, Reshape, Flatten,
            Dropout, BatchNormalization (folded into the layer before it),
            Rescaling / Normalization (folded into the first layer when they
            read the pixels), LayerNormalization, merges (Add, Subtract,
            Average, Maximum, Minimum, Concatenate, a gating Multiply) and
            activations; every keras.applications image model. Other layers
            raise `UnsupportedLayerError`.
        images: `(N, H, W, C)` or `(H, W, C)` in the model's input space.
        target: None (predicted class), int, list of ints, or a callable
            `score(logits) -> (N,)`.
        rule: "epsilon" (default), "zero", "gamma", "alpha_beta", "zplus" (αβ
            with α=1, β=0) everywhere; "zb", "w_square", "flat" at the pixel
            layer with ε elsewhere; a composite preset (`kv.composite_names()`:
            "vgg", "resnet", "mobilenet", "efficientnet", "convnext", ...); a
            `kv.lrp_rules.Rule`; or a `kv.Composite`.
        epsilon, gamma, alpha, beta: set this parameter on every rule of that
            kind (defaults: ε = 1e-6, γ = 0.25, α = 2, β = 1; ε, γ ≥ 0,
            α ≥ 1, β ≥ 0 and α − β = 1).
        bounds: input range for z^B: `(low, high)` (scalars, per channel or per
            pixel), or a preprocessing family ("vgg16", "tf", "torch", ...).
            Without it, z^B uses each image's own min and max (presets set
            their family's range).
        output: which output of a multi-output model to explain (index, output
            layer name or dict key); None for single-output models.
        batch_size: images per compiled call.
        progress: show a progress bar over chunks.
        return_layers: also return the relevance at every layer.

    Returns:
        `(N, H, W, C)` float32 relevance (`(H, W, C)` for a single image); its
        per-image sum is about `f_c(x)` (biases and ε absorb some). With
        `return_layers=True`, a `Relevance` (arrays keep the batch axis).

    Raises:
        UnsupportedLayerError: a layer type without an LRP rule (named).
        InvalidArgumentError: unknown rule, a parameter out of range, NaN, bad
            bounds or output.

    Example:
        >>> x = kv.preprocess(kv.sample_image("cat", size=224))
        >>> r = kv.lrp(vgg, x, rule="vgg")           # (224, 224, 3)
        >>> heat = r.sum(-1)                          # (224, 224)
    """
    batch_size = int(check_int(batch_size, "batch_size", minimum=1))  # type: ignore[arg-type]
    setup = prepare(model, rule, epsilon=epsilon, gamma=gamma, alpha=alpha, beta=beta, bounds=bounds, output=output)
    batch = as_model_batch(images, model)  # a multi-input model: its image input, the others held fixed
    x, single = batch.x, batch.single
    graph, output_index, input_rule = setup.graph, setup.output, setup.input_rule
    layers = tuple(graph.relevance_paths(output_index)) if return_layers else ()
    grads = score_gradients(
        model,
        x,
        target,
        layers=layers,
        substitute=setup.substitute,
        substitute_key=setup.key,
        batch_size=batch_size,
        progress=bool(progress),
        output=output_index,
        prepared=True,
        side=batch.side,
        input=batch.index,
    )
    relevance = grads.input if input_rule else x.numpy() * grads.input
    if not return_layers:
        return relevance[0] if single else relevance
    per_layer = {k: grads.activations[k] * grads.layer_gradients[k] for k in layers}
    return Relevance(relevance, per_layer, grads.scores, grads.targets, setup.rules, setup.composite.name)


lrp.__doc__ = _lrp.__doc__
lrp.__signature__ = inspect.signature(_lrp)  # type: ignore[attr-defined]
