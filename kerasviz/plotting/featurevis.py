"""Figures for feature visualization: filter grids, DeepDream, inversions.

Pure builders: they take arrays (or the result objects' arrays) and return a
matplotlib Figure, closed so notebooks do not show it twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from kerasviz.plotting.grid import grid_shape, mosaic
from kerasviz.plotting.style import current_style, styled


def _title(text: str, label: str) -> str:
    return text + (f" ({label})" if label else "")


@styled
def plot_filter_grid(
    result=None,
    *,
    images: np.ndarray | None = None,
    units: Sequence[int] | None = None,
    scores: Sequence[float] | None = None,
    cols: int | None = None,
    title: str | None = None,
    tile_inches: float = 1.3,
    annotate: bool = True,
):
    """A grid of optimised images, each labelled with its filter (or class) and score.

    Args:
        result: a `FeatureImages` (from `visualize_filters` / `visualize_classes`);
            or pass `images` `(n, H, W, 3)` in [0, 1] with optional `units`, `scores`.
        cols: tiles per row (default ~sqrt(n)).
        title: figure title (default: layer, objective and weights label).
        tile_inches: size of one tile (at most; narrower when many tiles share a row, see `kv.style`).
        annotate: write "unit: score" under each tile.

    Returns:
        A matplotlib Figure (one `imshow` of a mosaic, fast for hundreds of tiles).

    Example:
        >>> kv.plot_filter_grid(kv.visualize_filters(vgg, "block3_conv1", range(16)).sorted())
    """
    if result is not None:
        images, units, scores = result.images, result.units, result.scores
        title = title or _title(f"{result.layer or 'classes'}: {result.objective}", result.label)
    from kerasviz.core.errors import InvalidArgumentError
    from kerasviz.core.inputs import as_numeric_array

    images = np.clip(np.asarray(as_numeric_array(images, "images"), np.float64), 0, 1)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InvalidArgumentError(f"`images` must be (n, H, W, 3) or (n, H, W, 1); got shape {images.shape}.")
    n = len(images)
    if units is not None:
        from kerasviz.core.validate import check_indices

        units = check_indices(units, "units", size=2**31 - 1)
        if len(units) != n:
            raise InvalidArgumentError(f"`units` has {len(units)} entries for {n} images.")
    rows, cols = grid_shape(n, cols)
    image, origins = mosaic(images, cols, pad=max(1, images.shape[1] // 16))
    style = current_style()
    tile = style.tile_inches(cols, most=tile_inches)
    fig, ax = plt.subplots(figsize=(cols * tile, rows * tile + style.text_inches((title or "").count("\n") + 1.6)))
    ax.imshow(image, interpolation="nearest")
    ax.set_axis_off()
    if annotate and units is not None:
        h = images.shape[1]
        for i, (y, x) in enumerate(origins):
            text = f"{units[i]}" + (f": {scores[i]:.3g}" if scores is not None else "")
            ax.text(
                x + 1,
                y + h - 1,
                text,
                color="white",
                fontsize="small",
                va="bottom",
                bbox=dict(facecolor="black", alpha=0.5, pad=1, linewidth=0),
            )
    if title:
        ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig


@styled
def plot_dream(original: np.ndarray, dream, *, title: str | None = None):
    """The photo next to its DeepDream, and the objective per octave.

    Args:
        original: the photo `(H, W, 3)` (uint8 or float in [0, 1]).
        dream: a `Dream` from `deep_dream`.

    Returns:
        A matplotlib Figure.

    Example:
        >>> photo = kv.sample_image("cat", size=224)
        >>> kv.plot_dream(photo, kv.deep_dream(vgg, kv.preprocess(photo), "block4_conv3"))
    """
    from kerasviz.core.arguments import check_fields

    check_fields(dream, "dream", ("image", "losses", "sizes", "label"), "kv.deep_dream")
    original = np.asarray(original)
    original = original / 255.0 if original.dtype.kind in "ui" or original.max() > 1 else original
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), gridspec_kw=dict(width_ratios=[1, 1, 0.9]))
    axes[0].imshow(np.clip(original, 0, 1))
    axes[0].set_title("photo", fontsize="medium")
    axes[1].imshow(np.clip(dream.image if dream.image.ndim == 3 else dream.image[0], 0, 1))
    axes[1].set_title(_title("DeepDream", dream.label), fontsize="medium")
    for ax in axes[:2]:
        ax.set_axis_off()
    start = 0
    for k, (losses, size) in enumerate(zip(dream.losses, dream.sizes)):
        steps = np.arange(start, start + len(losses))
        axes[2].plot(steps, losses.mean(axis=1), marker=".", label=f"octave {k + 1}: {size[0]}x{size[1]}")
        start += len(losses)
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("mean squared activation")
    axes[2].legend(fontsize="small")
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig


@styled
def plot_inversion(original: np.ndarray, inversion, *, title: str | None = None, tile_inches: float = 2.2):
    """The photo and its reconstruction from each layer, with the normalised error.

    Args:
        original: the photo `(H, W, 3)`.
        inversion: an `Inversion` from `invert` on that one photo.

    Returns:
        A matplotlib Figure.

    Example:
        >>> photo = kv.sample_image("cat", size=224)
        >>> kv.plot_inversion(photo, kv.invert(vgg, kv.preprocess(photo), ["block2_conv2", "block4_conv3"]))
    """
    from kerasviz.core.arguments import check_fields

    check_fields(inversion, "inversion", ("images", "layers", "errors", "label"), "kv.invert")
    original = np.asarray(original)
    original = original / 255.0 if original.dtype.kind in "ui" or original.max() > 1 else original
    images = inversion.images
    fig, axes = plt.subplots(1, len(images) + 1, figsize=(tile_inches * (len(images) + 1), tile_inches + 0.6))
    axes = np.atleast_1d(axes)
    axes[0].imshow(np.clip(original, 0, 1))
    axes[0].set_title("photo", fontsize="medium")
    for ax, image, layer, error in zip(axes[1:], images, inversion.layers, inversion.errors):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(f"{layer}\nerror {error:.3f}", fontsize="small")
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title or _title("Feature inversion", inversion.label), fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig
