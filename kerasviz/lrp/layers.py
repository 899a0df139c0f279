"""Which Keras layers LRP supports, and the layers that carry the rules.

Three kinds of layers:

- weighted (Conv2D, Dense): replaced, in the rebuilt graph, by `RuleLayer`,
  whose forward pass is the layer's own and whose gradient is the LRP rule;
- z-rule layers whose LRP step *is* their gradient when relevance per unit
  activation is propagated (see `rules.py`): ReLU, max pooling
  (winner-take-all), average / global average pooling and Add (proportional),
  Concatenate, Flatten, Reshape, padding, cropping, Dropout (identity at
  inference), a BatchNormalization that cannot be folded (z-rule, as in
  iNNvestigate);
- other element-wise activations (sigmoid, tanh, GELU, swish, ...): relevance
  passes through unchanged (`PassThrough`). This breaks the ReLU theory and is
  documented, not hidden.

Everything else raises `UnsupportedLayerError` naming the layer and its type.
"""

from __future__ import annotations

import itertools

import keras
import tensorflow as tf

from kerasviz.core.graph import activation_name
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.lrp.rules import Rule

_uid = itertools.count()

WEIGHTED = (keras.layers.Conv2D, keras.layers.Dense)
GRADIENT_RULE = (
    keras.layers.InputLayer,
    keras.layers.ReLU,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.AlphaDropout,
    keras.layers.Add,
    keras.layers.Concatenate,
    keras.layers.BatchNormalization,
    keras.layers.Softmax,  # only as the model's head, which is read as logits
)
_GRADIENT_ACTIVATIONS = ("relu", "linear", "identity")
_PASS_ACTIVATIONS = ("sigmoid", "tanh", "elu", "selu", "gelu", "silu", "swish", "softplus", "leaky_relu", "relu6", "mish", "hard_sigmoid", "hard_silu", "hard_swish")


def supported_layers() -> list[str]:
    """Class names of the layers `kv.lrp` can propagate through."""
    return sorted({c.__name__ for c in WEIGHTED + GRADIENT_RULE} | {"Activation"})


def check_supported(layer, path: str, is_head: bool) -> None:
    """Raise `UnsupportedLayerError` naming `layer` unless LRP can pass it."""
    if isinstance(layer, keras.layers.Conv2D) and layer.data_format != "channels_last":
        raise UnsupportedLayerError(f"Layer {path!r} (Conv2D) uses data_format={layer.data_format!r}; kv.lrp needs channels_last.")
    if isinstance(layer, keras.layers.Conv2D) and type(layer) is not keras.layers.Conv2D:
        raise _unsupported(layer, path)  # Conv2DTranspose, Depthwise...: different linear map
    if isinstance(layer, keras.layers.Softmax) and not is_head:
        raise UnsupportedLayerError(f"Layer {path!r} (Softmax) inside the network has no LRP rule; only a softmax head is supported (it is read as logits).")
    if isinstance(layer, WEIGHTED + GRADIENT_RULE):
        if hasattr(layer, "activation") and not is_head:
            _check_activation(layer.activation, path, layer)
        return
    if isinstance(layer, keras.layers.Activation):
        if not is_head:
            _check_activation(layer.activation, path, layer)
        return
    raise _unsupported(layer, path)


def _check_activation(fn, path, layer):
    name = activation_name(fn)
    if fn is not None and name not in _GRADIENT_ACTIVATIONS + _PASS_ACTIVATIONS:
        raise UnsupportedLayerError(
            f"Layer {path!r} ({type(layer).__name__}) has activation {name!r}, which kv.lrp does not know. "
            f"Supported: {sorted(_GRADIENT_ACTIVATIONS + _PASS_ACTIVATIONS)}."
        )


def _unsupported(layer, path):
    return UnsupportedLayerError(
        f"Layer {path!r} of type {type(layer).__name__} has no LRP rule in kv.lrp. "
        f"Supported layer types: {', '.join(supported_layers())}. Other element-wise activations "
        "pass relevance through unchanged."
    )


def needs_pass_through(fn) -> bool:
    """True for a non-ReLU element-wise activation (relevance passes unchanged)."""
    return fn is not None and activation_name(fn) in _PASS_ACTIVATIONS


def linear_map(layer):
    """`linear(a, W, b) -> z`: the affine part of a Conv2D or Dense layer."""
    if isinstance(layer, keras.layers.Conv2D):
        def linear(a, weights, bias):
            z = layer.convolution_op(a, weights)
            return z if bias is None else z + bias
    else:
        def linear(a, weights, bias):
            z = tf.matmul(a, weights) if a.shape.rank == 2 else tf.tensordot(a, weights, 1)
            return z if bias is None else z + bias
    return linear


def folded_weights(layer, batch_norm=None):
    """The layer's kernel and bias as tensors, with a following BatchNorm folded in.

    Never writes to the user's variables: the folding is done on tensors read
    from them at each call. `bias` is None for a bias-free, unfolded layer.
    """
    kernel = tf.convert_to_tensor(layer.kernel)
    bias = tf.convert_to_tensor(layer.bias) if layer.use_bias else None
    if batch_norm is None:
        return kernel, bias
    bn = batch_norm
    scale = tf.math.rsqrt(tf.convert_to_tensor(bn.moving_variance) + bn.epsilon)
    if bn.scale:
        scale = scale * tf.convert_to_tensor(bn.gamma)
    shift = -tf.convert_to_tensor(bn.moving_mean) * scale
    if bn.center:
        shift = shift + tf.convert_to_tensor(bn.beta)
    bias = shift if bias is None else bias * scale + shift
    return kernel * scale, bias


def can_fold(batch_norm, producer) -> bool:
    """A BatchNorm over the last axis directly after a linear Conv2D / Dense can be folded."""
    axis = batch_norm.axis if isinstance(batch_norm.axis, int) else tuple(batch_norm.axis)
    last = axis in (-1, (-1,)) or (producer is not None and axis in (len(producer.output.shape) - 1, (len(producer.output.shape) - 1,)))
    return (
        isinstance(producer, WEIGHTED)
        and last
        and not getattr(batch_norm, "renorm", False)
        and activation_name(producer.activation) in ("linear", "identity")
    )


class RuleLayer(keras.layers.Layer):
    """A Conv2D / Dense whose gradient is an LRP rule (forward pass unchanged).

    Shares the source layer's variables (not tracked here). The fused
    activation is applied after the rule; a softmax/sigmoid head is dropped so
    that the model outputs logits.
    """

    def __init__(self, layer, rule: Rule, batch_norm=None, drop_activation=False, **kwargs):
        super().__init__(name=f"{layer.name}_lrp_{next(_uid)}", dtype=layer.dtype_policy, **kwargs)
        object.__setattr__(self, "_source", layer)
        object.__setattr__(self, "_batch_norm", batch_norm)
        self.rule, self.drop_activation = rule, drop_activation
        self._linear = linear_map(layer)

    def call(self, inputs):
        weights, bias = folded_weights(self._source, self._batch_norm)
        linear, rule = self._linear, self.rule

        @tf.custom_gradient
        def relevance_step(a):
            z = linear(a, weights, bias)

            def grad(g):
                return rule.backward(linear, a, z, g, weights, bias)

            return z, grad

        z = relevance_step(inputs)
        activation = None if self.drop_activation else self._source.activation
        return apply_activation(activation, z)

    def compute_output_shape(self, input_shape):
        return self._source.compute_output_shape(input_shape)


def apply_activation(fn, z):
    """`fn(z)`, with relevance passing through unchanged for non-ReLU activations."""
    if fn is None or activation_name(fn) in _GRADIENT_ACTIVATIONS:
        return z if fn is None else fn(z)
    return pass_through(fn, z)


def pass_through(fn, z):
    """`fn(z)` whose gradient keeps relevance: `R_in = R_out` so `g_in = g·fn(z)/z`."""

    @tf.custom_gradient
    def step(x):
        y = fn(x)

        def grad(g):
            safe = tf.where(tf.abs(x) > 1e-12, x, tf.ones_like(x))
            return tf.where(tf.abs(x) > 1e-12, g * y / safe, tf.zeros_like(g))

        return y, grad

    return step(z)


class PassThrough(keras.layers.Layer):
    """A standalone non-ReLU `Activation` layer with pass-through relevance."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_lrp_{next(_uid)}", dtype=layer.dtype_policy, **kwargs)
        object.__setattr__(self, "_source", layer)

    def call(self, inputs):
        return pass_through(self._source.activation, inputs)
