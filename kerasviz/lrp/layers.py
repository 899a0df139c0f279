"""Which layers LRP supports, and how each is treated.

Every layer call in the model's graph gets one treatment (`classify`):

- "weighted" (Conv2D incl. grouped, Conv1D, Conv3D, DepthwiseConv2D,
  SeparableConv2D, Dense on inputs of any rank): replaced by a `RuleLayer` whose forward pass is the
  layer's own and whose gradient is the LRP rule. A SeparableConv2D is a
  depthwise then a pointwise convolution, each with the rule.
- "gradient": layers whose LRP step *is* their gradient when relevance per unit
  activation is propagated (see `rules.py`): ReLU, max pooling (winner takes
  all), average / global pooling, Add, Subtract, Average, Maximum, Minimum
  (proportional or winner takes all), Concatenate, Flatten, Reshape, Permute,
  padding, cropping, up-sampling, Dropout (identity at inference), LayerScale
  and a BatchNormalization, Rescaling or Normalization that is not folded
  (z-rule: its shift absorbs relevance like a bias), and element-wise
  arithmetic on tensors and constants in the graph (`x + 3.0`, `x * 0.5`).
- "pass": non-ReLU element-wise activations (sigmoid, tanh, GELU, swish, hard
  swish, ReLU6, ...) pass relevance through unchanged (zennit's `Pass`). This
  is the standard treatment and is exact for conservation, but such a network
  is not piecewise linear, so LRP-0 there is no longer gradient × input.
- "gate": `Multiply` of a signal by a gate (squeeze-excite, attention): the
  gate is held constant, all relevance goes to the signal, none to the gate
  (the signal-take-all rule of LRP for LSTMs, Arras et al. 2017). The gate is
  the operand broadcast over the other (`(N, 1, 1, C)` against `(N, H, W, C)`);
  for equal shapes (a squeeze-excite on a 1x1 map), the one whose branch
  starts at a global pooling, or else the one that comes out of a sigmoid.
- "layer_norm": LayerNormalization with its normalising statistic held
  constant (the LN-rule of Ali et al. 2022): `(x − mean(x)) / σ` is then a
  bias-free linear map and conserves relevance; β absorbs like a bias.

Everything else raises `UnsupportedLayerError` naming the layer and its type.
"""

from __future__ import annotations

import keras

from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.graph import activation_name

try:  # ConvNeXt's per-channel scale (x * gamma), a Keras application layer
    from keras.src.applications.convnext import LayerScale as _LayerScale
except ImportError:  # pragma: no cover - older Keras
    _LayerScale = ()

L = keras.layers
WEIGHTED = (L.Conv1D, L.Conv2D, L.Conv3D, L.DepthwiseConv2D, L.SeparableConv2D, L.Dense)
SPATIAL_WEIGHTED = (L.Conv1D, L.Conv2D, L.Conv3D, L.DepthwiseConv2D, L.SeparableConv2D)
AFFINE = (L.Rescaling, L.Normalization, L.BatchNormalization)
STRUCTURAL = (
    L.ZeroPadding2D,
    L.Cropping2D,
    L.Dropout,
    L.SpatialDropout2D,
    L.GaussianDropout,
    L.GaussianNoise,
    L.AlphaDropout,
    L.InputLayer,
)
GRADIENT_RULE = (
    STRUCTURAL
    + AFFINE
    + tuple(c for c in (_LayerScale,) if isinstance(c, type))
    + (
        L.ReLU,
        L.MaxPooling2D,
        L.AveragePooling2D,
        L.GlobalAveragePooling2D,
        L.GlobalMaxPooling2D,
        L.Flatten,
        L.Reshape,
        L.Permute,
        L.UpSampling2D,
        L.Identity,
        L.Add,
        L.Subtract,
        L.Average,
        L.Maximum,
        L.Minimum,
        L.Concatenate,
        L.Softmax,  # only as the model's head, which is read as logits
        # 1-D (signals, time series) and 3-D (volumes) counterparts of the layers above
        L.MaxPooling1D,
        L.AveragePooling1D,
        L.GlobalAveragePooling1D,
        L.GlobalMaxPooling1D,
        L.ZeroPadding1D,
        L.Cropping1D,
        L.UpSampling1D,
        L.SpatialDropout1D,
        L.MaxPooling3D,
        L.AveragePooling3D,
        L.GlobalAveragePooling3D,
        L.GlobalMaxPooling3D,
        L.ZeroPadding3D,
        L.Cropping3D,
        L.UpSampling3D,
        L.SpatialDropout3D,
    )
)
PASS_LAYERS = (L.LeakyReLU, L.ELU, L.PReLU)
GRADIENT_ACTIVATIONS = ("relu", "linear", "identity")
PASS_ACTIVATIONS = (
    "sigmoid",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "leaky_relu",
    "relu6",
    "mish",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "celu",
    "log_sigmoid",
    "sparse_plus",
    "squareplus",
    "tanh_shrink",
)
GATE_ACTIVATIONS = ("sigmoid", "hard_sigmoid", "softmax", "sparse_sigmoid")
# Graph operations (keras.ops on symbolic tensors) whose LRP step is their gradient.
_LINEAR_OPS = (
    "Add",
    "Subtract",
    "Negative",
    "Reshape",
    "Transpose",
    "ExpandDims",
    "Squeeze",
    "Concatenate",
    "GetItem",
    "Mean",
)
_SCALING_OPS = ("Multiply", "Divide", "TrueDivide")  # by a constant; Multiply of two tensors is a gate


def supported_layers() -> list[str]:
    """Class names of the layers `kv.lrp` can propagate through."""
    names = {c.__name__ for c in WEIGHTED + GRADIENT_RULE + PASS_LAYERS}
    return sorted(names | {"Activation", "Multiply", "LayerNormalization"})


def is_plain_relu(layer) -> bool:
    """A `ReLU` layer without cap, slope or threshold (its gradient is the z-rule)."""
    return not (layer.max_value is not None or float(layer.negative_slope) != 0 or float(layer.threshold) != 0)


def classify(call, is_head: bool) -> str:
    """The treatment of one layer call (see the module docstring), or `UnsupportedLayerError`.

    Args:
        call: a traced call (`graph.Call`) with `layer`, `path`, `inputs`, `args`.
        is_head: the layer produces the explained output (any activation allowed).
    """
    layer, path = call.layer, call.path
    if not isinstance(layer, L.Layer):
        return _classify_operation(call)
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        raise UnsupportedLayerError(
            f"Layer {path!r} ({type(layer).__name__}) uses data_format='channels_first'; kv.lrp needs channels_last."
        )
    if isinstance(layer, WEIGHTED):
        if not is_head:
            _check_activation(layer.activation, path, layer)
        return "weighted"
    if isinstance(layer, L.Softmax) and not is_head:
        raise UnsupportedLayerError(
            f"Layer {path!r} (Softmax) inside the network has no LRP rule; only a softmax head is supported "
            "(it is read as logits)."
        )
    if isinstance(layer, L.ReLU):
        return "gradient" if is_plain_relu(layer) or is_head else "pass"
    if isinstance(layer, GRADIENT_RULE):
        return "gradient"
    if isinstance(layer, PASS_LAYERS):
        return "pass"
    if isinstance(layer, L.Activation):
        if is_head:
            return "gradient"
        _check_activation(layer.activation, path, layer)
        return "pass" if activation_name(layer.activation) in PASS_ACTIVATIONS else "gradient"
    if isinstance(layer, L.Multiply):
        return "gate"
    if isinstance(layer, L.LayerNormalization):
        return "layer_norm"
    raise _unsupported(layer, path)


def _classify_operation(call) -> str:
    kind = type(call.layer).__name__
    tensors = len(call.inputs)
    if kind in _LINEAR_OPS:
        return "gradient"
    if kind == "Multiply" and tensors == 2:
        return "gate"
    if kind in _SCALING_OPS and tensors == 1 and (kind == "Multiply" or call.first_is_tensor):
        return "gradient"
    raise UnsupportedLayerError(
        f"Operation {call.path!r} ({kind} on {tensors} tensor(s)) has no LRP rule in kv.lrp. Supported operations "
        f"on tensors in a functional graph: {', '.join(_LINEAR_OPS)}; multiplication or division by a constant; "
        "a product of two tensors where one is a gate."
    )


def _check_activation(fn, path, layer):
    name = activation_name(fn)
    if fn is not None and name not in GRADIENT_ACTIVATIONS + PASS_ACTIVATIONS:
        raise UnsupportedLayerError(
            f"Layer {path!r} ({type(layer).__name__}) has activation {name!r}, which kv.lrp does not know. "
            f"Supported: {sorted(GRADIENT_ACTIVATIONS + PASS_ACTIVATIONS)}."
        )


def _unsupported(layer, path):
    return UnsupportedLayerError(
        f"Layer {path!r} of type {type(layer).__name__} has no LRP rule in kv.lrp. "
        f"Supported layer types: {', '.join(supported_layers())}. Other element-wise activations "
        "pass relevance through unchanged."
    )


def needs_pass_through(fn) -> bool:
    """True for a non-ReLU element-wise activation (relevance passes unchanged)."""
    return fn is not None and activation_name(fn) in PASS_ACTIVATIONS


def is_gate_producer(layer) -> bool:
    """True if `layer` ends in a sigmoid-like activation (its output reads as a gate)."""
    if isinstance(layer, L.Layer) and not isinstance(layer, L.InputLayer):
        fn = getattr(layer, "activation", None)
        return fn is not None and activation_name(fn) in GATE_ACTIVATIONS
    return False
