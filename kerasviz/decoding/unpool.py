"""Integer-factor upsampling with MATLAB `imresize` semantics (the paper's unpooling).

Rafegas & Vanrell undo every max-pool by `imresize(S, 2, method)` in MATLAB.
For upscaling, `imresize` maps output pixel x (1-based) to input coordinate
`u = x / s + (1 - 1 / s) / 2` (half-pixel centres), weighs the taps of a kernel
(box, triangle, Keys cubic with a = -0.5), normalises each row to sum 1 and
mirrors out-of-range taps symmetrically. Antialiasing only matters for
downscaling. `tf.image.resize` agrees for bilinear but not for bicubic at the
borders (it drops and renormalises taps instead of mirroring), so we build the
interpolation matrix `A` (s*n x n) explicitly: `U(S) = A_h S A_w^T` per channel,
exact, cheap, and applied to a whole batch of filters at once.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from kerasviz.core.validate import check_choice

METHODS = ("bicubic", "nearest", "bilinear")


def _box(x):
    return ((-0.5 <= x) & (x < 0.5)).astype(float)


def _triangle(x):
    return np.clip(1 - np.abs(x), 0, None)


def _cubic(x, a=-0.5):
    ax = np.abs(x)
    inner = (a + 2) * ax**3 - (a + 3) * ax**2 + 1
    outer = a * ax**3 - 5 * a * ax**2 + 8 * a * ax - 4 * a
    return np.where(ax <= 1, inner, np.where(ax <= 2, outer, 0.0))


_KERNELS = {"nearest": (_box, 1.0), "bilinear": (_triangle, 2.0), "bicubic": (_cubic, 4.0)}


def check_method(method: str, name: str = "unpool") -> str:
    """Validate an unpooling method name (clear error listing the choices)."""
    return check_choice(method, name, METHODS)


@functools.lru_cache(maxsize=256)
def imresize_matrix(n: int, factor: int = 2, method: str = "bicubic") -> np.ndarray:
    """The `(factor * n, n)` float64 matrix of MATLAB's `imresize` upscaling along one axis.

    Args:
        n: input length.
        factor: integer upscaling factor (2 for a 2x2 pool).
        method: "bicubic" (Keys, a = -0.5, MATLAB's default), "nearest" or "bilinear".

    Returns:
        `A` with `A @ v` = `imresize(v, factor, method)` for a column vector v;
        rows sum to 1. Read-only (cached).

    Example:
        >>> imresize_matrix(5, 2, "bicubic")[0, :2]
        array([ 1.09375, -0.09375])
    """
    from kerasviz.core.validate import check_int

    n = check_int(n, "n", minimum=1)
    factor = check_int(factor, "factor", minimum=1)
    kernel, width = _KERNELS[check_method(method, "method")]
    out = np.arange(1, factor * n + 1, dtype=float)
    u = out / factor + 0.5 * (1 - 1 / factor)
    left = np.floor(u - width / 2)
    taps = left[:, None] + np.arange(int(np.ceil(width)) + 2)[None, :]
    weights = kernel(u[:, None] - taps)
    weights /= weights.sum(1, keepdims=True)
    mirror = np.concatenate([np.arange(n), np.arange(n)[::-1]])  # symmetric boundary
    index = mirror[np.mod(taps.astype(int) - 1, 2 * n)]
    matrix = np.zeros((factor * n, n))
    np.add.at(matrix, (np.repeat(np.arange(factor * n), taps.shape[1]), index.ravel()), weights.ravel())
    matrix.flags.writeable = False
    return matrix


def unpool(stack, factors=(2, 2), method: str = "bicubic"):
    """Upsample a batch of decoded stacks `(K, h, w, C)` -> `(K, fh*h, fw*w, C)`.

    Args:
        stack: tensor or array `(K, h, w, C)` (float32 or float64).
        factors: integer factors `(fh, fw)`, the pool size undone.
        method: "bicubic", "nearest" or "bilinear" (MATLAB semantics).

    Returns:
        A tensor of the same dtype.
    """
    stack = tf.convert_to_tensor(stack)
    _, h, w, _ = stack.shape
    a_h = tf.constant(imresize_matrix(int(h), int(factors[0]), method), stack.dtype)
    a_w = tf.constant(imresize_matrix(int(w), int(factors[1]), method), stack.dtype)
    return tf.einsum("ih,khwc,jw->kijc", a_h, stack, a_w)
