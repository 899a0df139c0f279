"""The linear maps of weighted layers, folding, and the layer that carries a rule.

A weighted layer is one or more `LinearPart`s (a SeparableConv2D is its
depthwise part then its pointwise part), each `z = linear(a, W, b)` with its
weights read from the user's variables at every call (a following
BatchNormalization folded in), never written back.

`RuleLayer` computes the layer's forward pass and makes the gradient of each
part its LRP rule. For a layer reading the pixels through per-channel affine
layers (Rescaling, Normalization, a BatchNormalization on the input) and
padding, the affine is folded in as well: the rule sees the raw pixels, so
z^B bounds are the raw pixel range and the offsets act as a bias (Montavon et
al. 2017 fold the input normalisation into the first layer the same way).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from kerasviz.core.graph import activation_name
from kerasviz.lrp.layers import GRADIENT_ACTIVATIONS
from kerasviz.lrp.precision import call_layer, lrp_dtype, read
from kerasviz.lrp.rules import PixelContext, Rule, divide_or_zero

_uid = itertools.count()
L = keras.layers


@dataclass
class LinearPart:
    """One linear map `linear(a, W, b)` and a reader of its (folded) weights `() -> (W, b)`."""

    linear: Callable
    weights: Callable


def _fold(kernel, bias, batch_norm, depthwise=False):
    """`kernel`, `bias` with a following BatchNorm folded in (per output channel)."""
    if batch_norm is None:
        return kernel, bias
    bn = batch_norm
    scale = tf.math.rsqrt(read(bn.moving_variance) + bn.epsilon)
    if bn.scale:
        scale = scale * read(bn.gamma)
    shift = -read(bn.moving_mean) * scale
    if bn.center:
        shift = shift + read(bn.beta)
    bias = shift if bias is None else bias * scale + shift
    kernel_scale = tf.reshape(scale, kernel.shape[-2:]) if depthwise else scale
    return kernel * kernel_scale, bias


def _bias(layer):
    return read(layer.bias) if getattr(layer, "use_bias", False) else None


def _add(z, bias):
    return z if bias is None else z + bias


def linear_parts(layer, batch_norm=None, *, combined: bool = False) -> list[LinearPart]:
    """The linear parts of a weighted layer (see the module docstring).

    Args:
        layer: Conv2D, DepthwiseConv2D, SeparableConv2D or Dense.
        batch_norm: a BatchNormalization to fold into the last part.
        combined: a SeparableConv2D as one convolution (for input rules,
            which need the linear map of the pixels as a whole).
    """
    if isinstance(layer, L.SeparableConv2D):
        conv = {"strides": layer.strides, "padding": layer.padding, "dilation_rate": layer.dilation_rate}
        depthwise = lambda a, w, b: _add(keras.ops.depthwise_conv(a, w, **conv), b)
        pointwise = lambda a, w, b: _add(keras.ops.conv(a, w, strides=1, padding="valid"), b)
        if combined:

            def combined_weights():
                d, p = read(layer.depthwise_kernel), read(layer.pointwise_kernel)
                cin, mult = d.shape[-2:]
                k = tf.einsum("hwcm,cmo->hwco", d, tf.reshape(p, (cin, mult, -1)))
                return _fold(k, _bias(layer), batch_norm)

            return [LinearPart(lambda a, w, b: _add(keras.ops.conv(a, w, **conv), b), combined_weights)]
        return [
            LinearPart(depthwise, lambda: (read(layer.depthwise_kernel), None)),
            LinearPart(pointwise, lambda: _fold(read(layer.pointwise_kernel), _bias(layer), batch_norm)),
        ]
    if isinstance(layer, L.DepthwiseConv2D):
        conv = {"strides": layer.strides, "padding": layer.padding, "dilation_rate": layer.dilation_rate}
        return [
            LinearPart(
                lambda a, w, b: _add(keras.ops.depthwise_conv(a, w, **conv), b),
                lambda: _fold(read(layer.kernel), _bias(layer), batch_norm, depthwise=True),
            )
        ]
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        kernel = lambda: _fold(read(layer.kernel), _bias(layer), batch_norm)
        # one group per input channel: a depthwise conv
        if isinstance(layer, L.Conv2D) and layer.groups > 1 and layer.kernel.shape[-2] == 1:
            conv = {"strides": layer.strides, "padding": layer.padding, "dilation_rate": layer.dilation_rate}

            def grouped(a, w, b):
                kh, kw, _, out = w.shape
                depthwise = tf.reshape(w, (kh, kw, a.shape[-1], out // a.shape[-1]))
                return _add(keras.ops.depthwise_conv(a, depthwise, **conv), b)

            return [LinearPart(grouped, kernel)]
        return [LinearPart(lambda a, w, b: _add(layer.convolution_op(a, w), b), kernel)]

    def dense(a, w, b):
        return _add(tf.matmul(a, w) if a.shape.rank == 2 else tf.tensordot(a, w, 1), b)

    return [LinearPart(dense, lambda: _fold(read(layer.kernel), _bias(layer), batch_norm))]


def can_fold(batch_norm, producer) -> bool:
    """A BatchNorm over the last axis directly after a linear weighted layer can be folded."""
    from kerasviz.lrp.layers import WEIGHTED

    if not isinstance(producer, WEIGHTED):
        return False
    rank = len(producer.output.shape)
    axis = batch_norm.axis if isinstance(batch_norm.axis, int) else tuple(batch_norm.axis)
    last = axis in (-1, (-1,), rank - 1, (rank - 1,))
    return (
        last
        and not getattr(batch_norm, "renorm", False)
        and activation_name(producer.activation) in ("linear", "identity")
    )


class PixelPrefix:
    """The per-channel affine and padding layers between the raw pixels and a pixel layer."""

    def __init__(self, layers):
        self.layers = list(layers)

    def __call__(self, t):
        for layer in self.layers:
            if not isinstance(layer, L.InputLayer):
                t = call_layer(layer, t)
        return t

    def context(self, raw, a):
        """`(PixelContext, v)`: the affine's `|S|`, `sign(S)`, and the raw pixels `v = sign·x` on `a`'s grid."""
        offset = tf.stop_gradient(self(tf.zeros_like(raw)))
        scale = tf.stop_gradient(self(tf.ones_like(raw))) - offset
        magnitude = tf.abs(scale)
        sign = tf.where(scale < 0, -tf.ones_like(scale), tf.ones_like(scale))
        to_grid = lambda t: divide_or_zero(self(t) - offset, scale)
        v = divide_or_zero(a - offset, magnitude)
        return PixelContext(magnitude, sign, raw, to_grid), v, offset


class RuleLayer(keras.layers.Layer):
    """A weighted layer whose gradient is an LRP rule (forward pass unchanged).

    Shares the source layer's variables (not tracked here). The fused
    activation is applied after the rule; a softmax/sigmoid head is dropped so
    that the model outputs logits. With a `prefix`, it is called on
    `[a, raw pixels]` and folds the prefix's affine into its first part.
    """

    def __init__(
        self, layer, rule: Rule, batch_norm=None, drop_activation=False, prefix: PixelPrefix | None = None, **kwargs
    ):
        super().__init__(name=f"{layer.name}_lrp_{next(_uid)}", dtype=lrp_dtype(layer), **kwargs)
        object.__setattr__(self, "_source", layer)
        object.__setattr__(self, "_prefix", prefix)
        self.rule, self.drop_activation = rule, drop_activation
        self._parts = linear_parts(layer, batch_norm, combined=rule.input_only)

    def call(self, inputs):
        if self._prefix is not None:
            a, raw = inputs
            z = self._first_part_on_pixels(a, raw)
        else:
            z = _rule_step(self._parts[0], self.rule, inputs)
        for part in self._parts[1:]:
            z = _rule_step(part, self.rule, z)
        activation = None if self.drop_activation else self._source.activation
        return apply_activation(activation, z)

    def _first_part_on_pixels(self, a, raw):
        part, rule = self._parts[0], self.rule
        weights, bias = part.weights()
        context, v, offset = self._prefix.context(raw, a)
        folded_bias = tf.stop_gradient(part.linear(offset, weights, bias))  # b' = W·O + b, per position

        def on_pixels(u, w, b):
            return part.linear(context.scale * u, w, None) if b is None else part.linear(context.scale * u, w, None) + b

        def backward(x, z, g):
            out = rule.backward(on_pixels, v, z, g, weights, folded_bias, context)
            # The prefix's affine layers pass this back unchanged (`AffinePrefix`); padding crops it.
            return out if rule.input_only else context.sign * out

        return with_gradient(lambda x: part.linear(x, weights, bias), backward, a)

    def compute_output_shape(self, input_shape):
        if self._prefix is not None:
            input_shape = input_shape[0]
        return self._source.compute_output_shape(input_shape)


def _rule_step(part: LinearPart, rule: Rule, a):
    weights, bias = part.weights()
    return with_gradient(
        lambda x: part.linear(x, weights, bias), lambda x, z, g: rule.backward(part.linear, x, z, g, weights, bias), a
    )


def with_gradient(forward, backward, x):
    """`forward(x)` whose gradient is `backward(x, y, g)` (variables read in `forward` get none)."""

    @tf.custom_gradient
    def step(x):
        y = forward(x)

        def grad(g, variables=None):
            gx = backward(x, y, g)
            return (gx, [tf.zeros_like(v) for v in variables]) if variables else gx

        return y, grad

    return step(x)


def apply_activation(fn, z):
    """`fn(z)`, with relevance passing through unchanged for non-ReLU activations."""
    if fn is None or activation_name(fn) in GRADIENT_ACTIVATIONS:
        return z if fn is None else fn(z)
    return pass_through(fn, z)


def pass_through(fn, z):
    """`fn(z)` whose gradient keeps relevance: `R_in = R_out`, so `g_in = g·fn(z)/z`."""
    return with_gradient(fn, lambda x, y, g: divide_or_zero(g * y, x), z)
