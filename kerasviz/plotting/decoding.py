"""Figures for filter decoding (Rafegas & Vanrell): galleries, responses, Figure 1, top images.

Pure matplotlib: every function draws arrays computed by `kerasviz.decoding`
and returns a Figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from kerasviz.core.arguments import checked_arguments
from kerasviz.core.deprecation import renamed
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.plotting.grid import grid_shape, mosaic, normalize_tiles, with_label_band
from kerasviz.plotting.style import current_style, styled


@checked_arguments
def thresholded(decoded: np.ndarray, fraction: float = 0.3) -> np.ndarray:
    """The paper's thresholded view: +1 / -1 where |df| exceeds `fraction` of its max, else 0 (per filter).

    Args:
        decoded: decoded filters `(K, h, w, c)` (`kv.decode_filters`).
        fraction: the threshold, as a fraction of each filter's largest |value|.

    Returns:
        float64 array of `decoded`'s shape holding -1, 0 or +1.

    Example:
        >>> kv.plot_decoded_filters(kv.thresholded(kv.decode_filters(net, "conv3")))
    """
    d = np.asarray(decoded, np.float64)
    axes = tuple(range(1, d.ndim))
    peak = np.abs(d).max(axes, keepdims=True)
    return np.sign(d) * (np.abs(d) > fraction * np.where(peak > 0, peak, 1))


def _gray(tiles: np.ndarray) -> np.ndarray:
    tiles = np.asarray(tiles)
    return tiles[..., 0] if tiles.ndim == 4 and tiles.shape[-1] == 1 else tiles


def _display(tiles: np.ndarray, threshold: float | None) -> np.ndarray:
    tiles = _gray(tiles)
    if threshold is not None:
        return 0.5 + 0.5 * thresholded(tiles, threshold)
    if tiles.ndim == 4:  # colour filters: each channel around 0.5 with a shared scale
        return normalize_tiles(tiles, symmetric=True)
    return normalize_tiles(tiles)  # imagesc-style, per filter


@styled
def plot_decoded_filters(
    decoded: np.ndarray,
    *,
    labels: Sequence | None = None,
    threshold: float | None = None,
    cols: int | None = None,
    title: str = "",
    tile_inches: float = 0.9,
):
    """A gallery of decoded filters `(K, h, w, C)`, each contrast-normalised on its own.

    Labels sit in a white band above their own tile, so they never run into
    the tile above; tiles per row follow `kv.style` unless `cols` is given.

    Args:
        decoded: decoded filters (C = 1 drawn in gray, C = 3 in colour).
        labels: one label per filter, drawn above it (e.g. filter indices).
        threshold: draw the thresholded view (+1 white, -1 black) at this fraction.
        cols: tiles per row.
        title: figure title.
        tile_inches: size of one tile (at most; narrower when many tiles share a row).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_decoded_filters(kv.decode_filters(net, "conv2"), labels=range(20))
    """
    style = current_style()
    tiles = _display(decoded, threshold)
    n, h, w = tiles.shape[:3]
    rows, ncols = grid_shape(n, cols)
    tile = style.tile_inches(ncols, most=tile_inches)
    band = 0
    if labels is not None:
        tiles, band = with_label_band(tiles, tile)
    image, origins = mosaic(tiles, cols=ncols, pad=1, fill=1.0)
    fig, ax = plt.subplots(figsize=(max(2.5, ncols * tile), rows * tile * (h + band) / h + style.text_inches(1.6)))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if labels is not None:
        for (y, x), label in zip(origins, labels):
            ax.text(
                x + w / 2 - 0.5, y + band - 1, str(label), fontsize="small", ha="center", va="bottom", color="tab:blue"
            )
    ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    return fig


@renamed(image="images", cnn="responses")
@styled
def plot_response_comparison(images: np.ndarray, responses: dict, decoded: dict, *, maps: int = 6, title: str = ""):
    """Figure 3: the CNN's conv responses vs decoded responses, one image, several layers.

    Args:
        images: `(H, W)` or `(H, W, C)` displayable image.
        responses, decoded: `{layer: (h, w, K)}` responses for this image.
        maps: channels shown per layer (the first `maps`).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_response_comparison(x[0], {"conv2": cnn2[0]}, {"conv2": decoded2[0]})
    """
    from kerasviz.core.validate import check_int

    check_int(maps, "maps", minimum=1)
    names = list(responses)
    fig, axes = plt.subplots(2 * len(names), maps + 1, figsize=(1.2 * (maps + 1), 2.5 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for kind, source in enumerate((responses, decoded)):
            r = 2 * row + kind
            axes[r, 0].imshow(_gray(images[None])[0], cmap="gray")
            axes[r, 0].set_title(f"{name}\n{'CNN' if kind == 0 else 'decoded'}", fontsize="small")
            for c in range(maps):
                response = source[name][..., c]
                axes[r, c + 1].imshow(response, cmap="viridis", interpolation="nearest")
                if r == 0 or (kind == 0 and row > 0):
                    axes[r, c + 1].set_title(f"k={c}", fontsize="small")
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


@styled
def plot_class_matrix(
    matrix: np.ndarray, argmax_images: np.ndarray, decoded: np.ndarray, *, hit_rate: float, title: str = ""
):
    """Figure 1: decoded class filters (left), row-normalised max-activation matrix and argmax images.

    Args:
        matrix: `(K, C)` max activation of filter k over images of class c.
        argmax_images: `(K, C, H, W)` the image reaching each maximum.
        decoded: `(K, h, w, 1)` the decoded filters.
        hit_rate: diagonal hit rate, shown in the title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> matrix, argmax, hit = kv.class_max_matrix(scores, y_test)
        >>> kv.plot_class_matrix(matrix, x_test[argmax], kv.decode_filters(net, "conv4"), hit_rate=hit)
    """
    k, c = matrix.shape
    fig = plt.figure(figsize=(1.0 * (c + 3) + 1, 0.95 * k + 1))
    grid = fig.add_gridspec(k, c + 3, width_ratios=[1, 1, 0.2] + [1] * c, wspace=0.05, hspace=0.08)
    norm = matrix / np.abs(matrix).max(1, keepdims=True)
    filters = _display(decoded, None)
    shapes = 0.5 + 0.5 * thresholded(_gray(decoded))
    for row in range(k):
        for col, view in enumerate((filters, shapes)):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(view[row], cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
        best = int(matrix[row].argmax())
        for col in range(c):
            ax = fig.add_subplot(grid[row, col + 3])
            ax.imshow(_gray(argmax_images[row, col]), cmap="gray")
            ax.set_xticks([]), ax.set_yticks([])
            ax.text(
                0.5, -0.02, f"{norm[row, col]:.2f}", transform=ax.transAxes, ha="center", va="top", fontsize="small"
            )
            color = "tab:green" if col == best == row else ("tab:red" if col == best else None)
            for spine in ax.spines.values():
                spine.set_visible(color is not None)
                spine.set_color(color or "k")
                spine.set_linewidth(2.5)
            if row == 0:
                ax.set_title(f"class {col}", fontsize="small")
    fig.suptitle(
        f"{title}  diagonal hit rate {hit_rate:.2f} (green: row max on the diagonal, red: off it)", fontsize="medium"
    )
    return fig


@styled
def plot_top_images(
    decoded: np.ndarray,
    cnn_images: np.ndarray,
    cnn_positions: np.ndarray,
    decoded_images: np.ndarray,
    decoded_positions: np.ndarray,
    *,
    stride: int,
    offset: int = 0,
    title: str = "",
):
    """Figure 4 (c, d): top images of one filter, with the receptive field of the maximum marked.

    Row 1: the CNN's top images (red box); row 2: the decoded filter's top images
    (yellow box); the decoded filter is drawn first in each row.

    Args:
        decoded: `(h, w, C)` the decoded filter (its size is the receptive field).
        cnn_images, decoded_images: `(k, H, W[, C])` displayable top images.
        cnn_positions, decoded_positions: `(k, 2)` maxima on the layer grid.
        stride, offset: the layer's input geometry (input row = stride * i - offset).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_top_images(df, x[cnn_top], cnn_where, x[dec_top], dec_where, stride=2)
    """
    k = len(cnn_images)
    fig, axes = plt.subplots(2, k + 1, figsize=(1.3 * (k + 1), 2.8), squeeze=False)
    rf_h, rf_w = decoded.shape[:2]
    for row, (images, positions, color, who) in enumerate(
        ((cnn_images, cnn_positions, "red", "CNN"), (decoded_images, decoded_positions, "yellow", "decoded"))
    ):
        axes[row, 0].imshow(_display(decoded[None], None)[0], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(f"top by {who}", fontsize="small")
        for j in range(k):
            ax = axes[row, j + 1]
            ax.imshow(_gray(images[j][None])[0], cmap="gray")
            y, x = positions[j] * stride - offset
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), rf_w, rf_h, fill=False, edgecolor=color, linewidth=1.5))
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


@styled
def plot_deconvnet_comparison(decoded: np.ndarray, images: np.ndarray, projections: np.ndarray, *, title: str = ""):
    """Decoded filter (image-independent) beside Zeiler & Fergus projections on top images.

    Args:
        decoded: `(h, w, C)` decoded filter.
        images: `(k, H, W[, C])` displayable top images.
        projections: `(k, H, W, C)` deconvnet projections of the same neuron.

    Returns:
        A matplotlib Figure.

    Example:
        >>> projections, _ = kv.deconvnet_projection(net, "conv2", top, 3)
        >>> kv.plot_deconvnet_comparison(kv.decode_filters(net, "conv2", filters=[3])[0], top, projections)
    """
    from kerasviz.core.arguments import check_array

    decoded = check_array(decoded, "decoded", min_ndim=3, max_ndim=3)
    images = check_array(images, "images", min_ndim=3, max_ndim=4)
    if images.ndim == 4 and images.shape[-1] not in (1, 3):
        raise InvalidArgumentError(
            f"`images` must be (k, H, W), (k, H, W, 1) or (k, H, W, 3); got shape {images.shape}."
        )
    projections = check_array(projections, "projections", min_ndim=4, max_ndim=4)
    if len(projections) != len(images):
        raise InvalidArgumentError(f"`projections` has {len(projections)} maps for {len(images)} `images`.")
    k = len(images)
    fig, axes = plt.subplots(2, k + 1, figsize=(1.3 * (k + 1), 2.8), squeeze=False)
    axes[0, 0].imshow(_display(decoded[None], None)[0], cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("decoded", fontsize="small")
    axes[1, 0].set_title("Z&F deconvnet", fontsize="small")
    proj = normalize_tiles(_gray(projections), symmetric=True)
    for j in range(k):
        axes[0, j + 1].imshow(_gray(images[j][None])[0], cmap="gray")
        axes[1, j + 1].imshow(proj[j], cmap="gray", vmin=0, vmax=1)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


@styled
def plot_error_table(errors: dict, paper: dict | None = None, *, title: str = ""):
    """Bar chart of Table-1 errors: `{(layer, method): (mean, std)}`, paper values as markers."""
    keys = list(errors)
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(keys)), 3))
    means = [errors[k][0] for k in keys]
    stds = [errors[k][1] for k in keys]
    ax.bar(range(len(keys)), means, yerr=stds, color="tab:blue", alpha=0.7, label="ours")
    if paper:
        ax.scatter(
            [i for i, k in enumerate(keys) if k in paper],
            [paper[k][0] for k in keys if k in paper],
            color="k",
            marker="_",
            s=200,
            label="paper",
            zorder=3,
        )
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([" ".join(map(str, k)) for k in keys], rotation=60, fontsize="small", ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("MSE (normalised responses)")
    ax.legend(fontsize="small")
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return fig


@styled
def plot_decoded_filter(decoded: np.ndarray, *, threshold: float = 0.3, title: str = ""):
    """One decoded filter `(h, w, C)`: contrast-normalised and thresholded side by side.

    Args:
        decoded: the decoded filter.
        threshold: fraction of the maximum for the thresholded view.
        title: figure title (wrapped to the figure's width).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_decoded_filter(kv.decode_filters(net, "conv3")[0])
    """
    import textwrap

    style = current_style()
    width = min(style.width, 5.5)
    title = "\n".join(textwrap.wrap(title, max(20, int(width * 72 / (style.font_size * 0.62)))))
    fig, axes = plt.subplots(1, 2, figsize=(width, width / 2 + style.text_inches(title.count("\n") + 2.5)))
    axes[0].imshow(_display(decoded[None], None)[0], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("decoded", fontsize="small")
    axes[1].imshow(_display(decoded[None], threshold)[0], cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"thresholded at {threshold:g}·max", fontsize="small")
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig
