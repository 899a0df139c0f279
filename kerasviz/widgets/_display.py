"""What the widgets share to show things: their images checked once, and figures shown in an Output."""

from __future__ import annotations

import numpy as np
from IPython.display import Image, display

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.inputs import as_image_batch, as_numeric_array, to_model_layout
from kerasviz.plotting.export import figure_png


def show_figure(fig) -> None:
    """Display `fig` as a PNG in the current output and close it.

    `plt.show()` draws nothing under a non-inline backend (Agg in Voila or a
    script) and `display(fig)` prints "<Figure size ...>" until the inline
    backend is loaded, so the widgets render the PNG themselves.
    """
    display(Image(data=figure_png(fig), format="png"))


def widget_images(model, images, shown=None) -> tuple[np.ndarray, np.ndarray]:
    """A widget's `images` and their displayable versions, checked once at construction.

    Args:
        model: the widget's model.
        images: one image or a batch in the model's input space and layout
            (checked by `core.inputs.as_image_batch`: a clear error now, not at the first redraw).
        shown: displayable versions `(N, H, W, C)` / `(N, H, W)` (one image: no batch axis), or None.

    Returns:
        `(images, display)`: a float32 batch in the model's own layout (what the methods take), and
        the displayable batch (`shown`, else the images channels last).

    Raises:
        KerasvizError: bad `images`, or a `display` that is not numbers or has another number of images.
    """
    batch, single = as_image_batch(images, model)
    channels_last = batch.numpy()
    x = np.asarray(to_model_layout(channels_last, model), np.float32)
    if shown is None:
        return x, channels_last
    shown = np.asarray(as_numeric_array(shown, "display"))
    if single and shown.ndim in (2, 3) and shown.shape[:2] == channels_last.shape[1:3]:
        shown = shown[None]
    if len(shown) != len(x):
        raise InvalidArgumentError(
            f"`display` has {len(shown)} image(s) for {len(x)} image(s) in `images`; give one "
            "displayable image per image."
        )
    return x, shown


__all__ = ["show_figure", "widget_images"]
