"""What the concept views read from the model and data: class choices, layers, reusable data, display.

Shared by `kerasviz.widgets.concepts` (TCAV, NMF, atlas, caricature) and
`kerasviz.widgets.crp` (CRP, relevance maximization).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz.core.gradients import model_outputs
from kerasviz.core.layer_calls import activation_name
from kerasviz.core.layers import conv_layers, find_layer, spatial_layers

NO_CONCEPTS = (
    "<p><b>TCAV needs concept images and a random pool.</b> Pass them to the Explorer: "
    "<code>kv.widgets.Explorer(model, images, concepts={'stripes': stripe_images, 'dots': dot_images}, "
    "random_images=pool)</code> (each set <code>(n, H, W, C)</code> in the model's input space; the pool holds "
    "images without the concepts, at least a few times the size of a concept set). TCAV then tests how much each "
    "concept raises the chosen class's score at a layer (Kim et al. 2018).</p>"
)


def class_options(model, images, class_names=None, top: int = 10) -> list:
    """Target dropdown options: "predicted" (-1), then the `top` classes with the highest mean logit."""
    logits = model_outputs(model, images, prepared=False)
    order = np.argsort(-logits.mean(axis=0))[:top]
    name = lambda c: str(class_names[c]) if class_names is not None else str(c)
    return [("predicted", -1)] + [(name(c), int(c)) for c in order]


def post_relu_layers(model) -> list[str]:
    """4-D layers whose output is non-negative by construction (a ReLU, fused or standalone); NMF needs one.

    Falls back to every 4-D layer (NMF then explains, in the status line, why a layer is refused).
    """
    found = []
    for path in spatial_layers(model):
        layer = find_layer(model, path)
        act = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.ReLU) or (act is not None and activation_name(act) in ("relu", "relu6")):
            found.append(path)
    return found or spatial_layers(model)


def default_layer(model, layers: Sequence[str]) -> str:
    """The last convolution among `layers` (else the last layer)."""
    convs = [p for p in layers if p in set(conv_layers(model))]
    return (convs or list(layers))[-1]


def array_data(data, images: np.ndarray):
    """`data` when it can be read again (an array, tensor or `(images, labels)`); else `images`."""
    if isinstance(data, np.ndarray) or hasattr(data, "numpy"):
        return data
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        return data
    return images


def data_count(data) -> int:
    """Images in array data (`(images, labels)` counts its images)."""
    return len(data[0]) if isinstance(data, tuple) else len(data)


def with_display(images: np.ndarray | None, index: int) -> Callable | None:
    """A `display=` callable showing the given displayable image for image `index` (None: min-max)."""
    if images is None:
        return None
    shown = np.asarray(images[index])
    return lambda tiles: np.repeat(shown[None], len(tiles), axis=0)
