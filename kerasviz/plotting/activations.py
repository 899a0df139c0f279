"""Figures of activation maps (they only draw; filter weights are in `plotting.filters`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from kerasviz.core.arguments import check_array
from kerasviz.core.deprecation import renamed
from kerasviz.plotting.grid import grid_shape, mosaic, normalize_tiles
from kerasviz.plotting.style import current_style, styled

BLANK_COLOR = "red"
DEAD_COLOR = "orange"


def _maps_of(acts, layer, image) -> tuple[str, np.ndarray]:
    from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
    from kerasviz.core.validate import check_int

    if isinstance(acts, dict):
        if layer is None:
            if len(acts) != 1:
                raise InvalidArgumentError(f"Pass layer= to choose one of {list(acts)}.")
            layer = next(iter(acts))
        if not isinstance(layer, str):
            raise ArgumentTypeError(f"`layer` must be a key of the activations, one of {list(acts)}; got {layer!r}.")
        if layer not in acts:
            raise InvalidArgumentError(f"`layer` {layer!r} has no activations; computed: {list(acts)}.")
        acts = acts[layer]
    maps = np.asarray(check_array(acts, "acts"))
    if maps.ndim == 4:
        image = check_int(image, "image", minimum=-len(maps), maximum=len(maps) - 1)
        maps = maps[image]
    if maps.ndim != 3:
        raise InvalidArgumentError(f"`acts` must be activations (h, w, c) or (N, h, w, c); got shape {np.shape(acts)}.")
    return layer or "", maps


def _shrink(tiles: np.ndarray, max_tile: int | None) -> tuple[np.ndarray, int]:
    """Block-average `(n, h, w)` tiles by the integer factor that fits `max_tile`; returns `(tiles, factor)`."""
    n, h, w = tiles.shape
    factor = int(np.ceil(max(h, w) / max_tile)) if max_tile else 1
    if factor <= 1:
        return tiles, 1
    h2, w2 = h // factor, w // factor
    return tiles[:, : h2 * factor, : w2 * factor].reshape(n, h2, factor, w2, factor).mean(axis=(2, 4)), factor


def _outline(ax, origins, indices, h, w, color):
    for i in indices:
        y, x = origins[i]
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=color, linewidth=1.2))


@renamed(image="index")
@styled
def plot_activations(
    acts,
    layer: str | None = None,
    index: int = 0,
    *,
    max_maps: int | None = None,
    cols: int | None = None,
    cmap: str = "viridis",
    max_tile: int | None = 112,
    summary=None,
    title: str | None = None,
    figsize=None,
):
    """Draw every channel of a layer's activation for one image, as a grid.

    Each map is scaled to its own range. Blank maps (all zero for this image)
    are outlined in red and counted in the title. With a dataset `summary`
    (`kv.activation_summary`), filters that never fire on the dataset are
    outlined in orange and APoZ is reported. The title gives the layer's own
    map size ("64/64 maps 224x224"), and says when maps are drawn
    block-averaged. Maps of one pixel (a 1x1 layer, e.g. LeNet's conv4) are
    drawn as one bar per channel, since tiles of one pixel would all look alike.
    Grid columns, font sizes, resolution and the colour bar follow `kv.style`.

    Args:
        acts: `kv.activations(...)` dict, or an array `(h, w, c)` / `(N, h, w, c)`.
        layer: which entry of the dict (optional if it has one).
        index: which image of a batch.
        max_maps: draw only the first `max_maps` channels.
        cols: grid columns (default ~ sqrt(c), at most the style's `tiles_per_row`).
        cmap: matplotlib colormap.
        max_tile: maps larger than this are shown block-averaged by an integer
            factor (keeps VGG16's 224x224 maps light); None: full size.
        summary: an `ActivationSummary` of the same layer over a dataset.
        title: extra title text (e.g. `kv.weights_label(model)`).
        figsize: matplotlib figure size.

    Returns:
        matplotlib `Figure`.

    Example:
        >>> acts = kv.activations(vgg, x, ["block1_conv1"])
        >>> fig = kv.plot_activations(acts, "block1_conv1", title="VGG16, ImageNet weights")
    """
    layer, maps = _maps_of(acts, layer, index)
    h, w, c = maps.shape
    shown = min(c, max_maps or c)
    if h * w == 1:
        return _plot_unit_values(maps[0, 0, :shown], layer, c, summary, title, figsize)
    style = current_style()
    tiles = np.moveaxis(maps[..., :shown], -1, 0)
    blank = np.flatnonzero(np.all(tiles == 0, axis=(1, 2)))
    tiles, factor = _shrink(tiles, max_tile)
    th, tw = tiles.shape[1:3]
    image_grid, origins = mosaic(normalize_tiles(tiles), cols, pad=max(1, th // 16), fill=np.nan)
    rows, ncols = grid_shape(shown, cols)
    text = f"{layer}: {shown}/{c} maps {h}x{w}" + (
        f" (drawn averaged over {factor}x{factor} blocks)" if factor > 1 else ""
    )
    text += f", {len(blank)} blank (red)"
    if summary is not None:
        text += (
            f"\nover {summary.count} images: {len(summary.never_active)} never active (orange), "
            f"median APoZ {np.median(summary.apoz):.2f}"
        )
    text += f"\n{title}" if title else ""
    side = 1.0 if style.colorbars else 0.3  # room for the colour bar and margins
    tile = min(1.2, (style.width - side) / ncols)
    fig, ax = plt.subplots(
        figsize=figsize or (ncols * tile + side, rows * tile * th / tw + style.text_inches(text.count("\n") + 1.6))
    )
    colormap = plt.get_cmap(cmap).with_extremes(bad="white")  # the separators
    im = ax.imshow(image_grid, cmap=colormap, vmin=0, vmax=1, interpolation="nearest")
    _outline(ax, origins, blank, th, tw, BLANK_COLOR)
    if summary is not None:
        _outline(ax, origins, summary.never_active[summary.never_active < shown], th, tw, DEAD_COLOR)
    if shown <= 64:
        for i, (y, x) in enumerate(origins):
            ax.text(
                x + 0.5,
                y + 0.5,
                str(i),
                color="white",
                fontsize="small",
                va="top",
                ha="left",
                bbox=dict(facecolor="black", alpha=0.45, pad=0.4, linewidth=0),
            )
    if style.colorbars:
        bar = fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02, ticks=[0, 1])
        bar.ax.set_yticklabels(["min", "max"])
        bar.set_label("activation, each map\nscaled to its own range", fontsize="small")
    ax.set_title(text)
    ax.axis("off")
    fig.tight_layout()
    return fig


def _plot_unit_values(values, layer, channels, summary, title, figsize):
    """One bar per channel: the activation of a layer whose maps are a single pixel."""
    style = current_style()
    n = len(values)
    fig, ax = plt.subplots(figsize=figsize or (min(style.width, 1.5 + 0.35 * n), 2.2 + style.text_inches(2)))
    colors = np.where(values > 0, "tab:blue", "lightgray")
    ax.bar(np.arange(n), values, color=colors)
    ax.axhline(0, color="black", linewidth=0.6)
    if n <= 40:
        ax.set_xticks(np.arange(n))
    ax.set_xlabel("channel")
    ax.set_ylabel("activation")
    blank = int(np.sum(values == 0))
    text = f"{layer}: {n}/{channels} maps 1x1 (one value each, drawn as bars), {blank} zero"
    if summary is not None:
        text += f"\nover {summary.count} images: {len(summary.never_active)} never active"
    ax.set_title(text + (f"\n{title}" if title else ""))
    fig.tight_layout()
    return fig


@renamed(image="images")
@styled
def plot_channel(
    images: np.ndarray, maps: np.ndarray, channel: int, *, layer: str = "", cmap: str = "viridis", figsize=None
):
    """One channel's map beside the input image, and its values.

    Args:
        images: the input as displayable RGB `(H, W, 3)` uint8 or grey `(H, W)`.
        maps: one image's activations `(h, w, c)`.
        channel: which channel to show.
        layer: the layer's name, for the title.
        cmap: colormap of the map.
        figsize: figure size (default from `kv.style`).

    Returns:
        matplotlib `Figure`.

    Example:
        >>> acts = kv.activations(model, x[0], "conv1")
        >>> kv.plot_channel(x[0], acts["conv1"], 3, layer="conv1")
    """
    from kerasviz.core.validate import check_int

    if not isinstance(layer, str):
        from kerasviz.core.errors import ArgumentTypeError

        raise ArgumentTypeError(f"`layer` is the layer's name shown in the title; got {layer!r}.")
    maps = check_array(maps, "maps", min_ndim=3, max_ndim=3)
    channel = int(check_int(channel, "channel", minimum=-maps.shape[-1], maximum=maps.shape[-1] - 1))  # type: ignore[arg-type]
    h, w, c = maps.shape
    if not 0 <= channel < c:
        raise ValueError(f"channel {channel} out of range: {layer or 'the layer'} has {c} channels.")
    m = maps[..., channel]
    style = current_style()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=figsize or (min(style.width, 8), 3.2 + style.text_inches(2)))
    a0.imshow(np.squeeze(images), cmap="gray" if np.squeeze(images).ndim == 2 else None)
    a0.set_title("input")
    im = a1.imshow(m, cmap=cmap, interpolation="nearest")
    if style.colorbars:
        fig.colorbar(im, ax=a1, fraction=0.046, label="activation")
    state = "blank (all zero)" if not m.any() else f"max {m.max():.3g}, {100 * (m > 0).mean():.0f}% > 0"
    a1.set_title(f"{layer} channel {channel} ({h}x{w}):\n{state}")
    for a in (a0, a1):
        a.axis("off")
    fig.tight_layout()
    return fig
