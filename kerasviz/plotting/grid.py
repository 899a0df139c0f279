"""Tile many small images into one mosaic, drawn with a single `imshow`.

Hundreds of subplots take seconds to draw (VGG16's block5 has 512 maps); one
mosaic image takes milliseconds and reads the same.
"""

from __future__ import annotations

import math

import numpy as np


def grid_shape(n: int, cols: int | None = None) -> tuple[int, int]:
    """`(rows, cols)` for `n` tiles; default cols ~ sqrt(n), at most 16 for large n."""
    cols = cols or min(max(1, math.ceil(math.sqrt(n))), 16 if n > 64 else 8)
    return math.ceil(n / cols), cols


def normalize_tiles(tiles: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """Scale each tile to [0, 1] on its own (min-max, or +-max|x| around 0.5)."""
    t = np.asarray(tiles, np.float64)
    axes = tuple(range(1, t.ndim))
    if symmetric:
        scale = np.abs(t).max(axis=axes, keepdims=True)
        return np.where(scale > 0, 0.5 + 0.5 * t / np.where(scale > 0, scale, 1), 0.5)
    lo, hi = t.min(axis=axes, keepdims=True), t.max(axis=axes, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (t - lo) / span


def mosaic(tiles: np.ndarray, cols: int | None = None, pad: int = 1, fill: float = 1.0):
    """Arrange `(n, h, w)` or `(n, h, w, 3)` tiles on a grid.

    Returns:
        `(image, origins)`: the mosaic `(R*(h+pad)-pad, C*(w+pad)-pad[, 3])` and
        the top-left `(row, col)` pixel of each tile, for annotations.
    """
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    rows, cols = grid_shape(n, cols)
    shape = (rows * (h + pad) - pad, cols * (w + pad) - pad) + tiles.shape[3:]
    image = np.full(shape, fill, dtype=np.float64)
    origins = []
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + pad), c * (w + pad)
        image[y : y + h, x : x + w] = tiles[i]
        origins.append((y, x))
    return image, origins
