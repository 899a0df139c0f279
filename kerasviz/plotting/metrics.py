"""Figures of attribution checks: the metrics table, randomization checks, deletion/insertion curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from kerasviz.core.arguments import check_array, checked_arguments
from kerasviz.core.errors import ArgumentTypeError
from kerasviz.plotting.style import styled


@checked_arguments
def plot_metrics_table(table, *, title: str | None = None, dpi: int = 100) -> Figure:
    """Methods x metrics as a colour table: each column coloured by rank (dark = best), values written in.

    Metrics have different units and directions, so colours compare methods
    within a column only; the arrow in each header says whether higher or
    lower is better. Cells where a metric does not apply are grey.

    Args:
        table: a `MetricsTable` from `kv.attribution_metrics`.
        title: figure title.
        dpi: figure resolution.

    Returns:
        A matplotlib `Figure`.

    Example:
        >>> kv.plot_metrics_table(kv.attribution_metrics(model, x, {"saliency": "saliency", "rise": "rise"}))
    """
    from kerasviz.attribution.metrics_table import MetricsTable
    from kerasviz.core.arguments import check_result

    check_result(table, "table", MetricsTable, "kv.attribution_metrics")
    values = np.asarray(table.values, np.float64)
    rows, cols = values.shape
    goodness = np.full(values.shape, np.nan)
    for j, metric in enumerate(table.metrics):
        column = values[:, j] if table.higher_is_better[metric] else -values[:, j]
        valid = ~np.isnan(column)
        if valid.sum() > 1:
            order = column[valid].argsort().argsort()
            goodness[valid, j] = order / (valid.sum() - 1)
        elif valid.any():
            goodness[valid, j] = 1.0
    fig = Figure(figsize=(1.2 + 1.45 * max(cols, 1), 0.8 + 0.45 * rows), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(np.ma.masked_invalid(goodness), cmap="Greens", vmin=-0.3, vmax=1.15, aspect="auto")
    ax.set_facecolor("0.85")
    for i in range(rows):
        for j in range(cols):
            text = "n/a" if np.isnan(values[i, j]) else f"{values[i, j]:.3g}"
            dark = not np.isnan(goodness[i, j]) and goodness[i, j] > 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_xticks(range(cols))
    ax.set_xticklabels(
        [
            f"{m.replace('_', ' ')}\n{'higher' if table.higher_is_better[m] else 'lower'} is better"
            for m in table.metrics
        ],
        fontsize=8,
    )
    ax.set_yticks(range(rows))
    ax.set_yticklabels(table.methods, fontsize=9)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    if title:
        fig.suptitle(title)
    return fig


@styled
def plot_randomization(
    results: Sequence, *, metrics: Sequence[str] = ("spearman_abs", "spearman", "ssim"), title: str = ""
) -> Figure:
    """Similarity to the trained model's maps as layers are randomized (Adebayo et al.).

    Args:
        results: `RandomizationResult`s (one per method) from `kv.randomization_check`.
        metrics: which curves to draw, one panel each.
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> kv.plot_randomization([kv.randomization_check(model, x, "gradient"), kv.randomization_check(model, x, "grad_cam")])
    """
    for result in results if isinstance(results, (list, tuple)) else [results]:
        if not all(hasattr(result, a) for a in ("method", "stages", "spearman")):
            raise ArgumentTypeError(
                "`results` must be results of kv.randomization_check (RandomizationResult); "
                f"got {type(result).__name__}."
            )
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    fig = Figure(figsize=(4.2 * len(metrics), 3.4))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    labels = {"spearman_abs": "Spearman rank |map|", "spearman": "Spearman rank (signed)", "ssim": "SSIM"}
    for ax, metric in zip(axes, metrics):
        for result in results:
            curve = getattr(result, metric).mean(1)
            ax.plot(np.arange(len(curve) + 1), np.r_[1.0, curve], marker="o", label=result.method)
        stages = ["trained"] + list(results[0].stages)
        ax.set_xticks(range(len(stages)))
        ax.set_xticklabels(stages, rotation=45, ha="right", fontsize="small")
        ax.set_ylim(-0.3, 1.05)
        ax.axhline(0, color="gray", lw=0.5)
        ax.set_title(labels.get(metric, metric))
        ax.set_xlabel("randomized down to")
    axes[0].set_ylabel("similarity to trained map")
    axes[-1].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_perturbation_curves(curves: Mapping[str, np.ndarray], *, kind: str = "deletion", title: str = "") -> Figure:
    """Deletion or insertion curves `{method: (N, T) or (T,)}`, mean over images, AUC in the legend.

    Args:
        curves: `{method label: curves}` from `kv.deletion_auc(..., return_curves=True)`.
        kind: "deletion" or "insertion" (axis labels and title).
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> auc, curves = kv.deletion_auc(model, x, kv.saliency(model, x), return_curves=True)
        >>> kv.plot_perturbation_curves({"saliency": curves})
    """
    from kerasviz.core.errors import ArgumentTypeError
    from kerasviz.core.validate import check_choice

    check_choice(kind, "kind", ("deletion", "insertion"))
    if not isinstance(curves, Mapping) or not curves:
        raise ArgumentTypeError(
            f"`curves` must be a non-empty dict {{method: curve (N, T) or (T,)}}; got {type(curves).__name__}."
        )
    for curve in curves.values():
        check_array(curve, "curves", min_ndim=1, max_ndim=2)
    fig = Figure(figsize=(4.5, 3.4))
    ax = fig.subplots()
    for name, curve in curves.items():
        mean = np.atleast_2d(curve).mean(0)
        area = (mean.sum() - mean[0] / 2 - mean[-1] / 2) / (len(mean) - 1)
        ax.plot(np.linspace(0, 1, len(mean)), mean, label=f"{name} (AUC {area:.2f})")
    ax.set_xlabel(f"fraction of pixels {'inserted' if kind == 'insertion' else 'deleted'}")
    ax.set_ylabel("class probability")
    ax.set_title(title or f"{kind} ({'higher' if kind == 'insertion' else 'lower'} AUC is better)")
    ax.legend()
    fig.tight_layout()
    return fig
