"""Objectives: the score each batch element's image should maximise.

Following Lucid, an objective is a function of the tapped activations, and
objectives compose: `channel("conv2") + 0.5 * diversity("conv2")`. Every
objective returns one score per batch element `(B,)` (higher is better), and
the unit it looks at (a filter, a class, a direction) is *data*: the vector
`ids` `(B,)` names each element's unit, so optimising 64 filters is one batch
through one compiled step, never 64 traces.

`acts` maps each requested layer spec to its activation `(B, h, w, C)` (or
`(B, K)`), and `OUTPUT` to the model's logits.

Objectives that carry data (the rows of `direction`) hold it in variables, not
in the compiled step, and their key names only its shape: one compiled step
serves every table of that shape. `Objective.bind` loads an objective's data
into the variables of the cached step it reuses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

OUTPUT = "__output__"
ScoreFn = Callable[[dict, tf.Tensor], tf.Tensor]


class Objective:
    """A per-element score `fn(acts, ids) -> (B,)` and the layers it reads.

    Args:
        fn: the score function.
        layers: layer specs it reads (`OUTPUT` for the logits).
        key: hashable description, used to cache the compiled loop.
        name: readable description for titles.
        unit_layer: set when the score reads nothing but each element's own
            channel `ids[b]` of this one layer (through `_unit_maps`): the
            renderer may then compute that channel alone.
        tables: `((variable, value), ...)`: data the score reads from
            variables (the key gives only its shape), in a fixed order.
    """

    def __init__(self, fn: ScoreFn, layers: tuple, key: tuple, name: str, unit_layer=None, tables: tuple = ()):
        self.fn, self.layers, self.key, self.name = fn, tuple(dict.fromkeys(layers)), key, name
        self.unit_layer = unit_layer
        self.tables = tuple(tables)

    def __call__(self, acts: dict, ids: tf.Tensor) -> tf.Tensor:
        return self.fn(acts, ids)

    def bind(self, compiled: Objective | None = None) -> None:
        """Load this objective's data into the variables that `compiled`'s step reads.

        A renderer is cached by `key`, which names the shape of an objective's
        data but not its values; before a cached step runs for another
        objective with the same key, that objective's tables are copied into
        the variables the step was traced with. Without `compiled`, into this
        objective's own variables.
        """
        targets = self.tables if compiled is None else compiled.tables
        for (variable, _), (_, value) in zip(targets, self.tables):
            variable.assign(value)

    def __add__(self, other: Objective) -> Objective:
        other = _as_objective(other)
        return Objective(
            lambda a, i: self(a, i) + other(a, i),
            self.layers + other.layers,
            ("+", self.key, other.key),
            f"{self.name} + {other.name}",
            tables=self.tables + other.tables,
        )

    def __sub__(self, other: Objective) -> Objective:
        return self + (-1.0) * _as_objective(other)

    def __mul__(self, weight: float) -> Objective:
        weight = float(weight)
        return Objective(
            lambda a, i: weight * self(a, i),
            self.layers,
            ("*", weight, self.key),
            f"{weight:g}·{self.name}",
            self.unit_layer,
            self.tables,
        )

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return (-1.0) * self

    def __repr__(self):
        return f"Objective({self.name})"


def _as_objective(value) -> Objective:
    if isinstance(value, Objective):
        return value
    raise TypeError(f"Objectives combine with objectives and numbers (as weights); got {type(value).__name__}.")


def _unit_maps(t: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """Each element's own channel: `(B, h, w, C)`, ids `(B,)` -> `(B, h, w)`."""
    return tf.gather(t, ids, axis=-1, batch_dims=1)


def _spatial_mean(t: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reshape(t, (tf.shape(t)[0], -1)), axis=1)


def channel(layer) -> Objective:
    """Mean activation of each element's filter over all positions (Lucid's default).

    Example:
        >>> obj = channel("block3_conv1")      # ids choose the filters
    """
    return Objective(
        lambda a, i: _spatial_mean(_unit_maps(a[layer], i)),
        (layer,),
        ("channel", layer),
        f"channel mean of {layer}",
        unit_layer=layer,
    )


def feature_map_norm(layer) -> Objective:
    """Root-mean-square of each element's feature map (the L2-norm objective).

    Unlike the channel mean it also rewards strongly negative pre-activations'
    magnitude; on a ReLU output it is the L2 norm divided by sqrt(h·w).
    """

    def fn(acts, ids):
        return tf.sqrt(_spatial_mean(tf.square(_unit_maps(acts[layer], ids))) + 1e-8)

    return Objective(fn, (layer,), ("l2", layer), f"feature-map L2 norm of {layer}", unit_layer=layer)


def neuron(layer, x: int | None = None, y: int | None = None) -> Objective:
    """One unit at one position (default: the centre, Lucid's `shape // 2`)."""

    def fn(acts, ids):
        maps = _unit_maps(acts[layer], ids)
        row = tf.shape(maps)[1] // 2 if y is None else y
        col = tf.shape(maps)[2] // 2 if x is None else x
        return maps[:, row, col]

    name = f"centre neuron of {layer}" if x is None else f"neuron ({x},{y}) of {layer}"
    return Objective(fn, (layer,), ("neuron", layer, x, y), name, unit_layer=layer)


def class_logit() -> Objective:
    """The pre-softmax score of each element's class (Simonyan et al.'s class model)."""

    def fn(acts, ids):
        logits = tf.reshape(acts[OUTPUT], (tf.shape(acts[OUTPUT])[0], -1))
        return tf.gather(logits, ids, axis=1, batch_dims=1)

    return Objective(fn, (OUTPUT,), ("class_logit",), "class logit")


def direction(layer, vectors) -> Objective:
    """Mean over positions of the activation's dot product with a direction.

    The rows live in a variable and the objective's key names only `C`, so
    renderings with other directions of the same width (every activation-atlas
    call on a layer) reuse one compiled step.

    Args:
        layer: the layer.
        vectors: `(K, C)` directions in the layer's channel space (or `(C,)`);
            `ids` choose a row per element.
    """
    table = np.atleast_2d(np.asarray(vectors, np.float32))
    store = tf.Variable(table, shape=tf.TensorShape([None, table.shape[1]]), trainable=False, name="directions")

    def fn(acts, ids):
        v = tf.gather(store, ids)  # (B, C)
        return _spatial_mean(tf.einsum("b...c,bc->b...", acts[layer], v))

    return Objective(
        fn, (layer,), ("direction", layer, table.shape[1]), f"direction in {layer}", tables=((store, table),)
    )


def deepdream(layer) -> Objective:
    """Mean squared activation of the whole layer (ignores `ids`)."""
    return Objective(
        lambda a, i: _spatial_mean(tf.square(a[layer])), (layer,), ("deepdream", layer), f"DeepDream of {layer}"
    )


def gram_matrices(t: tf.Tensor) -> tf.Tensor:
    """Per-element Gram matrices of a feature map `(B, h, w, C)`, unit Frobenius norm: `(B, C, C)`."""
    flat = tf.reshape(t, (tf.shape(t)[0], -1, tf.shape(t)[-1]))
    gram = tf.matmul(flat, flat, transpose_a=True)
    return gram / (tf.norm(gram, axis=(1, 2), keepdims=True) + 1e-8)


def diversity(layer) -> Objective:
    """Minus each element's Gram-matrix similarity to the rest of the batch.

    The Distill article's diversity term, as a score to maximise: add it with
    a weight to another objective (`channel(l) + 0.5 * diversity(l)`), usually
    with the same unit for every element so the batch shows several facets.
    This is the one objective that couples batch elements.
    """

    def fn(acts, ids):
        flat = tf.reshape(gram_matrices(acts[layer]), (tf.shape(ids)[0], -1))
        similarity = tf.matmul(flat, flat, transpose_b=True)
        return -(tf.reduce_sum(similarity, axis=1) - tf.linalg.diag_part(similarity))

    return Objective(fn, (layer,), ("diversity", layer), f"diversity of {layer}")


OBJECTIVES = {"channel": channel, "l2": feature_map_norm, "neuron": neuron, "deepdream": deepdream}
