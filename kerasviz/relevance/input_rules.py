"""LRP input rules: z^B (bounded pixels), w² and flat, which return the input relevance itself.

They do not have the form `R_in = a ⊙ c` of the rules in `rules.py` and are
only allowed on layers reading the pixels (Montavon et al. 2017, "Explaining
nonlinear classification decisions with deep Taylor decomposition").
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.relevance.rules import Rule, divide_or_zero, forward_and_vjp, signed_parts

Bounds = str | tuple | None


class ZBox(Rule):
    """z^B for the pixel layer: relevance within the box `low ≤ x ≤ high`.

    `R_i = Σ_j (x_i w_ij − l_i w_ij⁺ − h_i w_ij⁻) / Σ_i (…) · R_j`. The bounds
    are the value range of the model's inputs: after preprocessing when the
    model takes preprocessed images, the raw range (e.g. 0 and 255) when the
    model starts with `Rescaling` / `Normalization` layers (those are folded
    into the first layer). Padded positions contribute nothing.

    Args:
        low, high: scalars, per-channel `(C,)` or per-pixel `(H, W, C)`
            arrays (e.g. `0 - mean_image`, `255 - mean_image`). Or give `bounds` to `lrp`
            as a preprocessing family name ("vgg16", "tf", "torch", ...:
            the images of `kv.preprocess` 0 and 255). None: each image's own
            min and max.

    Raises:
        InvalidArgumentError: only one bound given, non-finite bounds, or `low >= high` somewhere.
    """

    name = "zb"
    input_only = True

    def __init__(self, low=None, high=None):
        if (low is None) != (high is None):
            raise InvalidArgumentError(
                "Give both bounds `low` and `high` for z^B, or neither (each image's own range)."
            )
        # Stored as nested lists (rules are hashed by repr for the step cache); any shape
        # broadcastable to an image: scalar, per channel (C,), or per pixel (H, W, C).
        self.low = self.high = None
        if low is not None:
            lo, hi = _bound_array(low, "low"), _bound_array(high, "high")
            try:
                ordered = np.all(np.asarray(lo) < np.asarray(hi))
            except ValueError:
                raise InvalidArgumentError(
                    f"`bounds` low {np.shape(lo)} and high {np.shape(hi)} do not broadcast to one shape."
                ) from None
            if not ordered:
                raise InvalidArgumentError(
                    f"`bounds` need low < high everywhere; got low={_short(lo)}, high={_short(hi)}."
                )
            self.low, self.high = lo.tolist(), hi.tolist()

    def __repr__(self) -> str:
        return f"ZBox(low={self.low!r}, high={self.high!r})"

    def _bounds(self, x, context):
        pixels = x if context is None else context.raw
        if self.low is None:
            axes = list(range(1, pixels.shape.rank))
            low = tf.reduce_min(pixels, axis=axes, keepdims=True)
            high = tf.reduce_max(pixels, axis=axes, keepdims=True)
        else:
            low, high = tf.constant(self.low, x.dtype), tf.constant(self.high, x.dtype)
        low, high = tf.broadcast_to(low, tf.shape(pixels)), tf.broadcast_to(high, tf.shape(pixels))
        if context is not None:  # onto the layer's grid; v = sign·x, so a negative scale swaps the bounds
            low, high = context.to_grid(low), context.to_grid(high)
            flipped = context.sign < 0
            low, high = tf.where(flipped, -high, low), tf.where(flipped, -low, high)
        return low, high

    def backward(self, linear, x, z, g, weights, bias, context=None):
        low, high = self._bounds(x, context)
        w_pos, w_neg = signed_parts(weights)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, low, high])
            zx, zl, zh = linear(x, weights, None), linear(low, w_pos, None), linear(high, w_neg, None)
        s = divide_or_zero(g * z, zx - zl - zh)
        c, cl, ch = (tape.gradient(t, v, output_gradients=s) for t, v in ((zx, x), (zl, low), (zh, high)))
        return x * c - low * cl - high * ch


def _bound_array(value, name):
    try:
        array = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"`bounds` {name} must be a number or an array of numbers; got {_short(value)}."
        ) from None
    if not np.isfinite(array).all():
        raise InvalidArgumentError(f"`bounds` {name} must be finite; got {_short(value)}.")
    return array


def _short(value) -> str:
    text = repr(np.asarray(value).tolist()) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class WSquare(Rule):
    """w²: `R_i = Σ_j w_ij² / Σ_i w_ij² · R_j`, independent of the input values."""

    name = "w_square"
    input_only = True

    def _weights(self, weights):
        return tf.square(weights)

    def _ones(self, x, context):
        # With an affine folded in, the weights are w·S: (w·S)² = w²·|S|·|S|.
        return tf.ones_like(x) if context is None else context.scale

    def backward(self, linear, x, z, g, weights, bias, context=None):
        ones = self._ones(x, context)
        c = forward_and_vjp(linear, ones, self._weights(weights), None, lambda zw: divide_or_zero(g * z, zw))
        return ones * c


class Flat(WSquare):
    """Flat: w² with every weight set to 1 (relevance spread evenly over the receptive field)."""

    name = "flat"

    def _weights(self, weights):
        return tf.ones_like(weights)

    def _ones(self, x, context):
        if context is None:
            return tf.ones_like(x)
        return divide_or_zero(tf.ones_like(x), context.scale)  # (w·S) := 1 where S ≠ 0, 0 at padding
