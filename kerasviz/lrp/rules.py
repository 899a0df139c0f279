"""LRP rules for one linear layer (Conv, Dense, depthwise and separable parts), as gradient steps.

Every rule is Montavon's four-step recipe (Montavon et al. 2019, "Layer-wise
relevance propagation: an overview"):

1. `z = ρ(W)·a + ρ(b)`  forward with modified weights,
2. `s = R_out / (z + stabiliser)`,
3. `c = ρ(W)ᵀ s`         one vector-Jacobian product (`tf.GradientTape`),
4. `R_in = a ⊙ c`.

The engine (`propagate.py`) carries `g = R / a` ("relevance per unit of
activation") backwards instead of `R` itself, as a custom gradient. Then step 4
is implicit (`R_in = a ⊙ g_in` with `g_in = c`), every layer whose LRP rule is
the plain z-rule (ReLU, max-pooling winner-take-all, average pooling, Add,
Concatenate, Flatten, Dropout) is its ordinary gradient, and LRP-0 on a
bias-free ReLU network *is* gradient × input. `R_out` is recovered as `z ⊙ g`
from the layer's real pre-activation `z`.

Input rules (z^B, w², flat) do not have the form `a ⊙ c`; they return the
input relevance `R_in` itself and are only allowed on layers reading the pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.validate import check_number

# linear(a, W, b) -> z : the layer's affine map with given weights.
Linear = Callable[[tf.Tensor, tf.Tensor, tf.Tensor | None], tf.Tensor]

TINY = 1e-9  # keeps 0/0 at 0 without visibly changing conservation


@dataclass
class PixelContext:
    """What an input rule needs to know about the pixels behind a layer.

    When the pixels reach the layer through per-channel affine layers
    (Rescaling, Normalization) and padding, the layer is rewritten on the raw
    pixels `v` (`a = S·v + O`, the affine folded into the layer). Rules then see
    `v` and a `linear` that includes `|S|`; this holds the rest.

    Attributes:
        scale: `|S|` on the layer's input grid (0 at padded positions).
        sign: `sign(S)` per position (+1 where S ≥ 0): `v = sign·x` for raw pixels x.
        raw: the raw pixel batch `(N, H, W, C)` (for the bounds).
        to_grid: maps a tensor shaped like `raw` onto the layer's input grid
            (through the padding and cropping in between; 0 at padded positions).
    """

    scale: tf.Tensor
    sign: tf.Tensor
    raw: tf.Tensor
    to_grid: Callable[[tf.Tensor], tf.Tensor]


def divide_or_zero(num, den):
    """num / den, with 0 where den is (almost) 0 (an empty positive or negative part)."""
    safe = tf.where(tf.abs(den) > TINY, den, tf.ones_like(den))
    return tf.where(tf.abs(den) > TINY, num / safe, tf.zeros_like(num))


def _vjp(linear: Linear, a, weights, bias, s):
    """ρ(W)ᵀ s: the gradient of `linear(a, W, b)` w.r.t. `a`, weighted by `s` (step 3)."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        z = linear(a, weights, bias)
    return tape.gradient(z, a, output_gradients=s)


def _forward_and_vjp(linear: Linear, a, weights, bias, make_s):
    """Steps 1-3 with modified weights: z = linear(a, ρW, ρb); s = make_s(z); c = ρWᵀ s."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        z = linear(a, weights, bias)
    return tape.gradient(z, a, output_gradients=make_s(z))


def _parts(x):
    return tf.nn.relu(x), -tf.nn.relu(-x)


class Rule:
    """Base class: one LRP rule for a linear layer.

    Subclasses implement `backward(linear, a, z, g, W, b, context=None) -> g_in`
    where `a` is the layer input `(N, ...)`, `z` its real pre-activation,
    `g = R_out / z` the incoming relevance per unit, `W`, `b` its
    (BatchNorm-folded) weights and `context` a `PixelContext` for layers that
    read the pixels through an affine layer. Input rules set
    `input_only = True` and return `R_in` itself.
    """

    name = "rule"
    input_only = False

    def backward(self, linear: Linear, a, z, g, weights, bias, context: PixelContext | None = None):  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class Zero(Rule):
    """LRP-0: `R_j = Σ_k a_j w_jk / z_k · R_k`; exactly the gradient (biases absorb their share)."""

    name = "zero"

    def backward(self, linear, a, z, g, weights, bias, context=None):
        return _vjp(linear, a, weights, bias, g)


class Epsilon(Rule):
    """LRP-ε: `z_k + ε·sign(z_k)` (sign(0) = +1) in the denominator; ε absorbs weak, contradictory relevance.

    Args:
        epsilon: the stabiliser ε ≥ 0 (absolute), or a multiple of each image's
            RMS of `z` over the layer when `relative=True` (the LRP tutorial's
            `0.25·std` choice; scale-free, so one value suits every layer).
        relative: interpret `epsilon` relative to the layer's RMS pre-activation.

    Raises:
        InvalidArgumentError: `epsilon` negative, NaN or infinite.
    """

    name = "epsilon"

    def __init__(self, epsilon: float = 1e-6, relative: bool = False):
        self.epsilon = float(check_number(epsilon, "epsilon", minimum=0.0))  # type: ignore[arg-type]
        self.relative = bool(relative)

    def backward(self, linear, a, z, g, weights, bias, context=None):
        eps = self.epsilon
        if self.relative:
            axes = list(range(1, z.shape.rank))
            eps = eps * tf.sqrt(tf.reduce_mean(tf.square(z), axis=axes, keepdims=True))
        s = tf.math.divide_no_nan(g * z, tf.where(z >= 0, z + eps, z - eps))
        return _vjp(linear, a, weights, bias, s)


class Gamma(Rule):
    """Generalised LRP-γ: favour the contributions that share the sign of the output.

    For an output `z > 0` the positive contributions `a⁺w⁺` and `a⁻w⁻` are
    amplified by `1 + γ`:
    `R_j = Σ_k (a_j⁺(w_jk + γw_jk⁺) + a_j⁻(w_jk + γw_jk⁻)) / Σ_j (…) + b_k + γb_k⁺ · R_k`;
    for `z < 0` the negative contributions (`w⁺ ↔ w⁻`, `b⁻`); `z = 0` passes
    nothing. With non-negative inputs and positive outputs this is Montavon et
    al.'s (2019) `w + γw⁺` rule exactly; unlike it, the denominator always has
    the sign of `z` and `|denominator| ≥ |z|`, so it is defined for signed
    inputs, negative logits and layers feeding a residual Add (Andéol et al.
    2021; zennit's `Gamma`). γ = 0 is LRP-0; large γ tends to the rule that
    keeps only the contributions of the output's sign.

    Args:
        gamma: γ ≥ 0.

    Raises:
        InvalidArgumentError: `gamma` negative, NaN or infinite.
    """

    name = "gamma"

    def __init__(self, gamma: float = 0.25):
        self.gamma = float(check_number(gamma, "gamma", minimum=0.0))  # type: ignore[arg-type]

    def backward(self, linear, a, z, g, weights, bias, context=None):
        relevance = g * z
        gamma = self.gamma
        w_up, w_down = weights + gamma * tf.nn.relu(weights), weights - gamma * tf.nn.relu(-weights)
        b_up = None if bias is None else bias + gamma * tf.nn.relu(bias)
        b_down = None if bias is None else bias - gamma * tf.nn.relu(-bias)
        signed_input = tf.reduce_any(a < 0)

        def part(mask, w_pos_input, b, w_neg_input):
            """`g_in` for the outputs in `mask`: a⁺ uses `w_pos_input` (and b), a⁻ uses `w_neg_input`."""
            r = tf.where(mask, relevance, tf.zeros_like(relevance))

            def signed():
                a_pos, a_neg = _parts(a)
                with tf.GradientTape(persistent=True) as tape:
                    tape.watch([a_pos, a_neg])
                    z1, z2 = linear(a_pos, w_pos_input, b), linear(a_neg, w_neg_input, None)
                s = tf.math.divide_no_nan(r, z1 + z2)  # |z1 + z2| >= |z|: no blow-up
                c_pos = tape.gradient(z1, a_pos, output_gradients=s)
                c_neg = tape.gradient(z2, a_neg, output_gradients=s)
                return tf.where(a > 0, c_pos, c_neg)

            def nonnegative():  # a ≥ 0: the a⁻ terms vanish (the common case, after a ReLU)
                return _forward_and_vjp(linear, a, w_pos_input, b, lambda zg: tf.math.divide_no_nan(r, zg))

            return tf.cond(signed_input, signed, nonnegative)

        positive = part(z > 0, w_up, b_up, w_down)
        # Outputs below zero carry relevance only where no ReLU follows (residual branches, logits).
        negative = z < 0
        needed = tf.reduce_any(tf.logical_and(negative, tf.not_equal(relevance, 0)))
        return positive + tf.cond(needed, lambda: part(negative, w_down, b_down, w_up), lambda: tf.zeros_like(positive))


class AlphaBeta(Rule):
    """LRP-αβ: `α·(positive part) − β·(negative part)` of the contributions, α − β = 1.

    `AlphaBeta(1, 0)` is z⁺. Handles inputs of either sign (the positive
    contributions are `a⁺w⁺ + a⁻w⁻`). A neuron with no positive (negative)
    contribution passes nothing through that part (0/0 := 0).

    Args:
        alpha: weight of the positive part (≥ 1).
        beta: weight of the negative part (≥ 0), `alpha - beta == 1`.

    Raises:
        InvalidArgumentError: NaN / infinite values, `beta < 0` or `alpha - beta != 1`.
    """

    name = "alpha_beta"

    def __init__(self, alpha: float = 2.0, beta: float = 1.0):
        alpha = float(check_number(alpha, "alpha", minimum=1.0))  # type: ignore[arg-type]
        beta = float(check_number(beta, "beta", minimum=0.0))  # type: ignore[arg-type]
        if abs(alpha - beta - 1.0) > 1e-9:
            raise InvalidArgumentError(
                f"LRP-αβ needs `alpha` - `beta` = 1 (conservation); got alpha={alpha:g}, beta={beta:g}."
            )
        self.alpha, self.beta = alpha, beta

    def backward(self, linear, a, z, g, weights, bias, context=None):
        relevance = g * z
        a_pos, a_neg = _parts(a)
        w_pos, w_neg = _parts(weights)
        b_pos, b_neg = (None, None) if bias is None else _parts(bias)

        def part(w_for_pos_a, w_for_neg_a, b):
            # z_part = a⁺·W1 + a⁻·W2 (+ b); c's are taken separately for a⁺ and a⁻.
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([a_pos, a_neg])
                z1, z2 = linear(a_pos, w_for_pos_a, b), linear(a_neg, w_for_neg_a, None)
            s = divide_or_zero(relevance, z1 + z2)
            c_pos, c_neg = tape.gradient(z1, a_pos, output_gradients=s), tape.gradient(z2, a_neg, output_gradients=s)
            return tf.where(a > 0, c_pos, c_neg)

        positive = part(w_pos, w_neg, b_pos)
        if self.beta == 0:
            return self.alpha * positive
        return self.alpha * positive - self.beta * part(w_neg, w_pos, b_neg)


Bounds = Union[None, str, tuple]


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
        w_pos, w_neg = _parts(weights)
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
        c = _forward_and_vjp(linear, ones, self._weights(weights), None, lambda zw: divide_or_zero(g * z, zw))
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


RULES = {
    "zero": Zero,
    "lrp0": Zero,
    "z": Zero,
    "epsilon": Epsilon,
    "gamma": Gamma,
    "alpha_beta": AlphaBeta,
    "alphabeta": AlphaBeta,
    "zplus": lambda: AlphaBeta(1.0, 0.0),
    "z_plus": lambda: AlphaBeta(1.0, 0.0),
    "zb": ZBox,
    "zbox": ZBox,
    "w_square": WSquare,
    "wsquare": WSquare,
    "flat": Flat,
}
