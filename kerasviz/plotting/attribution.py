"""Figures for attribution maps: overlays, method grids, sanity-check curves.

Pure matplotlib over arrays computed elsewhere. The helpers (`display_image`,
`normalize_map`, `overlay_heatmap`) are reusable by any family that draws a
per-pixel map over an image (LRP uses them too).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from kerasviz.core.arguments import check_array, checked_arguments
from kerasviz.core.deprecation import renamed
from kerasviz.core.errors import ArgumentTypeError
from kerasviz.plotting.style import current_style, styled


def display_image(image) -> np.ndarray:
    """An image as float RGB (or grayscale) in [0, 1] for `imshow`.

    uint8 is divided by 255; floats are min-max scaled (model-space inputs such
    as caffe-preprocessed VGG16 images: pass `kv.deprocess(x)` for true colours).
    Anything but finite numbers is refused (`core.inputs.as_numeric_array`).
    """
    from kerasviz.core.inputs import as_numeric_array

    image = np.asarray(as_numeric_array(image, "image"))
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    span = image.max() - image.min()
    return (image - image.min()) / span if span > 0 else np.zeros_like(image)


def to_2d(heatmap, signed: bool | None = None) -> tuple[np.ndarray, bool]:
    """A map `(H, W)` or `(H, W, C)` as `(H, W)`: channels summed (signed) or |.| summed.

    Returns `(map, signed)`; `signed=None` means signed if the map has negative values.
    """
    heatmap = np.asarray(heatmap, np.float32)
    signed = bool(heatmap.min() < 0) if signed is None else signed
    if heatmap.ndim == 3:
        heatmap = heatmap.sum(-1) if signed else np.abs(heatmap).sum(-1)
    return heatmap, signed


@checked_arguments
def normalize_map(heatmap, signed: bool | None = None, percentile: float = 99.0) -> np.ndarray:
    """Scale a map for display, clipping at `percentile` of |map|.

    Args:
        heatmap: `(H, W)` map, or `(H, W, C)` (channels summed; |.| summed when unsigned).
        signed: force signed / unsigned scaling (default: signed if it has negative values).
        percentile: the |value| that maps to 1 (100: the maximum).

    Returns:
        `(H, W)` in [-1, 1] for signed maps (0 stays 0), [0, 1] otherwise.

    Example:
        >>> shown = kv.normalize_map(kv.integrated_gradients(model, x).attributions)
    """
    heatmap, signed = to_2d(heatmap, signed)
    if not signed:
        heatmap = heatmap - min(heatmap.min(), 0.0)
    top = np.percentile(np.abs(heatmap), percentile) if percentile < 100 else np.abs(heatmap).max()
    if top <= 0:
        return np.zeros_like(heatmap)
    return np.clip(heatmap / top, -1.0 if signed else 0.0, 1.0)


SIGNED_MEANING = "red: evidence for the class (raises its score), blue: evidence against (lowers it)"
UNSIGNED_MEANING = "colour: importance, from 0 to the map's {percentile:g}th percentile"


def colorbar_label(signed: bool, percentile: float = 99.0) -> str:
    """What the colours of an attribution map mean (a colour bar's or a figure's note)."""
    return SIGNED_MEANING if signed else UNSIGNED_MEANING.format(percentile=percentile)


def empty_map_note(name: str = "") -> str:
    """Why a map is zero everywhere, written into its empty panel."""
    if "cam" in name.lower():
        return "no positive evidence:\nthe weighted maps are\nnegative everywhere,\nthe ReLU leaves 0"
    return "zero everywhere"


def add_colorbar(ax, signed: bool, cmap: str | None = None):
    """A thin colour bar just under `ax` whose ends say what they mean ("against" / "for", "0" / "high").

    The bar is an inset of `ax` (it takes no room from the other panels, and
    `figure.axes` still lists only the panels).
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    colors = ScalarMappable(Normalize(-1 if signed else 0, 1), cmap or ("bwr" if signed else "jet"))
    bar = ax.figure.colorbar(colors, cax=ax.inset_axes([0.0, -0.09, 1.0, 0.05]), orientation="horizontal")
    ticks, labels = ([-1, 0, 1], ["against", "0", "for"]) if signed else ([0, 1], ["0", "high"])
    bar.set_ticks(ticks)
    bar.set_ticklabels(labels)
    bar.ax.tick_params(labelsize="small")
    return bar


@renamed(image="images")
@checked_arguments
def overlay_heatmap(
    ax,
    images,
    heatmap,
    *,
    signed: bool | None = None,
    cmap: str | None = None,
    alpha: float = 0.5,
    percentile: float = 99.0,
    title: str | None = None,
    colorbar: bool = False,
):
    """Draw `heatmap` over `images` on `ax`; diverging colours (blue-white-red) for signed maps.

    A map that is zero everywhere (e.g. Grad-CAM when the class has no positive
    evidence in the layer) gets a note in the panel saying so instead of a
    blank panel.

    Args:
        ax: a matplotlib Axes.
        images: `(H, W, C)` / `(H, W)` display image, or None for the map alone.
        heatmap: `(H, W)` or `(H, W, C)` map at the image's size.
        signed: force signed / unsigned display (default: signed if negative values).
        cmap: colormap (default "bwr" signed, "jet" unsigned).
        alpha: heatmap opacity over the image.
        percentile: clip |map| at this percentile (outliers otherwise wash out the rest).
        title: axes title (also used to word the empty-map note).
        colorbar: add a colour bar saying what the colours mean.

    Returns:
        The heatmap's `AxesImage`.

    Example:
        >>> fig, ax = plt.subplots()
        >>> kv.overlay_heatmap(ax, kv.deprocess(x[0]), kv.grad_cam(vgg, x[0]))
    """
    raw = np.asarray(heatmap, np.float32)
    values = normalize_map(raw, signed, percentile)
    signed = bool(values.min() < 0) if signed is None else signed
    if images is not None:
        shown = display_image(images)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        if signed:  # fade the photo so blue and red read on top of it
            ax.imshow(np.ones_like(values), cmap="gray", vmin=0, vmax=1, alpha=0.35)
    layer = ax.imshow(
        values,
        cmap=cmap or ("bwr" if signed else "jet"),
        vmin=-1 if signed else 0,
        vmax=1,
        alpha=alpha if images is not None else 1.0,
    )
    if raw.size and not np.any(raw):
        ax.text(
            0.5,
            0.5,
            empty_map_note(title or ""),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize="small",
            color="black",
            bbox=dict(facecolor="white", alpha=0.85, linewidth=0),
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        add_colorbar(ax, signed, cmap)
    return layer


@renamed(image="images")
@styled
def plot_attribution(
    images,
    heatmap,
    *,
    title: str = "",
    signed: bool | None = None,
    alpha: float = 0.5,
    percentile: float = 99.0,
    cmap: str | None = None,
    dpi: float | None = None,
) -> Figure:
    """The image and its map overlaid, side by side, with a colour bar saying what the colours mean.

    Args:
        images: display image `(H, W, C)` or `(H, W)`.
        heatmap: `(H, W)` or `(H, W, C)` map.
        title: the map panel's title (e.g. the method and target).
        signed: force signed / unsigned display (default: signed if negative values).
        alpha: heatmap opacity over the image.
        percentile: clip |map| at this percentile.
        cmap: colormap (default "bwr" signed, "jet" unsigned).
        dpi: figure resolution (default: `kv.style`'s).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_attribution(kv.sample_image(size=224), kv.grad_cam(vgg, x)[0], title="Grad-CAM")
    """
    style = current_style()
    width = min(style.width, 7.0)
    panel = (width - 0.6) / 2  # square panels: the height follows from the width
    height = (
        panel + style.text_inches(title.count("\n") + 1.5) + (0.3 + style.text_inches(2.5) if style.colorbars else 0.2)
    )
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    left, right = fig.subplots(1, 2)
    shown = display_image(images)
    left.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    left.set_title("image")
    left.set_xticks([])
    left.set_yticks([])
    layer = overlay_heatmap(
        right,
        images,
        heatmap,
        signed=signed,
        alpha=alpha,
        percentile=percentile,
        cmap=cmap,
        title=title,
        colorbar=style.colorbars,
    )
    if style.colorbars:
        fig.supxlabel(colorbar_label(layer.get_clim()[0] < 0, percentile), fontsize="small")
    return fig


@renamed(image="images")
@styled
def plot_attribution_grid(
    images,
    maps: Mapping[str, np.ndarray],
    *,
    title: str = "",
    overlay: bool = True,
    percentile: float = 99.0,
    cols: int | None = None,
    dpi: float | None = None,
) -> Figure:
    """One image and several methods' maps, side by side, with colour bars saying what the colours mean.

    Signed maps (gradient x input, integrated gradients, LRP) share one
    diverging colour bar ("red: evidence for the class, blue: against");
    unsigned maps (saliency, Grad-CAM, occlusion magnitudes) share one
    sequential bar. A map that is zero everywhere says why in its panel.

    Args:
        images: display image `(H, W, C)`.
        maps: `{method name: (H, W) or (H, W, C) map}`.
        title: figure title (e.g. the model and its weights label).
        overlay: draw maps over the image (else the maps alone).
        percentile: clipping percentile of every map.
        cols: panels per row (default: `kv.style`'s panels per row).
        dpi: figure resolution (default: `kv.style`'s).

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_attribution_grid(img, {"saliency": s[0], "Grad-CAM": c[0]})
    """
    if not isinstance(maps, Mapping) or not maps:
        raise ArgumentTypeError(
            f"`maps` must be a non-empty dict {{method name: map (H, W)}}; got {type(maps).__name__}."
        )
    for value in maps.values():
        check_array(value, "maps", min_ndim=2, max_ndim=3)
    style = current_style()
    n = len(maps) + 1
    cols = cols or min(n, style.panels_per_row())
    rows = int(np.ceil(n / cols))
    panel = style.tile_inches(cols, most=2.4)
    bars = style.colorbars
    fig = Figure(
        figsize=(
            panel * cols,
            (panel + style.text_inches(1.2)) * rows + (style.text_inches(1.5) if title else 0) + (0.9 if bars else 0),
        ),
        dpi=dpi,
        layout="constrained",
    )
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    axes[0].imshow(display_image(images), cmap="gray" if display_image(images).ndim == 2 else None)
    axes[0].set_title("image")
    kinds = set()
    for ax, (name, heatmap) in zip(axes[1:], maps.items()):
        layer = overlay_heatmap(
            ax, images if overlay else None, heatmap, percentile=percentile, title=name, colorbar=bars
        )
        kinds.add(bool(layer.get_clim()[0] < 0))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    if bars and kinds:
        fig.supxlabel(
            "\n".join(colorbar_label(signed, percentile) for signed in sorted(kinds, reverse=True)), fontsize="small"
        )
    if title:
        fig.suptitle(title)
    return fig
