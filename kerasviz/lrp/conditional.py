"""LRP read at one layer: its relevance there, and input relevance through chosen channels of it.

Concept relevance propagation (Achtibat et al. 2023) needs two things from
LRP that a plain pass to the pixels does not give:

- the relevance `R_L = a ⊙ ∂f/∂a` of one layer's output without going on to
  the pixels (relevance maximization ranks a dataset by it). A gradient
  boundary after the layer stops the backward pass there: nothing below it is
  differentiated, not even the gradients of the variables below, which a
  gradient tape would otherwise build;
- the input relevance of only the part of `R_L` that flows through chosen
  channels (or units) of the layer: a *conditional* heatmap.

Both are `LayerLRP` methods, plain TensorFlow functions to trace inside a
caller's compiled step. The conditional one takes the gradient in two parts
on one forward pass: from the explained score down to the layer, then from
the layer to the pixels with that gradient multiplied by a mask (one row per
image, held as data, so changing the channels never retraces). Rule layers
give the backward pass of each LRP rule, which is linear in the relevance
coming from above for a fixed forward pass; so the masked heatmaps of a
partition of the channels add up to the heatmap of all of them, and each
conserves its channels' relevance as far as its rules conserve.

Relevance that reaches the pixels without passing the layer (a skip
connection around it) is not part of any conditional heatmap: choose a layer
that every path to the output crosses (a block's output, not a layer inside a
residual block) for the heatmaps of all channels to add up to `kv.lrp`'s.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable

import keras
import tensorflow as tf

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.graph import cache, tap_model
from kerasviz.core.layers import find_layer
from kerasviz.core.outputs import OutputSpec, resolve_output
from kerasviz.core.targets import target_scores
from kerasviz.lrp.composites import BoundsSpec
from kerasviz.lrp.graph import trace
from kerasviz.lrp.propagate import RuleSpec, Setup, prepare

_uid = itertools.count()


@tf.custom_gradient
def _stop_below(y):
    return tf.identity(y), lambda g: None


class _Boundary(keras.layers.Layer):
    """The identity, through which no gradient flows back: the backward pass ends at its output."""

    def __init__(self, **kwargs):
        super().__init__(name=f"lrp_boundary_{next(_uid)}", autocast=False, **kwargs)

    def call(self, inputs):
        return _stop_below(inputs)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, inputs.dtype)


def _ending_at(substitute, found):
    """`substitute` with a gradient boundary after the calls of layer `found`."""

    def boundary(layer, path):
        replacement = substitute(layer, path)
        if layer is not found:
            return replacement
        return lambda *args, **kwargs: _Boundary()((replacement or layer)(*args, **kwargs))

    return boundary


class LayerLRP:
    """LRP of a model read at one layer (see the module docstring); built by `layer_lrp`.

    Attributes:
        key: the layer's key in the tapped model (its name).
        path: the layer's path in the model ("outer/inner" for nested models).
        shape: the layer's output shape without the batch axis, channels last.
        channels: the number of channels (units) of the layer.
        num_outputs: number of classes of the explained output.
        setup: the resolved LRP settings (`propagate.Setup`).
    """

    def __init__(
        self, model: keras.Model, layer: keras.layers.Layer, path: str, setup: Setup, score: Callable | None = None
    ):
        self.setup, self.score, self.path = setup, score, path
        self._model, self._layer, self._upper = weakref.ref(model), layer, None  # cached per model: no strong ref
        self.tap, keys = tap_model(model, [layer], substitute=setup.substitute, output=setup.output)
        self.key = keys[0]
        self.shape = tuple(int(d) for d in self.tap.output[self.key].shape[1:])
        self.channels = self.shape[-1]
        self.num_outputs = int(tf.reduce_prod(self.tap.output["__output__"].shape[1:]))

    @property
    def upper_tap(self) -> keras.Model:
        """The tapped graph with a gradient boundary after the layer (built on first use)."""
        if self._upper is None:
            substitute = _ending_at(self.setup.substitute, self._layer)
            self._upper = tap_model(self._model(), [self._layer], substitute=substitute, output=self.setup.output)[0]
        return self._upper

    def _forward(self, x, targets, tap=None):
        out = (tap or self.tap)(x, training=False)
        activation = tf.cast(out[self.key], tf.float32)
        scores, classes = target_scores(out["__output__"], targets, self.score)
        return out[self.key], activation, scores, classes

    def layer_relevance(self, x: tf.Tensor, targets: tf.Tensor):
        """`(scores (n,), classes (n,), R_L (n, *shape))`: relevance at the layer only (trace in a tf.function).

        The backward pass stops at the layer: nothing below it is differentiated.

        Args:
            x: float32 `(n, H, W, C)` images.
            targets: int32 `(n,)` classes, -1 for the predicted class (ignored with a callable score).
        """
        with tf.GradientTape() as tape:
            raw, activation, scores, classes = self._forward(x, targets, self.upper_tap)
        gradient = tf.cast(tape.gradient(scores, raw), tf.float32)
        return scores, classes, activation * gradient

    def conditional_relevance(self, x: tf.Tensor, targets: tf.Tensor, mask: tf.Tensor):
        """`(scores, classes, input relevance (n, H, W, C), R_L (n, *shape))` through the masked part of the layer.

        Args:
            x: float32 `(n, H, W, C)` images (repeat an image to take several masks of it at once).
            targets: int32 `(n,)` classes, -1 for the predicted class.
            mask: float32 `(n, channels)` (one weight per channel, shared by all
                positions) or `(n, *shape)` (one per unit): the relevance of the
                layer that is passed on to the pixels is `R_L ⊙ mask`.

        Returns:
            The input relevance of `R_L ⊙ mask`, and the unmasked `R_L`.
        """
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            raw, activation, scores, classes = self._forward(x, targets)
        gradient = tf.cast(tape.gradient(scores, raw), tf.float32)
        mask = tf.cast(mask, tf.float32)
        if mask.shape.rank == 2 and len(self.shape) > 1:
            mask = tf.reshape(mask, [-1] + [1] * (len(self.shape) - 1) + [self.channels])
        masked = tf.cast(gradient * mask, raw.dtype)
        input_gradient = tape.gradient(raw, x, output_gradients=masked)
        del tape
        relevance = input_gradient if self.setup.input_rule else x * input_gradient
        return scores, classes, relevance, activation * gradient


def layer_lrp(
    model: keras.Model,
    layer,
    *,
    rule: RuleSpec = "epsilon",
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds: BoundsSpec = None,
    output: OutputSpec = None,
    score: Callable | None = None,
) -> LayerLRP:
    """The `LayerLRP` of `layer` for these LRP settings (cached per model, rules, output, layer and score).

    Args:
        model: a Keras model `kv.lrp` supports (never changed).
        layer: name, "outer/inner" path, index or Layer; a layer that carries
            relevance (not a BatchNormalization folded into the layer before it,
            not an input Rescaling / Normalization folded into the first
            convolution, not inside a squeeze-excite gate's branch).
        rule, epsilon, gamma, alpha, beta, bounds, output: as in `kv.lrp`.
        score: a callable target `score(outputs) -> (N,)`, or None for class targets.

    Raises:
        LayerNotFoundError: unknown layer.
        InvalidArgumentError: a layer that carries no relevance, or bad LRP settings.
        UnsupportedLayerError: a layer type without an LRP rule.

    Example:
        >>> step = layer_lrp(model, "conv2", rule="epsilon")
        >>> scores, classes, r = step.layer_relevance(tf.constant(x), tf.constant([-1] * len(x)))
    """
    setup = prepare(model, rule, epsilon=epsilon, gamma=gamma, alpha=alpha, beta=beta, bounds=bounds, output=output)
    found = find_layer(model, layer)
    path = _relevance_path(found, setup)
    return cache.get(model, ("layer_lrp", setup.key, path, score), lambda: LayerLRP(model, found, path, setup, score))


def relevance_layers(model: keras.Model, *, output: OutputSpec = None) -> list[str]:
    """Paths of the layers that carry LRP relevance to `output`, in graph order (any rule).

    These are the layers `kv.lrp(..., return_layers=True)` reports and
    `layer_lrp`, `kv.crp` and `kv.relevance_maximization` accept: not a
    BatchNormalization folded into the layer before it, not an input
    Rescaling / Normalization folded into the first convolution, not inside a
    gate's branch.

    Raises:
        UnsupportedLayerError: a layer type without an LRP rule.
        InvalidArgumentError: a bad `output`.

    Example:
        >>> [p for p in relevance_layers(model) if len(model.get_layer(p).output.shape) == 4]  # CRP layer choices
    """
    index = resolve_output(model, output)
    return cache.get(model, ("lrp_graph",), lambda: trace(model)).relevance_paths(index)


def _relevance_path(found, setup: Setup) -> str:
    paths = [c.path for c in setup.graph.calls if c.layer is found]
    reported = setup.graph.relevance_paths(setup.output)
    chosen = next((p for p in paths if p in reported), None)
    if chosen is not None:
        return chosen
    graph = setup.graph
    if any(p in graph.folded for p in paths):
        owner = next(w for w, bn in graph.folds.items() if bn is found)
        why = f"it is a BatchNormalization folded into {owner!r}; use {owner!r}"
    elif any(p in graph.folded_into_pixels for p in paths):
        why = "it is folded into the layer that reads the pixels; use that layer"
    elif not paths:
        why = "it is not on the path from the input to the outputs"
    else:
        why = "no relevance reaches it (a gate's branch, or not on the way to the explained output)"
    raise InvalidArgumentError(
        f"`layer` {found.name!r} carries no LRP relevance: {why}. Layers with relevance: {_shorten(reported)}."
    )


def _shorten(paths: list) -> str:
    text = ", ".join(repr(p) for p in paths[:12])
    return text + (f", ... ({len(paths)} in all)" if len(paths) > 12 else "")
