"""Figures of the concept methods: TCAV bars, NMF concepts, CRP heatmaps and references, atlases, caricatures.

They only draw: the arrays come from `kv.tcav`, `kv.nmf_concepts`, `kv.crp`,
`kv.relevance_maximization`, `kv.activation_atlas` and `kv.caricature` (read
by attribute, so this module imports none of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from kerasviz.core.arguments import check_drawable, checked_arguments
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.plotting.grid import normalize_tiles


def _require(result, fields: Sequence[str], what: str, name: str = "result"):
    missing = [f for f in fields if not hasattr(result, f)]
    if missing:
        raise ArgumentTypeError(f"`{name}` must be a {what} result; got {type(result).__name__} (no {missing[0]!r}).")


def _shown(tiles: np.ndarray, display: Callable | None) -> np.ndarray:
    """`(n, h, w, C)` model-space tiles -> `(n, h, w[, 3])` in [0, 1] (via `display`, else per-tile min-max)."""
    tiles = np.asarray(tiles, np.float32)
    if display is not None:
        shown = np.asarray(display(tiles), np.float32)
        shown = shown / 255.0 if shown.max() > 1.0 else shown
    else:
        shown = normalize_tiles(tiles)
    shown = np.clip(shown, 0.0, 1.0)
    return shown[..., 0] if shown.shape[-1] == 1 else shown


@checked_arguments
def plot_tcav(result, *, title: str | None = None, ax=None, figsize=None):
    """Bars of TCAV scores per concept, each run as a dot, against the random-concept band.

    A bar is hatched and marked "n.s." when its concept is not significant
    (two-sided t-test against the random runs, at `result.alpha`); the grey
    band is the random concepts' mean ± sd.

    Args:
        result: a `kv.tcav` result.
        title: figure title (default: layer and threshold).
        ax: a matplotlib Axes to draw in (default: a new figure).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_tcav(kv.tcav(net, "relu3", {"loops": loops}, sevens, 7, random_images=pool))
    """
    _require(result, ("scores", "random_scores", "concepts", "p_value"), "kv.tcav")
    scores = np.atleast_2d(result.scores)
    p_values = np.atleast_1d(result.p_value)
    significant = np.atleast_1d(result.significant)
    names = list(result.concepts)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize or (1.2 + 1.1 * len(names), 3.2))
    else:
        fig = ax.figure
    chance = np.asarray(result.random_scores)
    ax.axhspan(chance.mean() - chance.std(), chance.mean() + chance.std(), color="0.88", zorder=0)
    ax.axhline(chance.mean(), color="0.5", lw=1, ls="--", zorder=1)
    xs = np.arange(len(names))
    for i, (runs, sig, p) in enumerate(zip(scores, significant, p_values)):
        ax.bar(
            i,
            runs.mean(),
            0.6,
            yerr=runs.std(),
            color="C0" if sig else "none",
            edgecolor="C0",
            hatch=None if sig else "//",
            capsize=3,
            zorder=2,
        )
        jitter = np.linspace(-0.15, 0.15, len(runs)) if len(runs) > 1 else np.zeros(1)
        ax.scatter(i + jitter, runs, s=8, color="k", zorder=3)
        ax.text(i, 1.03, f"p={p:.1g}" if sig else "n.s.", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(xs, names, rotation=30 if max(len(n) for n in names) > 8 else 0)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(f"TCAV score (grey: {len(chance)} random runs)", fontsize=8)
    ax.set_title(title or f"TCAV at {result.layer} (alpha {result.alpha:.3g})", fontsize=10)
    return fig


def _overlay(ax, image: np.ndarray, heat: np.ndarray, vmax: float, cmap: str = "jet", alpha: float = 0.5):
    import tensorflow as tf

    h, w = image.shape[:2]
    up = tf.image.resize(np.asarray(heat, np.float32)[..., None], (h, w), method="bilinear").numpy()[..., 0]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
    ax.imshow(up, cmap=cmap, alpha=alpha, vmin=0, vmax=max(vmax, 1e-12))
    ax.set_axis_off()


@checked_arguments
def plot_nmf_concepts(
    result,
    images=None,
    *,
    concepts: Sequence[int] | None = None,
    display: Callable | None = None,
    top: int | None = None,
    title: str | None = None,
    figsize=None,
):
    """NMF concepts: each concept's top patches (one row each), or its heatmaps over given images.

    Without `images`, one row per concept shows its top receptive-field
    patches, titled with its importance for the class. With `images`, one row
    per image shows the image with each concept's heatmap on it (upsampled
    bilinearly to the image; one colour scale per concept across the images).

    Args:
        result: a `kv.nmf_concepts` result.
        images: `(n, H, W, C)` images (model input space) to show heatmaps on.
        concepts: which concepts (default: all, in the result's order).
        display: maps model-space images to RGB (e.g. `kv.deprocess`);
            default per-tile min-max.
        top: patches per row (default: all kept).
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_nmf_concepts(concepts)                   # top patches
        >>> kv.plot_nmf_concepts(concepts, images=x[:4])     # heatmaps
    """
    _require(result, ("components", "top_indices", "importance", "maps"), "kv.nmf_concepts")
    k = int(result.components.shape[0])
    chosen = list(range(k)) if concepts is None else [int(c) for c in np.atleast_1d(concepts)]
    if not chosen or any(not 0 <= c < k for c in chosen):
        raise InvalidArgumentError(f"`concepts` must be indices in 0..{k - 1}; got {concepts!r}.")
    if images is None:
        tiles = result.crops(chosen)
        count = tiles.shape[1] if top is None else max(1, min(int(top), tiles.shape[1]))
        fig, axes = plt.subplots(
            len(chosen), count, figsize=figsize or (1.1 * count + 1.2, 1.15 * len(chosen)), squeeze=False
        )
        for row, concept in enumerate(chosen):
            shown = _shown(tiles[row, :count], display)
            for col in range(count):
                axes[row, col].imshow(shown[col], cmap="gray" if shown.ndim == 3 else None, vmin=0, vmax=1)
                axes[row, col].set_axis_off()
            axes[row, 0].set_title(
                f"concept {concept}  importance {result.importance[concept]:.3g}", fontsize=8, loc="left"
            )
        fig.suptitle(title or f"NMF concepts of {result.layer}: top patches", fontsize=10)
        return fig
    maps = np.asarray(result.maps(images))
    maps = maps[None] if maps.ndim == 3 else maps
    x = check_drawable(images)
    x = x[None] if x.ndim == maps.ndim - 1 else x
    shown = _shown(x if x.ndim == 4 else x[..., None], display)
    fig, axes = plt.subplots(
        len(x), len(chosen) + 1, figsize=figsize or (1.3 * (len(chosen) + 1), 1.3 * len(x)), squeeze=False
    )
    peaks = maps.max(axis=(0, 1, 2))  # one colour scale per concept, shared by the images
    for row in range(len(x)):
        axes[row, 0].imshow(shown[row], cmap="gray" if shown.ndim == 3 else None, vmin=0, vmax=1)
        axes[row, 0].set_axis_off()
        for col, concept in enumerate(chosen):
            _overlay(axes[row, col + 1], shown[row], maps[row, ..., concept], float(peaks[concept]))
            if row == 0:
                axes[row, col + 1].set_title(
                    f"concept {concept}\nimportance {result.importance[concept]:.2g}", fontsize=7
                )
    fig.suptitle(title or f"NMF concepts of {result.layer}: heatmaps", fontsize=10)
    return fig


@checked_arguments
def plot_activation_atlas(atlas, *, show_layout: bool = True, title: str | None = None, figsize=None):
    """The atlas: icons at their grid cells, and (optionally) the sampled layout with the grid.

    Args:
        atlas: a `kv.activation_atlas` result.
        show_layout: add a panel with every sampled vector's 2-D position,
            coloured by how many vectors share its cell.
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_activation_atlas(kv.activation_atlas(net, "relu3", x_test, grid=6))
    """
    _require(atlas, ("icons", "cells", "grid", "layout"), "kv.activation_atlas", "atlas")
    panels = 2 if show_layout else 1
    fig, axes = plt.subplots(1, panels, figsize=figsize or (4.2 * panels, 4.4), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(atlas.image)
    h, w = atlas.icons.shape[1:3]
    for k in range(1, atlas.grid):
        ax.axhline(k * h - 0.5, color="0.85", lw=0.5)
        ax.axvline(k * w - 0.5, color="0.85", lw=0.5)
    ax.set_axis_off()
    ax.set_title(f"{len(atlas.icons)} cells", fontsize=9)
    if show_layout:
        ax = axes[0, 1]
        flat = atlas.sample_cells[:, 0] * atlas.grid + atlas.sample_cells[:, 1]
        ax.scatter(atlas.layout[:, 0], atlas.layout[:, 1], s=3, c=np.bincount(flat)[flat], cmap="viridis")
        for k in range(1, atlas.grid):
            ax.axhline(k / atlas.grid, color="0.7", lw=0.5)
            ax.axvline(k / atlas.grid, color="0.7", lw=0.5)
        ax.set_xlim(0, 1)
        ax.set_ylim(1, 0)  # row 0 at the top, as in the atlas
        ax.set_aspect("equal")
        ax.set_title(f"{len(atlas.layout)} sampled activations ({atlas.method})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        title or f"Activation atlas of {atlas.layer}" + (f" ({atlas.label})" if atlas.label else ""), fontsize=10
    )
    return fig


@checked_arguments
def plot_caricature(result, images, *, display: Callable | None = None, title: str | None = None, figsize=None):
    """Each image above its caricature, titled with the cosine of their activations.

    Args:
        result: a `kv.caricature` result.
        images: the images it was computed for (model input space).
        display: maps model-space images to RGB (e.g. `kv.deprocess`);
            default per-image min-max.
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_caricature(kv.caricature(net, "conv2", x[:4]), x[:4])
    """
    _require(result, ("images", "similarity", "layer"), "kv.caricature")
    drawn = np.asarray(result.images)
    drawn = drawn[None] if drawn.ndim == 3 else drawn
    x = check_drawable(images)
    x = x[None] if x.ndim == drawn.ndim - 1 else x
    if len(x) != len(drawn):
        raise InvalidArgumentError(f"`images` has {len(x)} images for {len(drawn)} caricatures.")
    shown = _shown(x if x.ndim == 4 else x[..., None], display)
    similarity = np.atleast_1d(result.similarity)
    fig, axes = plt.subplots(2, len(x), figsize=figsize or (1.8 * len(x) + 0.4, 3.9), squeeze=False)
    for i in range(len(x)):
        axes[0, i].imshow(shown[i], cmap="gray" if shown.ndim == 3 else None, vmin=0, vmax=1)
        axes[1, i].imshow(np.clip(drawn[i], 0, 1))
        axes[1, i].set_title(f"cos {similarity[i]:.2f}", fontsize=8)
        axes[0, i].set_axis_off()
        axes[1, i].set_axis_off()
    fig.suptitle(title or f"Caricatures at {result.layer}", fontsize=10)
    return fig


@checked_arguments
def plot_crp(
    result,
    images,
    *,
    display: Callable | None = None,
    percentile: float = 99.5,
    cmap: str = "bwr",
    max_images: int = 4,
    title: str | None = None,
    figsize=None,
):
    """Concept relevance: each image, then the conditional heatmap of each of its explained channels.

    Each heatmap is scaled on its own (a high percentile of |R| is full
    colour; red for the class, blue against it) and titled with its channel,
    the channel's relevance and its share of the layer's summed |relevance|.

    Args:
        result: a `kv.crp` result.
        images: the images it was computed for (model input space), one or a batch.
        display: maps model-space images to RGB (e.g. `kv.deprocess`);
            default per-image min-max.
        percentile: |R| percentile mapped to full colour.
        cmap: a diverging colormap.
        max_images: rows drawn at most.
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_crp(kv.crp(net, x[:2], layer="conv2", top=5), x[:2])
    """
    from kerasviz.plotting.lrp import relevance_heatmap

    _require(result, ("heatmaps", "filters", "relevance", "share"), "kv.crp")
    heatmaps = np.asarray(result.heatmaps)
    one = heatmaps.ndim == 4
    heatmaps = heatmaps[None] if one else heatmaps
    filters = np.atleast_2d(result.filters)
    relevance, share = np.atleast_2d(result.relevance), np.atleast_2d(result.share)
    x = check_drawable(images)
    x = x[None] if x.ndim == heatmaps.ndim - 2 else x
    if len(x) != len(heatmaps):
        raise InvalidArgumentError(f"`images` has {len(x)} images for {len(heatmaps)} rows of heatmaps.")
    rows = min(len(x), max(1, int(max_images)))
    shown = _shown(x[:rows], display)
    count = heatmaps.shape[1]
    fig, axes = plt.subplots(
        rows, count + 1, figsize=figsize or (1.5 * (count + 1) + 0.3, 1.65 * rows + 0.4), squeeze=False
    )
    for row in range(rows):
        axes[row, 0].imshow(shown[row], cmap="gray" if shown.ndim == 3 else None, vmin=0, vmax=1)
        axes[row, 0].set_axis_off()
        for col in range(count):
            channel = int(filters[row, col])
            ax = axes[row, col + 1]
            ax.imshow(relevance_heatmap(heatmaps[row, col], percentile), cmap=cmap, vmin=-1, vmax=1)
            ax.set_title(
                f"#{channel}  R={relevance[row, channel]:.2g}\n{100 * share[row, channel]:.0f}% of |R|", fontsize=7
            )
            ax.set_axis_off()
    fig.suptitle(title or f"Concept relevance at {result.layer} ({result.rule})", fontsize=10)
    return fig


@checked_arguments
def plot_relevance_maximization(
    result,
    filters: Sequence[int] | None = None,
    *,
    activating=None,
    display: Callable | None = None,
    max_filters: int = 8,
    title: str | None = None,
    figsize=None,
):
    """One row per channel: its top patches by relevance (and, with `activating`, by activation beside them).

    Activation maximization shows what excites a channel; relevance
    maximization shows what it is used for (Achtibat et al. 2023). Patches
    are the receptive field of the most relevant (most active) position.

    Args:
        result: a `kv.relevance_maximization` result.
        filters: channel indices (default: the first `max_filters`).
        activating: a `kv.top_activating` result of the same layer, drawn on the left.
        display: maps model-space tiles to RGB (e.g. `kv.deprocess`); default per-tile min-max.
        max_filters: rows shown when `filters` is None.
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_relevance_maximization(rel, filters=[0, 3, 5], activating=kv.top_activating(net, "conv2", x))
    """
    from kerasviz.plotting.grid import mosaic

    _require(result, ("indices", "values", "crops", "reduce"), "kv.relevance_maximization")
    channels = len(result.indices)
    chosen = (
        list(range(min(channels, max(1, int(max_filters)))))
        if filters is None
        else [int(f) for f in np.atleast_1d(filters)]
    )
    if not chosen or any(not 0 <= f < channels for f in chosen):
        raise InvalidArgumentError(f"`filters` must be channel indices in 0..{channels - 1}; got {filters!r}.")
    panels = [("relevance", result)]
    if activating is not None:
        _require(activating, ("indices", "values", "crops"), "kv.top_activating", "activating")
        if len(activating.indices) != channels:
            raise InvalidArgumentError(f"`activating` has {len(activating.indices)} channels; `result` has {channels}.")
        panels.insert(0, ("activation", activating))
    fig, axes = plt.subplots(
        1,
        len(panels),
        squeeze=False,
        figsize=figsize or (len(panels) * (1.0 * result.k + 0.8) + 0.4, 1.0 * len(chosen) + 0.9),
    )
    for ax, (name, top) in zip(axes[0], panels):
        tiles = top.crops(chosen)
        n, k = tiles.shape[:2]
        flat = _shown(tiles.reshape((n * k,) + tiles.shape[2:]), display)
        image, origins = mosaic(flat, cols=k, pad=max(1, tiles.shape[2] // 16))
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks([origins[i * k][0] + tiles.shape[2] / 2 for i in range(n)], [f"#{f}" for f in chosen])
        ax.set_xticks([])
        ax.set_title(f"top {k} by {name}", fontsize=9)
    fig.suptitle(title or f"{result.layer}: reference patches per channel (best left)", fontsize=10)
    fig.tight_layout()
    return fig
