"""Figures for LRP: relevance heatmaps beside the image, and relevance flow per layer.

Pure figure builders: they draw arrays computed by `kv.lrp` (or any signed
attribution) and return a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from kerasviz.core.arguments import checked_arguments
from kerasviz.core.deprecation import renamed
from kerasviz.plotting.attribution import add_colorbar, display_image
from kerasviz.plotting.style import current_style, styled

Maps = np.ndarray | Mapping[str, np.ndarray]
RELEVANCE_MEANING = (
    "red: relevance for the class, blue: relevance against it (scaled to the {percentile:g}th percentile of |R|)"
)


@checked_arguments
def relevance_heatmap(relevance: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """`(H, W[, C])` relevance -> `(H, W)` in [-1, 1]: summed over channels, scaled by a high percentile of |R|.

    The percentile (not the max) keeps one extreme pixel from washing out the map.

    Args:
        relevance: one image's relevance `(H, W)` or `(H, W, C)`.
        percentile: the |R| that maps to 1.

    Returns:
        `(H, W)` float64 in [-1, 1] (zeros for an all-zero map).

    Example:
        >>> heat = kv.relevance_heatmap(kv.lrp(model, x[0]))
    """
    r = np.asarray(relevance, np.float64)
    r = r.sum(axis=-1) if r.ndim == 3 else r
    scale = np.percentile(np.abs(r), percentile)
    return np.clip(r / scale, -1, 1) if scale > 0 else np.zeros_like(r)


def _show_image(ax, image):
    shown = display_image(image)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)


@renamed(image="images")
@styled
def plot_lrp(
    images: np.ndarray,
    maps: Maps,
    *,
    title: str = "",
    percentile: float = 99.5,
    cmap: str = "bwr",
    size: float = 2.6,
):
    """The image, then one signed heatmap per relevance map (red: for the class, blue: against).

    Each map has a colour bar ("against ... for") and the figure says what
    the colours mean; sizes, fonts and colour bars follow `kv.style`.

    Args:
        images: `(H, W, 3|1)` displayable image (e.g. `kv.deprocess(x)`).
        maps: one `(H, W[, C])` relevance map, or `{title: map}` to compare
            rules or methods side by side. `(H, W, C)` maps get their sum ΣR
            in the title; `(H, W)` maps (e.g. Grad-CAM) do not.
        title: figure title (e.g. the model's weights label).
        percentile: |R| percentile mapped to full colour.
        cmap: a diverging colormap.
        size: inches per panel (at most; `kv.style`'s width is shared by the panels).

    Returns:
        A matplotlib Figure.

    Example:
        >>> r = kv.lrp(model, x, rule="vgg")
        >>> kv.plot_lrp(kv.deprocess(x), {"LRP vgg": r})
    """
    maps = dict(maps) if isinstance(maps, Mapping) else {"relevance": maps}
    style = current_style()
    panels = len(maps) + 1
    size = min(size, style.width / panels)
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(size * panels, size + style.text_inches(4 if title else 3) + 0.4),
        squeeze=False,
        layout="constrained",
    )
    _show_image(axes[0, 0], images)
    axes[0, 0].set_title("image")
    for ax, (name, r) in zip(axes[0, 1:], maps.items()):
        ax.imshow(relevance_heatmap(r, percentile), cmap=cmap, vmin=-1, vmax=1)
        total = f"\nΣR = {np.asarray(r).sum():.3g}" if np.ndim(r) == 3 else ""  # sums mean something for relevance only
        ax.set_title(f"{name}{total}")
        if style.colorbars:
            add_colorbar(ax, True, cmap)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].axis("off")
    if style.colorbars:
        fig.supxlabel(RELEVANCE_MEANING.format(percentile=percentile), fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


@styled
def plot_relevance_flow(
    layers: Mapping[str, np.ndarray],
    *,
    score: float | None = None,
    max_maps: int = 6,
    title: str = "",
    cmap: str = "bwr",
):
    """How relevance flows from the logit down to the pixels, for one image.

    Top: per layer, the total relevance and its positive and negative parts
    (LRP conserves the total: a flat line at the explained logit, minus what
    biases and ε absorb). Bottom: relevance maps (summed over channels) of a few
    spatial layers, from the input upwards.

    Args:
        layers: `{name: relevance}` for one image, input first, each `(H, W, C)`,
            `(H, W)` or `(K,)` (e.g. `{"input": r.input[0], **{k: v[0] for k, v in r.layers.items()}}`).
        score: the explained logit, drawn as a reference line.
        max_maps: spatial layers shown below.
        title: figure title.
        cmap: diverging colormap for the maps.

    Returns:
        A matplotlib Figure.

    Example:
        >>> res = kv.lrp(model, x, return_layers=True)
        >>> kv.plot_relevance_flow(res.flow(0), score=res.scores[0])
    """
    if not isinstance(layers, Mapping) or not layers:
        from kerasviz.core.errors import ArgumentTypeError

        raise ArgumentTypeError(
            f"`layers` must be a non-empty dict {{layer name: relevance}} (`kv.lrp(..., return_layers=True).layers`); "
            f"got {type(layers).__name__}."
        )
    from kerasviz.core.arguments import check_array

    for value in layers.values():
        check_array(value, "layers", min_ndim=1)
    names = list(layers)
    values = [np.asarray(layers[n], np.float64) for n in names]
    totals = np.array([v.sum() for v in values])
    pos = np.array([v[v > 0].sum() for v in values])
    neg = np.array([v[v < 0].sum() for v in values])
    spatial = [i for i, v in enumerate(values) if v.ndim == 3 and min(v.shape[:2]) > 1]
    if len(spatial) > max_maps:
        spatial = [spatial[int(round(j))] for j in np.linspace(0, len(spatial) - 1, max_maps)]
    cols = max(len(spatial), 1)
    style = current_style()
    fig = plt.figure(figsize=(max(style.width, 2.2 * cols), 6.2 + style.text_inches(2)), layout="constrained")
    grid = fig.add_gridspec(2, cols, height_ratios=[1.1, 1])
    ax = fig.add_subplot(grid[0, :])
    steps = np.arange(len(names))
    ax.bar(steps, pos, color="tab:red", alpha=0.35, label="positive part")
    ax.bar(steps, neg, color="tab:blue", alpha=0.35, label="negative part")
    ax.plot(steps, totals, "ko-", ms=3, label="total ΣR")
    if score is not None:
        ax.axhline(score, color="gray", ls="--", lw=1, label=f"explained logit {score:.3g}")
    ax.set_xticks(steps)
    ax.set_xticklabels([n.rsplit("/", 1)[-1] for n in names], rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("relevance")
    ax.legend(loc="best")
    for j, i in enumerate(spatial):
        sub = fig.add_subplot(grid[1, j])
        sub.imshow(relevance_heatmap(values[i]), cmap=cmap, vmin=-1, vmax=1)
        sub.set_title(names[i].rsplit("/", 1)[-1], fontsize="small")
        sub.set_xticks([])
        sub.set_yticks([])
        if style.colorbars:
            add_colorbar(sub, True, cmap)
    if style.colorbars and spatial:
        fig.supxlabel("maps: " + RELEVANCE_MEANING.format(percentile=99.5), fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
