"""Layers that stand in for the user's layers in the LRP graph (forward pass unchanged).

Each computes its source layer's output and gives it the gradient that carries
relevance per unit activation by that layer's LRP rule (see `layers.py`).
"""

from __future__ import annotations

import itertools

import keras
import tensorflow as tf

from kerasviz.relevance.linear import pass_through, with_gradient
from kerasviz.relevance.precision import call_layer, lrp_dtype, read

_uid = itertools.count()


class _Standin(keras.layers.Layer):
    """Shares the source layer's variables without tracking them."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_lrp_{next(_uid)}", dtype=lrp_dtype(layer), **kwargs)
        object.__setattr__(self, "_source", layer)

    def compute_output_spec(self, *args, **kwargs):
        spec = self._source.compute_output_spec(*args, **kwargs)
        return keras.tree.map_structure(lambda s: keras.KerasTensor(s.shape, self.compute_dtype), spec)


class PassThrough(_Standin):
    """An element-wise activation layer with pass-through relevance (`R_in = R_out`)."""

    def call(self, inputs):
        return pass_through(lambda x: call_layer(self._source, x), inputs)


class AffinePrefix(_Standin):
    """A per-channel affine layer folded into the pixel layer after it: its gradient is the identity.

    The pixel layer's rule already accounts for the affine, so relevance must
    pass back to the raw pixels unchanged.
    """

    def call(self, inputs):
        return with_gradient(lambda x: call_layer(self._source, x), lambda x, y, g: g, inputs)


class Gate(_Standin):
    """`signal * gate` with the gate held constant: all relevance to the signal, none to the gate.

    Args:
        layer: the Multiply layer or operation.
        gate_index: which of the two tensor operands is the gate.
    """

    def __init__(self, layer, gate_index: int, **kwargs):
        super().__init__(layer, **kwargs)
        self.gate_index = gate_index

    def call(self, first, second):
        signal, gate = (second, first) if self.gate_index == 0 else (first, second)
        return signal * tf.stop_gradient(tf.cast(gate, signal.dtype))

    def compute_output_spec(self, first, second):
        shape = [b if a == 1 else a for a, b in zip(first.shape, second.shape)]
        return keras.KerasTensor(tuple(shape), self.compute_dtype)


class LayerNormRule(_Standin):
    """LayerNormalization whose gradient treats the normalising statistic as a constant.

    Forward: the layer's own output. Backward: the vector-Jacobian product of
    `γ·(x − mean(x))·stop_gradient(1/σ)` (or `γ·x·stop_gradient(1/rms)` for RMS
    scaling), which is LRP-0 of that linear map (the LN-rule, Ali et al. 2022).
    """

    def call(self, inputs):
        source = self._source

        def backward(x, y, g):
            with tf.GradientTape() as tape:
                tape.watch(x)
                linear = _layer_norm_linear(source, x)
            return tape.gradient(linear, x, output_gradients=g)

        return with_gradient(lambda x: call_layer(source, x), backward, inputs)


def _layer_norm_linear(layer, x):
    rank = x.shape.rank
    axes = sorted(a % rank for a in ([layer.axis] if isinstance(layer.axis, int) else layer.axis))
    shape = [x.shape[i] if i in axes else 1 for i in range(rank)]
    if layer.rms_scaling:
        centred = x
        variance = tf.reduce_mean(tf.square(x), axis=axes, keepdims=True)
    else:
        mean, variance = tf.nn.moments(x, axes=axes, keepdims=True)
        centred = x - mean
    y = centred * tf.stop_gradient(tf.math.rsqrt(variance + layer.epsilon))
    if layer.scale and getattr(layer, "gamma", None) is not None:
        y = y * tf.reshape(read(layer.gamma, x.dtype), shape)
    return y
