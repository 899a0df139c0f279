"""How kerasviz calls a user's layer inside a rebuilt graph, sharing its variables.

`LayerCall` (under a unique name, in float32 for mixed precision),
`PreActivation` (without its fused activation) and `FusedActivation` (the
activation alone); `layer_view` is the shallow copy they call. Used by
`kerasviz.core.graph.rebuild` and the ReLU rules.
"""

from __future__ import annotations

import itertools

import keras

_uid = itertools.count()
_LOW_PRECISION = ("float16", "bfloat16")

# Set on the layers of a compute variant (`core.precision`): they compute in bfloat16 on purpose.
COMPUTE_VARIANT = "kerasviz_compute_variant"


def is_low_precision(layer) -> bool:
    """True if the layer computes in float16 / bfloat16 (a mixed-precision policy) and is explained in float32.

    A layer of a compute variant (`core.precision.compute_variant`) is called in
    its own dtype: the variant exists to run in bfloat16.
    """
    if getattr(layer, COMPUTE_VARIANT, False):
        return False
    return str(getattr(layer, "compute_dtype", "float32")) in _LOW_PRECISION


def explain_dtype(layer):
    """The dtype policy kerasviz computes a layer in: float32 for mixed precision, else the layer's own."""
    return "float32" if is_low_precision(layer) else layer.dtype_policy


def layer_view(layer, *, activation: bool = True, float32: bool = False):
    """A shallow copy of `layer` sharing its variables, without its fused activation and/or in float32.

    Only for calling `type(layer).call(view, ...)`; the user's layer is not touched.
    """
    view = object.__new__(type(layer))
    state = dict(layer.__dict__)
    if not activation:
        state["activation"] = None
    if float32:
        state["_dtype_policy"] = keras.DTypePolicy("float32")
    view.__dict__.update(state)
    return view


class LayerCall(keras.layers.Layer):
    """Calls a user's layer under a unique name and, for mixed precision, in float32; shares its variables."""

    def __init__(self, layer: keras.layers.Layer, *, float32: bool | None = None, **kwargs):
        self.float32 = is_low_precision(layer) if float32 is None else float32
        super().__init__(
            name=f"{layer.name}_call_{next(_uid)}", dtype="float32" if self.float32 else layer.dtype_policy, **kwargs
        )
        object.__setattr__(self, "_source", layer)  # not tracked: its variables belong to the user's layer

    def call(self, *args, **kwargs):
        if self.float32:
            return type(self._source).call(layer_view(self._source, float32=True), *args, **kwargs)
        return self._source(*args, **kwargs)


class PreActivation(keras.layers.Layer):
    """Calls a layer with its fused activation removed, sharing its variables.

    Works for layers whose `call` ends in `if self.activation is not None:
    return self.activation(x)` (Dense, Conv*, DepthwiseConv2D, SeparableConv2D).
    Mixed-precision layers are computed in float32.
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_preact_{next(_uid)}", dtype=explain_dtype(layer), **kwargs)
        object.__setattr__(self, "_source", layer)

    def call(self, *args, **kwargs):
        view = layer_view(self._source, activation=False, float32=is_low_precision(self._source))
        return type(self._source).call(view, *args, **kwargs)


# Layers that ARE an activation: their output has no separate pre-activation to tap.
_STANDALONE_ACTIVATIONS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.Softmax,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
)


class FusedActivation(keras.layers.Layer):
    """Applies a layer's fused activation alone: `PreActivation(layer)` then this == `layer`."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_act_{next(_uid)}", dtype=explain_dtype(layer), **kwargs)
        object.__setattr__(self, "_source", layer)

    def call(self, x):
        return self._source.activation(x)


def has_fused_activation(layer) -> bool:
    """True if `layer` applies a non-linear `activation` after its own computation.

    False for standalone activation layers (`Activation`, `ReLU`, `Softmax`, ...):
    they have no pre-activation distinct from their input.
    """
    if isinstance(layer, _STANDALONE_ACTIVATIONS):
        return False
    act = getattr(layer, "activation", None)
    return act is not None and activation_name(act) not in ("linear", "identity")


def activation_name(fn) -> str:
    """A function's name ("relu", "softmax", ...), for activation functions and layers."""
    return getattr(fn, "__name__", type(fn).__name__).lower()
