"""Show a figure inside a widget's Output, whatever matplotlib backend the kernel runs."""

from __future__ import annotations

from IPython.display import Image, display

from kerasviz.plotting.export import figure_png


def show_figure(fig) -> None:
    """Display `fig` as a PNG in the current output and close it.

    `plt.show()` draws nothing under a non-inline backend (Agg in Voila or a
    script) and `display(fig)` prints "<Figure size ...>" until the inline
    backend is loaded, so the widgets render the PNG themselves.
    """
    display(Image(data=figure_png(fig), format="png"))
