"""A finished figure as PNG bytes: what widgets display and reports embed."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt


def figure_png(figure, dpi: float | None = None) -> bytes:
    """Render a matplotlib Figure to PNG bytes (tight box, white background) and close it.

    Args:
        figure: a `matplotlib.figure.Figure` (pyplot-managed or not).
        dpi: resolution; None keeps the figure's own.

    Returns:
        The PNG file's bytes.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi or figure.dpi, bbox_inches="tight", facecolor="white")
    plt.close(figure)
    return buffer.getvalue()
