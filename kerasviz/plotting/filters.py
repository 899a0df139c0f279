"""Filter weights: RGB patches, every input channel of one filter, or a summary per filter."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from kerasviz.core.arguments import check_array
from kerasviz.core.deprecation import renamed
from kerasviz.plotting.grid import grid_shape, mosaic, normalize_tiles
from kerasviz.plotting.style import current_style, styled


@renamed(filter_index="filters")
@styled
def plot_filter_weights(
    kernel: np.ndarray,
    roughness: np.ndarray | None = None,
    *,
    mode: str = "auto",
    filters: int = 0,
    bgr: bool = False,
    max_filters: int = 64,
    cols: int | None = None,
    title: str | None = None,
    figsize=None,
):
    """Draw a conv kernel `(kh, kw, c_in, filters)`; see `plot_filters` for modes.

    Args:
        kernel: `(kh, kw, c_in, filters)` weights (`kv.filter_weights`).
        roughness: `(filters,)` values to print under each filter (`kv.filter_roughness`).
        mode: "auto" (RGB patches for 1 or 3 input channels, else a summary),
            "rgb", "channels" (every input channel of one filter) or "summary".
        filters: the filter shown by `mode="channels"`.
        bgr: the kernel's inputs are BGR (caffe preprocessing): flipped to RGB.
        max_filters: draw at most this many filters.
        cols: tiles per row.
        title: figure title.
        figsize: figure size (default from `kv.style`).

    Returns:
        matplotlib `Figure`.

    Example:
        >>> kernel = kv.filter_weights(model, "conv1")
        >>> kv.plot_filter_weights(kernel, kv.filter_roughness(kernel))
    """
    from kerasviz.core.validate import check_choice, check_int

    kernel = check_array(kernel, "kernel", min_ndim=4, max_ndim=4)
    mode = check_choice(mode, "mode", ("auto", "rgb", "channels", "summary"))
    kh, kw, cin, nf = kernel.shape
    filters = int(check_int(filters, "filters"))  # type: ignore[arg-type]
    if not 0 <= filters < nf:
        from kerasviz.core.errors import InvalidArgumentError

        raise InvalidArgumentError(f"`filters` {filters} out of range: the layer has {nf} filters (0..{nf - 1}).")
    if mode == "auto":
        mode = "rgb" if cin in (1, 3) else "summary"
    if mode == "rgb":
        return _plot_patches(kernel, roughness, bgr, max_filters, cols, title, figsize)
    if mode == "channels":
        return _plot_channels(kernel, filters, roughness, cols, title, figsize)
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
        raise ValueError(f"filters {f} out of range: the layer has {nf} filters.")
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


@renamed(filter_index="filters")
@styled
def plot_filters(
    model,
    layer,
    *,
    mode: str = "auto",
    filters: int = 0,
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
        "channels": one filter (`filters`) as its `c_in` slices, on a
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
    from kerasviz.provenance import takes_bgr, weights_label
    from kerasviz.weights import filter_roughness, filter_weights

    kernel = filter_weights(model, layer)
    if bgr is None:
        bgr = takes_bgr(model)
    label = weights_label(model)
    return plot_filter_weights(
        kernel,
        filter_roughness(kernel),
        mode=mode,
        filters=filters,
        bgr=bgr,
        max_filters=max_filters,
        cols=cols,
        title=title if title is not None else (label or None),
        figsize=figsize,
    )
