"""Figures of activation maps and filter weights (they only draw)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from kerasviz.core.arguments import check_array
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


@styled
def plot_activations(
    acts,
    layer: str | None = None,
    image: int = 0,
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
        image: which image of a batch.
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
    layer, maps = _maps_of(acts, layer, image)
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


@styled
def plot_filter_weights(
    kernel: np.ndarray,
    roughness: np.ndarray | None = None,
    *,
    mode: str = "auto",
    filter_index: int = 0,
    bgr: bool = False,
    max_filters: int = 64,
    cols: int | None = None,
    title: str | None = None,
    figsize=None,
):
    """Draw a conv kernel `(kh, kw, c_in, filters)`; see `plot_filters` for modes."""
    from kerasviz.core.validate import check_choice, check_int

    kernel = check_array(kernel, "kernel", min_ndim=4, max_ndim=4)
    mode = check_choice(mode, "mode", ("auto", "rgb", "channels", "summary"))
    kh, kw, cin, nf = kernel.shape
    filter_index = check_int(filter_index, "filter_index")
    if not 0 <= filter_index < nf:
        from kerasviz.core.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"`filter_index` {filter_index} out of range: the layer has {nf} filters (0..{nf - 1})."
        )
    if mode == "auto":
        mode = "rgb" if cin in (1, 3) else "summary"
    if mode == "rgb":
        return _plot_patches(kernel, roughness, bgr, max_filters, cols, title, figsize)
    if mode == "channels":
        return _plot_channels(kernel, filter_index, roughness, cols, title, figsize)
    if mode == "summary":
        return _plot_summary(kernel, roughness, max_filters, title, figsize)
    raise ValueError(f"mode must be 'auto', 'rgb', 'channels' or 'summary'; got {mode!r}.")


def _plot_patches(kernel, roughness, bgr, max_filters, cols, title, figsize):
    kh, kw, cin, nf = kernel.shape
    if cin not in (1, 3):
        raise ValueError(f"mode='rgb' needs 1 or 3 input channels; this kernel has {cin}.")
    shown = min(nf, max_filters)
    tiles = np.moveaxis(kernel[..., :shown], -1, 0)  # (n, kh, kw, cin)
    tiles = tiles[..., ::-1] if bgr and cin == 3 else tiles
    tiles = normalize_tiles(tiles if cin == 3 else tiles[..., 0])
    image, origins = mosaic(tiles, cols, pad=1)
    rows, ncols = grid_shape(shown, cols)
    style = current_style()
    tile = style.tile_inches(ncols, most=1.1)
    text = _weights_title(kernel, shown, roughness, title)
    fig, ax = plt.subplots(
        figsize=figsize or (ncols * tile + 0.3, rows * tile + style.text_inches(text.count("\n") + 1.6))
    )
    ax.imshow(image, cmap=None if cin == 3 else "gray", interpolation="nearest")
    if roughness is not None and shown <= 64:
        for i, (y, x) in enumerate(origins):
            ax.text(
                x + kw / 2 - 0.5,
                y + kh - 0.3,
                f"{roughness[i]:.2f}",
                color="yellow",
                fontsize="small",
                ha="center",
                va="bottom",
                bbox=dict(facecolor="black", alpha=0.6, pad=0.5, linewidth=0),
            )
    ax.set_title(text)
    ax.axis("off")
    fig.tight_layout()
    return fig


def _plot_channels(kernel, f, roughness, cols, title, figsize):
    kh, kw, cin, nf = kernel.shape
    if not 0 <= f < nf:
        raise ValueError(f"filter_index {f} out of range: the layer has {nf} filters.")
    slices = np.moveaxis(kernel[..., f], -1, 0)  # (cin, kh, kw)
    scale = np.abs(slices).max() or 1.0
    image, _ = mosaic(slices / scale, cols, pad=1, fill=np.nan)
    style = current_style()
    fig, ax = plt.subplots(figsize=figsize or (min(style.width, 8), min(style.width, 8)))
    im = ax.imshow(image, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    if style.colorbars:
        fig.colorbar(im, ax=ax, fraction=0.03, label=f"weight / {scale:.3g} (red > 0, blue < 0)")
    extra = f", roughness {roughness[f]:.2f}" if roughness is not None else ""
    ax.set_title(f"filter {f}: its {cin} input-channel slices {kh}x{kw}{extra}" + (f"\n{title}" if title else ""))
    ax.axis("off")
    return fig


def _plot_summary(kernel, roughness, max_filters, title, figsize):
    kh, kw, cin, nf = kernel.shape
    shown = min(nf, max_filters)
    norms = np.sqrt((kernel[..., :shown] ** 2).sum(axis=(0, 1)))  # (cin, shown)
    style = current_style()
    fig, axes = plt.subplots(1, 2, figsize=figsize or (max(style.width, 10), 4.5), gridspec_kw={"width_ratios": [3, 1]})
    im = axes[0].imshow(norms, aspect="auto", cmap="magma", interpolation="nearest")
    axes[0].set_xlabel("filter")
    axes[0].set_ylabel("input channel")
    axes[0].set_title("L2 norm of each input-channel slice")
    if style.colorbars:
        fig.colorbar(im, ax=axes[0], fraction=0.03, label="L2 norm (0 = unused input)")
    if roughness is not None and np.isfinite(roughness).any():
        axes[1].hist(roughness[np.isfinite(roughness)], bins=30, color="gray")
        axes[1].axvline(1.0, color="red", linestyle="--", label="white noise")
        axes[1].legend()
        axes[1].set_xlabel("roughness")
        axes[1].set_title("per-filter roughness")
    else:
        axes[1].axis("off")
    fig.suptitle(_weights_title(kernel, shown, roughness, title))
    fig.tight_layout()
    return fig


def _weights_title(kernel, shown, roughness, title):
    kh, kw, cin, nf = kernel.shape
    text = f"{shown}/{nf} filters {kh}x{kw}x{cin}"
    if roughness is not None and np.isfinite(roughness).any():
        text += f", median roughness {np.nanmedian(roughness):.2f} (white noise = 1)"
    return text + (f"\n{title}" if title else "")


@styled
def plot_filters(
    model,
    layer,
    *,
    mode: str = "auto",
    filter_index: int = 0,
    bgr: bool | None = None,
    max_filters: int = 64,
    cols: int | None = None,
    title: str | None = None,
    figsize=None,
):
    """Draw a convolution layer's filters, each with its roughness score.

    Modes:
        "rgb": each filter as a small colour (3 inputs) or grey (1 input) patch,
            scaled to its own range: the classic first-layer picture.
        "channels": one filter (`filter_index`) as its `c_in` slices, on a
            diverging colormap (deeper layers).
        "summary": a filters x input-channels map of slice norms, plus the
            roughness histogram (deeper layers).
        "auto": "rgb" for 1 or 3 input channels, else "summary".

    Args:
        model: a Keras model; layer: a 2-D convolution layer (name, path, index).
        bgr: the kernel's inputs are BGR (caffe-preprocessed VGG16); default:
            True for models loaded with `kv.load_vgg16`.
        max_filters: draw at most this many filters.
        title: extra title text; default `kv.weights_label(model)`.

    Returns:
        matplotlib `Figure`.

    Example:
        >>> fig = kv.plot_filters(kv.load_vgg16(weights=None), "block1_conv1")
    """
    from kerasviz.data import takes_bgr, weights_label
    from kerasviz.weights import filter_roughness, filter_weights

    kernel = filter_weights(model, layer)
    if bgr is None:
        bgr = takes_bgr(model)
    label = weights_label(model)
    return plot_filter_weights(
        kernel,
        filter_roughness(kernel),
        mode=mode,
        filter_index=filter_index,
        bgr=bgr,
        max_filters=max_filters,
        cols=cols,
        title=title if title is not None else (label or None),
        figsize=figsize,
    )


@styled
def plot_channel(
    image: np.ndarray, maps: np.ndarray, channel: int, *, layer: str = "", cmap: str = "viridis", figsize=None
):
    """One channel's map beside the input image, and its values.

    Args:
        image: the input as displayable RGB `(H, W, 3)` uint8 or grey `(H, W)`.
        maps: one image's activations `(h, w, c)`.
        channel: which channel to show.
        layer: the layer's name, for the title.
        cmap: colormap of the map.
        figsize: figure size (default from `kv.style`).

    Returns:
        matplotlib `Figure`.
    """
    from kerasviz.core.validate import check_int

    if not isinstance(layer, str):
        from kerasviz.core.errors import ArgumentTypeError

        raise ArgumentTypeError(f"`layer` is the layer's name shown in the title; got {layer!r}.")
    maps = check_array(maps, "maps", min_ndim=3, max_ndim=3)
    channel = check_int(channel, "channel", minimum=-maps.shape[-1], maximum=maps.shape[-1] - 1)
    h, w, c = maps.shape
    if not 0 <= channel < c:
        raise ValueError(f"channel {channel} out of range: {layer or 'the layer'} has {c} channels.")
    m = maps[..., channel]
    style = current_style()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=figsize or (min(style.width, 8), 3.2 + style.text_inches(2)))
    a0.imshow(np.squeeze(image), cmap="gray" if np.squeeze(image).ndim == 2 else None)
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
