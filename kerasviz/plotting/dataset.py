"""Figures of the dataset views: top-k patches, Neuron Features, dead and redundant filters, t-SNE grids.

They only draw: the arrays come from `kv.top_activating`, `kv.neuron_feature`,
`kv.dead_filters`, `kv.filter_similarity` / `kv.redundant_filters` and
`kv.embedding_grid` (read by attribute, so this module imports none of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from kerasviz.plotting.grid import grid_shape, mosaic, normalize_tiles, with_label_band
from kerasviz.plotting.style import current_style, styled


def _displayable(tiles: np.ndarray, display: Callable | None) -> np.ndarray:
    """`(n, h, w, C)` -> values in [0, 1] for imshow: `display` (e.g. kv.deprocess) or per-tile min-max."""
    from kerasviz.core.inputs import as_numeric_array

    tiles = np.asarray(tiles, np.float32)
    if display is not None:  # the user's callable: its output is checked like any image array
        shown = np.asarray(as_numeric_array(display(tiles), "display(tiles)"), np.float32)
        return shown / 255.0 if shown.max() > 1.0 else shown
    return normalize_tiles(tiles)


def _squeeze_gray(tiles: np.ndarray) -> np.ndarray:
    return tiles[..., 0] if tiles.shape[-1] == 1 else tiles


@styled
def plot_top_activating(
    top,
    filters: Sequence[int] | None = None,
    *,
    kind: str = "patches",
    display: Callable | None = None,
    max_filters: int = 12,
    title: str | None = None,
    figsize=None,
):
    """One row per filter: its top-k receptive-field patches (or whole images with the field boxed).

    Args:
        top: a `kv.top_activating` result.
        filters: filter indices (default: the first `max_filters`).
        kind: "patches" (the receptive-field crops) or "images" (whole images,
            the field outlined in red).
        display: maps model-space tiles to RGB (e.g. `kv.deprocess`); default
            each tile is min-max scaled.
        max_filters: rows shown when `filters` is None.
        title: figure title (default: the layer and k).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_top_activating(top, filters=range(8), kind="images")
    """
    from kerasviz.core.arguments import check_result
    from kerasviz.dataset.topk import TopActivating

    check_result(top, "top", TopActivating, "kv.top_activating")
    from kerasviz.core.validate import check_choice, check_indices

    check_choice(kind, "kind", ("patches", "images"))
    filters = check_indices(filters, "filters", size=len(top.indices)) if filters is not None else None
    filters = list(range(min(len(top.indices), max_filters)) if filters is None else filters)
    tiles = top.crops(filters) if kind == "patches" else top.images(filters)
    n, k = tiles.shape[:2]
    flat = _displayable(tiles.reshape((n * k,) + tiles.shape[2:]), display)
    image, origins = mosaic(_squeeze_gray(flat), cols=k, pad=max(1, tiles.shape[2] // 16))
    h, w = tiles.shape[2:4]
    fig, ax = plt.subplots(figsize=figsize or (min(1.1 * k + 1, 14), min(1.1 * n + 0.8, 20)))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if kind == "images":
        for (y, x), (t, l, b, r) in zip(origins, top.boxes[filters].reshape(-1, 4)):
            t, l, b, r = max(t, 0), max(l, 0), min(b, h), min(r, w)
            ax.add_patch(Rectangle((x + l - 0.5, y + t - 0.5), r - l, b - t, fill=False, edgecolor="red", linewidth=1))
    ax.set_yticks([origins[i * k][0] + h / 2 for i in range(n)], [f"#{f}" for f in filters])
    ax.set_xticks([])
    ax.set_title(title or f"{top.layer}: top {k} {kind} per filter (best left)")
    fig.tight_layout()
    return fig


@styled
def plot_neuron_features(
    features,
    filters: Sequence[int] | None = None,
    *,
    display: Callable | None = None,
    max_filters: int = 64,
    cols: int | None = None,
    title: str | None = None,
    figsize=None,
):
    """Neuron Features as a mosaic, each tile captioned with its class selectivity index.

    Args:
        features: a `kv.neuron_feature` result.
        filters: indices to show (default: the first `max_filters`).
        display: maps model-space images to RGB (e.g. `kv.deprocess`); default min-max per tile.
        cols: tiles per row.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_neuron_features(kv.neuron_feature(model, "conv2", x_test, k=20))
    """
    from kerasviz.core.arguments import check_result
    from kerasviz.dataset.neuron_feature import NeuronFeatures

    check_result(features, "features", NeuronFeatures, "kv.neuron_feature")
    from kerasviz.core.validate import check_indices

    filters = check_indices(filters, "filters", size=len(features.images)) if filters is not None else None
    filters = list(range(min(len(features.images), max_filters)) if filters is None else filters)
    tiles = _squeeze_gray(_displayable(features.images[filters], display))
    rows, ncols = grid_shape(len(filters), cols)
    style = current_style()
    tile = style.tile_inches(ncols, most=1.3)
    h, w = tiles.shape[1:3]
    banded, band = with_label_band(tiles, tile)
    image, origins = mosaic(banded, cols=ncols, pad=max(1, h // 16))
    fig, ax = plt.subplots(figsize=figsize or (ncols * tile + 0.3, rows * tile * (h + band) / h + style.text_inches(2)))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    selectivity = features.class_selectivity
    for f, (y, x) in zip(filters, origins):
        caption = f"#{f}" + ("" if selectivity is None or np.isnan(selectivity[f]) else f" {selectivity[f]:.2f}")
        ax.text(x, y + band - 1, caption, fontsize="small", va="bottom")
    ax.axis("off")
    suffix = " (caption: class selectivity)" if selectivity is not None else ""
    ax.set_title(title or f"{features.layer}: Neuron Features{suffix}")
    fig.tight_layout()
    return fig


@styled
def plot_dead_filters(report, *, title: str | None = None, figsize=None):
    """APoZ histogram per layer, with the numbers of dead and rarely active filters.

    Args:
        report: a `kv.dead_filters` result.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_dead_filters(kv.dead_filters(model, kv.conv_layers(model), x_test))
    """
    from kerasviz.core.arguments import check_result
    from kerasviz.dataset.filters_health import DeadFilters

    check_result(report, "report", DeadFilters, "kv.dead_filters")
    rows = report.table()
    n = len(rows)
    nrows, ncols = grid_shape(n, min(n, 4))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (3.2 * ncols, 2.4 * nrows + 0.4), squeeze=False)
    for ax, row in zip(axes.flat, rows):
        apoz = report.summaries[row["layer"]].apoz
        ax.hist(apoz, bins=np.linspace(0, 1, 21), color="steelblue")
        ax.axvline(report.apoz_threshold, color="orange", linestyle="--")
        ax.set_title(
            f"{row['layer']}\n{row['dead']} dead, {row[f'apoz>{report.apoz_threshold:g}']} rarely active / {row['filters']}",
            fontsize="medium",
        )
        ax.set_xlabel("APoZ (fraction of zeros)")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title or "Dead filters: APoZ per layer")
    fig.tight_layout()
    return fig


@styled
def plot_filter_similarity(similarity, pairs: Sequence = (), *, title: str | None = None, figsize=None):
    """Kernel cosine (and activation correlation) matrices, reported pairs circled.

    Args:
        similarity: a `kv.filter_similarity` result.
        pairs: `kv.redundant_filters` pairs to mark.

    Returns:
        A matplotlib Figure.

    Example:
        >>> similarity = kv.filter_similarity(model, "conv2", x_test)
        >>> kv.plot_filter_similarity(similarity, kv.redundant_filters(model, "conv2", x_test))
    """
    from kerasviz.core.arguments import check_result
    from kerasviz.dataset.filters_health import FilterSimilarity

    check_result(similarity, "similarity", FilterSimilarity, "kv.filter_similarity")
    panels = [("kernel cosine", similarity.cosine)]
    if similarity.correlation is not None:
        panels.append(("activation correlation", similarity.correlation))
    fig, axes = plt.subplots(1, len(panels), figsize=figsize or (4.6 * len(panels), 4.2), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], panels):
        shown = np.array(matrix, dtype=float)
        np.fill_diagonal(shown, np.nan)  # the diagonal (1) would wash out the scale
        im = ax.imshow(shown, cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest")
        kind = "correlated" if name.startswith("activation") else ("duplicate", "opposite")
        marked = [p for p in pairs if getattr(p, "kind", None) in (kind if isinstance(kind, tuple) else (kind,))]
        if marked:
            i, j = np.array([tuple(p) for p in marked]).T
            ax.scatter(np.r_[j, i], np.r_[i, j], s=40, facecolors="none", edgecolors="black")
        ax.set_title(f"{name} ({len(marked)} pairs)")
        ax.set_xlabel("filter")
        ax.set_ylabel("filter")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title or f"{similarity.layer}: filter similarity")
    fig.tight_layout()
    return fig


@styled
def plot_embedding_grid(grid, labels=None, *, title: str | None = None, figsize=None):
    """The t-SNE scatter (coloured by label) next to the image mosaic on the grid.

    Args:
        grid: a `kv.embedding_grid` result.
        labels: `(N,)` labels to colour the scatter.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_embedding_grid(kv.embedding_grid(model, "dense", x_test[:500]), labels=y_test[:500])
    """
    from kerasviz.core.arguments import check_result
    from kerasviz.dataset.embedding import EmbeddingGrid

    check_result(grid, "grid", EmbeddingGrid, "kv.embedding_grid")
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize or (12, 6), gridspec_kw={"width_ratios": [1, 1.3]})
    x, y = grid.embedding.T
    if labels is None:
        left.scatter(x, y, color="steelblue", s=8)
    else:
        scatter = left.scatter(x, y, c=labels, cmap="tab10", s=8)
        left.legend(*scatter.legend_elements(), fontsize="small", loc="best", title="label")
    left.set_title(
        f"t-SNE (trustworthiness {grid.trustworthiness:.3f}; random {grid.random_trustworthiness:.3f})",
        fontsize="medium",
    )
    left.invert_yaxis()  # grid row 0 (top of the mosaic) holds the smallest y
    left.set_xticks([])
    left.set_yticks([])
    image = grid.mosaic[..., 0] if grid.mosaic.shape[-1] == 1 else grid.mosaic
    right.imshow(image, cmap="gray", vmin=0, vmax=1, origin="upper")
    right.set_title(f"{grid.shape[0]}x{grid.shape[1]} grid, one image per cell", fontsize="medium")
    right.axis("off")
    fig.suptitle(title or f"{grid.layer}: CNN codes")
    fig.tight_layout()
    return fig
