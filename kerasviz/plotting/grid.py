"""The one mosaic helper: tile many small images into one image, drawn with a single `imshow`.

Hundreds of subplots take seconds to draw (VGG16's block5 has 512 maps); one
mosaic image takes milliseconds and reads the same. Every kerasviz figure made
of tiles (activation maps, filters, feature visualizations, Neuron Features,
decoded filters, top-k patches, the t-SNE grid) uses `grid_shape` and `mosaic`, the array
helpers of `kerasviz.core.mosaic` with the current `kv.style`'s defaults.
"""

from __future__ import annotations

import numpy as np

from kerasviz.core import mosaic as core_mosaic


def grid_shape(n: int, cols: int | None = None, *, max_cols: int | None = None) -> tuple[int, int]:
    """`(rows, cols)` of a near-square grid for `n` tiles (`kerasviz.core.mosaic.grid_shape` with the style's limit).

    Args:
        n: number of tiles.
        cols: columns to use (given: used as is).
        max_cols: otherwise, ceil(sqrt(n)) columns, at most `max_cols` (default: the
            current `kv.style`'s `tiles_per_row`); pass `max_cols=0` for no limit.

    Returns:
        `(rows, cols)` with `rows * cols >= n`.
    """
    return core_mosaic.grid_shape(n, cols, max_cols=_max_cols(cols, max_cols))


def _max_cols(cols, max_cols) -> int:
    if cols or max_cols is not None:
        return max_cols or 0
    from kerasviz.plotting.style import current_style

    return current_style().tiles_per_row


normalize_tiles = core_mosaic.normalize_tiles


def mosaic(
    tiles: np.ndarray,
    cols: int | None = None,
    pad: int = 1,
    fill: float = 1.0,
    *,
    cells: np.ndarray | None = None,
    shape: tuple | None = None,
    max_cols: int | None = None,
):
    """Arrange `(n, h, w)` or `(n, h, w, C)` tiles on a grid (`kerasviz.core.mosaic.mosaic`; by default at
    most `kv.style`'s `tiles_per_row` columns).

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
        `(image, origins)`: the mosaic `(R*(h+pad)-pad, C*(w+pad)-pad[, C])` and the
        top-left `(row, col)` pixel of each tile, for annotations.

    Example:
        >>> image, origins = mosaic(np.random.rand(10, 8, 8), cols=5)
        >>> image.shape, origins[6]
        ((17, 44), (9, 9))
    """
    limit = _max_cols(cols, max_cols) if cells is None else 0
    return core_mosaic.mosaic(tiles, cols, pad, fill, cells=cells, shape=shape, max_cols=limit)


def with_label_band(tiles: np.ndarray, tile_inches: float, fill: float = 1.0) -> tuple[np.ndarray, int]:
    """`tiles` with a blank band on top, tall enough for one line of small text at `kv.style`'s font size.

    A caption drawn in its tile's band never runs into the tile above it.

    Args:
        tiles: `(n, h, w[, C])`.
        tile_inches: the drawn height of one tile (without the band).
        fill: value of the band.

    Returns:
        `(tiles with the band, band height in pixels)`.
    """
    from kerasviz.plotting.style import current_style

    h = tiles.shape[1]
    band = int(np.ceil(current_style().font_size * 0.85 * 1.35 / 72 * h / tile_inches)) + 1
    return np.concatenate([np.full((len(tiles), band) + tiles.shape[2:], fill, dtype=np.float64), tiles], axis=1), band
