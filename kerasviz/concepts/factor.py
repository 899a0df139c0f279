"""On-device projection of a layer's activations on fixed non-negative concepts.

Once NMF has found the concepts W (k x C), every image's activation vectors V
(positions x C) are projected on them by non-negative least squares,
min_U ||V - U W||^2 with U >= 0. That runs inside the compiled step that
computes the activations, so a feature map never leaves the device: only
per-image sums (mean and peak coefficient per concept, importance, residual)
come back. The solver is HALS (exact coordinate descent on one concept column
at a time, the update scikit-learn's `cd` solver uses), started from the
clipped least-squares solution, and stops when no coefficient moves by more
than 1e-6 of the largest (about 30 sweeps on correlated concepts, relative
objective gap ~1e-11 against scipy's `nnls`; at most 100).
W is data, not a constant, so new concepts (and another k) reuse the trace.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.activations import feature_extractor
from kerasviz.core.gradients import compile_function, gradient_step
from kerasviz.core.graph import cache
from kerasviz.core.targets import target_scores

SWEEPS, TOLERANCE = 100, 1e-6


def nnls(v: tf.Tensor, w: tf.Tensor, sweeps: int = SWEEPS, tol: float = TOLERANCE) -> tf.Tensor:
    """`U >= 0` `(n, k)` minimising `||v - U w||` for `v` `(n, C)`, `w` `(k, C)` (graph code; k is data).

    Sweeps stop once no coefficient moves by more than `tol` times the largest.
    """
    a = tf.matmul(w, w, transpose_b=True)
    b = tf.matmul(v, w, transpose_b=True)
    u = tf.maximum(tf.matmul(b, tf.linalg.pinv(a)), 0.0)
    diag = tf.maximum(tf.linalg.diag_part(a), 1e-12)
    k = tf.shape(w)[0]

    def column(j, u):
        new = tf.maximum(u[:, j] + (b[:, j] - tf.linalg.matvec(u, a[:, j])) / diag[j], 0.0)
        return j + 1, u + tf.one_hot(j, k)[None, :] * (new - u[:, j])[:, None]

    free = (tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([]))  # k may be unknown in a relaxed trace

    def sweep(i, u, change):
        new = tf.while_loop(lambda j, u: j < k, column, (tf.constant(0), u), shape_invariants=free[:2])[1]
        return i + 1, new, tf.reduce_max(tf.abs(new - u)) / (tf.reduce_max(new) + 1e-30)

    moving = lambda i, u, change: tf.logical_and(i < sweeps, change > tol)
    return tf.while_loop(moving, sweep, (tf.constant(0), u, tf.constant(1.0)), shape_invariants=free)[1]


class ConceptStep:
    """Compiled `(x, targets, w) -> per-image concept statistics` for one layer.

    Args:
        model: the user's model (unchanged).
        spec: the layer spec; `key`: its tap key.
        importance: also differentiate the target score (gradient x coefficient).
        score: a callable target, or None for class targets.
        output: index of the explained output.
    """

    def __init__(self, model, spec, key: str, *, importance: bool, score=None, output: int = 0):
        self.importance, self.score, self.key = importance, score, key
        if importance:
            step = gradient_step(model, (spec,), score=score, output=output)
            self.tap, self.output_key = step.tap, step.output_key
        else:
            self.tap, self.output_key = feature_extractor(model, [spec]), None
            self.key = next(iter(self.tap.output))
        image = tf.TensorSpec((None,) + tuple(self.tap.inputs[0].shape[1:]), tf.float32)
        concepts = tf.TensorSpec((None, self.tap.output[self.key].shape[-1]), tf.float32)
        # One trace for every batch size and every k.
        targets = tf.TensorSpec((None,), tf.int32)
        self._stats = compile_function(self._statistics, input_signature=[image, targets, concepts])
        self._maps = compile_function(self._project, input_signature=[image, concepts])

    def _vectors(self, a):
        a = tf.cast(a, tf.float32)
        return tf.reshape(a, (tf.shape(a)[0], -1, a.shape[-1]))  # (B, P, C); a vector layer is one position

    def _solve(self, v, w):
        n, positions = tf.shape(v)[0], tf.shape(v)[1]
        u = nnls(tf.reshape(tf.maximum(v, 0.0), (-1, v.shape[-1])), w)
        return tf.reshape(u, (n, positions, tf.shape(w)[0]))

    def _statistics(self, x, targets, w):
        if self.importance:
            with tf.GradientTape() as tape:
                out = self.tap(x, training=False)
                a = out[self.key]
                scores, classes = target_scores(out[self.output_key], targets, self.score)
            grads = self._vectors(tape.gradient(scores, a))
        else:
            a = self.tap(x, training=False)[self.key]
            classes = tf.fill((tf.shape(x)[0],), -1)
        v = self._vectors(a)
        u = self._solve(v, w)
        clipped = tf.maximum(v, 0.0)
        residual = tf.reduce_sum(tf.square(clipped - tf.einsum("bpk,kc->bpc", u, w)))
        if self.importance:
            importance = tf.reduce_sum(u * tf.einsum("bpc,kc->bpk", grads, w), axis=1)
        else:
            importance = tf.zeros((tf.shape(x)[0], tf.shape(w)[0]))
        return dict(
            mean=tf.reduce_mean(u, axis=1),
            peak=tf.reduce_max(u, axis=1),
            where=tf.argmax(u, axis=1, output_type=tf.int32),
            importance=importance,
            classes=classes,
            residual=residual,
            norm=tf.reduce_sum(tf.square(clipped)),
            low=tf.reduce_min(v),
            high=tf.reduce_max(tf.abs(v)),
        )

    def _project(self, x, w):
        out = self.tap(x, training=False)
        v = self._vectors(out[self.key])
        return self._solve(v, w), tf.reduce_min(v), tf.reduce_max(tf.abs(v))

    def statistics(self, x, targets, w) -> dict:
        """Numpy per-image statistics of one chunk (`targets` int32 `(n,)`, -1: predicted)."""
        out = self._stats(x, tf.convert_to_tensor(targets, tf.int32), tf.convert_to_tensor(w, tf.float32))
        return {name: value.numpy() for name, value in out.items()}

    def maps(self, x, w) -> tuple[np.ndarray, float, float]:
        """`(coefficients (n, P, k), minimum activation, largest |activation|)` of one chunk."""
        u, low, high = self._maps(x, tf.convert_to_tensor(w, tf.float32))
        return u.numpy(), float(low), float(high)


def concept_step(model, spec, key: str, *, importance: bool, score=None, output: int = 0) -> ConceptStep:
    """The cached `ConceptStep` (one trace per layer, importance and target kind; any k)."""
    spec_key = spec if isinstance(spec, (str, int)) else id(spec)
    return cache.get(
        model,
        ("concept_step", spec_key, importance, score, output),
        lambda: ConceptStep(model, spec, key, importance=importance, score=score, output=output),
    )
