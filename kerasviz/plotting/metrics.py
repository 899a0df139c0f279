"""Figure of an attribution metrics table (`kv.attribution_metrics`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from kerasviz.core.arguments import checked_arguments


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
