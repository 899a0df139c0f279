"""LRP rules for one linear layer (Conv2D / Dense), written as gradient steps.

Every rule is Montavon's four-step recipe (methods.md §7.1):

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

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

# linear(a, W, b) -> z : the layer's affine map with given weights.
Linear = Callable[[tf.Tensor, tf.Tensor, Optional[tf.Tensor]], tf.Tensor]

TINY = 1e-9  # keeps 0/0 at 0 without visibly changing conservation


def _sign(z):
    """sign(z) with sign(0) := +1 (innvestigate's convention)."""
    return tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z))


def _divide(num, den):
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


class Rule:
    """Base class: one LRP rule for a Conv2D / Dense layer.

    Subclasses implement `backward(linear, a, z, g, W, b) -> g_in` where `a` is
    the layer input `(N, ...)`, `z` its real pre-activation, `g = R_out / z`
    the incoming relevance per unit, `W`, `b` its (BatchNorm-folded) weights.
    Input rules set `input_only = True` and return `R_in` itself.
    """

    name = "rule"
    input_only = False

    def backward(self, linear: Linear, a, z, g, weights, bias):  # pragma: no cover - abstract
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

    def backward(self, linear, a, z, g, weights, bias):
        return _vjp(linear, a, weights, bias, g)


class Epsilon(Rule):
    """LRP-ε: `z_k + ε·sign(z_k)` in the denominator; ε absorbs weak, contradictory relevance.

    Args:
        epsilon: the stabiliser ε (absolute), or a multiple of each image's RMS
            of `z` over the layer when `relative=True` (the LRP tutorial's
            `0.25·std` choice; scale-free, so one value suits every layer).
        relative: interpret `epsilon` relative to the layer's RMS pre-activation.
    """

    name = "epsilon"

    def __init__(self, epsilon: float = 1e-6, relative: bool = False):
        if epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon}.")
        self.epsilon = float(epsilon)
        self.relative = bool(relative)

    def backward(self, linear, a, z, g, weights, bias):
        eps = self.epsilon
        if self.relative:
            axes = list(range(1, z.shape.rank))
            eps = eps * tf.sqrt(tf.reduce_mean(tf.square(z), axis=axes, keepdims=True))
        s = g * z / (z + eps * _sign(z))
        return _vjp(linear, a, weights, bias, s)


class Gamma(Rule):
    """LRP-γ: weights `w + γ·w⁺` (and bias `b + γ·b⁺`) favour positive contributions.

    Args:
        gamma: γ ≥ 0 (0 is LRP-0; large γ tends to z⁺). Meant for non-negative
            inputs (after a ReLU).
    """

    name = "gamma"

    def __init__(self, gamma: float = 0.25):
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}.")
        self.gamma = float(gamma)

    def backward(self, linear, a, z, g, weights, bias):
        w = weights + self.gamma * tf.nn.relu(weights)
        b = None if bias is None else bias + self.gamma * tf.nn.relu(bias)
        return _forward_and_vjp(linear, a, w, b, lambda zg: _divide(g * z, zg + TINY * _sign(zg)))


class AlphaBeta(Rule):
    """LRP-αβ: `α·(positive part) − β·(negative part)` of the contributions, α − β = 1.

    `AlphaBeta(1, 0)` is z⁺. Handles inputs of either sign (the positive
    contributions are `a⁺w⁺ + a⁻w⁻`). A neuron with no positive (negative)
    contribution passes nothing through that part (0/0 := 0).

    Args:
        alpha: weight of the positive part (≥ 1).
        beta: weight of the negative part (≥ 0), `alpha - beta == 1`.
    """

    name = "alpha_beta"

    def __init__(self, alpha: float = 2.0, beta: float = 1.0):
        if beta < 0 or abs(alpha - beta - 1.0) > 1e-9:
            raise ValueError(f"LRP-αβ needs alpha - beta = 1 and beta >= 0 (conservation); got alpha={alpha}, beta={beta}.")
        self.alpha, self.beta = float(alpha), float(beta)

    def backward(self, linear, a, z, g, weights, bias):
        relevance = g * z
        a_pos, a_neg = tf.nn.relu(a), -tf.nn.relu(-a)
        w_pos, w_neg = tf.nn.relu(weights), -tf.nn.relu(-weights)
        b_pos = None if bias is None else tf.nn.relu(bias)
        b_neg = None if bias is None else -tf.nn.relu(-bias)

        def part(w_for_pos_a, w_for_neg_a, b):
            # z_part = a⁺·W1 + a⁻·W2 (+ b); c's are taken separately for a⁺ and a⁻.
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([a_pos, a_neg])
                z1, z2 = linear(a_pos, w_for_pos_a, b), linear(a_neg, w_for_neg_a, None)
            s = _divide(relevance, z1 + z2)
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
    must be the real value range of the model's inputs *after*
    preprocessing, per channel for mean/std normalisation.

    Args:
        low, high: scalars, per-channel `(C,)` or per-pixel `(H, W, C)`
            arrays (e.g. `0 - mean_image`, `255 - mean_image`). Or give `bounds` to `lrp`
            as a preprocessing family name ("vgg16", "tf", "torch", ...:
            the images of `kv.preprocess` 0 and 255). None: each image's own
            min and max.
    """

    name = "zb"
    input_only = True

    def __init__(self, low=None, high=None):
        if (low is None) != (high is None):
            raise ValueError("Give both `low` and `high` for z^B, or neither (each image's own range).")
        # Stored as nested lists (rules are hashed by repr for the step cache); any shape
        # broadcastable to an image: scalar, per channel (C,), or per pixel (H, W, C).
        self.low = None if low is None else np.asarray(low, np.float64).tolist()
        self.high = None if high is None else np.asarray(high, np.float64).tolist()
        if low is not None and np.any(np.asarray(self.low) > np.asarray(self.high)):
            raise ValueError("z^B bounds need low <= high everywhere.")

    def __repr__(self) -> str:
        return f"ZBox(low={self.low!r}, high={self.high!r})"

    def _bounds(self, x):
        if self.low is None:
            axes = list(range(1, x.shape.rank))
            low = tf.reduce_min(x, axis=axes, keepdims=True)
            high = tf.reduce_max(x, axis=axes, keepdims=True)
        else:
            low, high = tf.constant(self.low, x.dtype), tf.constant(self.high, x.dtype)
        return tf.broadcast_to(low, tf.shape(x)), tf.broadcast_to(high, tf.shape(x))

    def backward(self, linear, x, z, g, weights, bias):
        low, high = self._bounds(x)
        w_pos, w_neg = tf.nn.relu(weights), -tf.nn.relu(-weights)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, low, high])
            zx, zl, zh = linear(x, weights, None), linear(low, w_pos, None), linear(high, w_neg, None)
        s = _divide(g * z, zx - zl - zh)
        c, cl, ch = (tape.gradient(t, v, output_gradients=s) for t, v in ((zx, x), (zl, low), (zh, high)))
        return x * c - low * cl - high * ch


class WSquare(Rule):
    """w²: `R_i = Σ_j w_ij² / Σ_i w_ij² · R_j`, independent of the input values."""

    name = "w_square"
    input_only = True

    def _weights(self, weights):
        return tf.square(weights)

    def backward(self, linear, x, z, g, weights, bias):
        ones = tf.ones_like(x)
        w = self._weights(weights)
        return _forward_and_vjp(linear, ones, w, None, lambda zw: _divide(g * z, zw))


class Flat(WSquare):
    """Flat: w² with every weight set to 1 (relevance spread evenly over the receptive field)."""

    name = "flat"

    def _weights(self, weights):
        return tf.ones_like(weights)


RULES = {
    "zero": Zero, "lrp0": Zero, "z": Zero,
    "epsilon": Epsilon,
    "gamma": Gamma,
    "alpha_beta": AlphaBeta, "alphabeta": AlphaBeta,
    "zplus": lambda: AlphaBeta(1.0, 0.0), "z_plus": lambda: AlphaBeta(1.0, 0.0),
    "zb": ZBox, "zbox": ZBox,
    "w_square": WSquare, "wsquare": WSquare,
    "flat": Flat,
}


def rule_names() -> Sequence[str]:
    """Names accepted by `make_rule` (and `kv.lrp(rule=...)`, besides composites)."""
    return sorted(RULES)
