"""Tiles on a grid, as arrays: the one grid and mosaic helper (no plotting, no style).

`grid_shape` picks a near-square grid for n tiles; `mosaic` places tiles on a
grid in reading order or at given cells; `normalize_tiles` scales each tile to
[0, 1]. The figures (`kerasviz.plotting.grid`, which adds the `kv.style`
defaults) and the dataset views (`kerasviz.dataset.embedding`) both build on
these.
"""

from __future__ import annotations

import math

import numpy as np


def grid_shape(n: int, cols: int | None = None, *, max_cols: int = 0) -> tuple[int, int]:
    """`(rows, cols)` of a near-square grid for `n` tiles.

    Args:
        n: number of tiles.
        cols: columns to use (given: used as is).
        max_cols: otherwise ceil(sqrt(n)) columns, at most `max_cols` (0: no limit).

    Returns:
        `(rows, cols)` with `rows * cols >= n`.

    Example:
        >>> grid_shape(10), grid_shape(10, max_cols=3)
        ((3, 4), (4, 3))
    """
    if not cols:
        cols = max(1, math.ceil(math.sqrt(n)))
        cols = min(cols, max_cols) if max_cols else cols
    return max(1, math.ceil(n / cols)), int(cols)


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


def mosaic(
    tiles: np.ndarray,
    cols: int | None = None,
    pad: int = 1,
    fill: float = 1.0,
    *,
    cells: np.ndarray | None = None,
    shape: tuple | None = None,
    max_cols: int = 0,
):
    """Arrange `(n, h, w)` or `(n, h, w, C)` tiles on a grid.

    Tiles go in reading order (row by row), or at given `cells`.

    Args:
        tiles: the tiles, already scaled for display.
        cols: grid columns (default: `grid_shape(n, max_cols=max_cols)`).
        pad: pixels between tiles.
        fill: value of the padding and of empty cells (NaN: drawn with the colormap's "bad" colour).
        cells: `(n, 2)` `(row, col)` of each tile (e.g. a t-SNE grid assignment); with `shape`.
        shape: `(rows, cols)` of the grid when `cells` are given.
        max_cols: see `grid_shape`.

    Returns:
        `(image, origins)`: the float64 mosaic `(R*(h+pad)-pad, C*(w+pad)-pad[, C])` and the
        top-left `(row, col)` pixel of each tile, for annotations.

    Example:
        >>> image, origins = mosaic(np.random.rand(10, 8, 8), cols=5)
        >>> image.shape, origins[6]
        ((17, 44), (9, 9))
    """
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    if cells is None:
        rows, cols = grid_shape(n, cols, max_cols=max_cols)
        cells = np.stack(np.divmod(np.arange(n), cols), axis=1)
    else:
        rows, cols = shape if shape is not None else (int(np.max(cells[:, 0])) + 1, int(np.max(cells[:, 1])) + 1)
    image = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad) + tiles.shape[3:], fill, dtype=np.float64)
    origins = []
    for tile, (r, c) in zip(tiles, np.asarray(cells)):
        y, x = int(r) * (h + pad), int(c) * (w + pad)
        image[y : y + h, x : x + w] = tile
        origins.append((y, x))
    return image, origins


__all__ = ["grid_shape", "mosaic", "normalize_tiles"]
