"""Baselines beside filter decoding: "transposed filter" readings and the Z&F deconvnet.

The paper argues that "convolution with the transposed filter" is a poor
inverse of a conv layer. Read as the operator transpose, it is substitution
itself; the two readings that differ are pasting the 180°-rotated kernel and
pasting the matrix-transposed kernel (rows and columns swapped). Both are here,
image-independent like decoding.

The Zeiler & Fergus deconvnet projects ONE neuron's activation on ONE image back
to pixels: max-pools are undone with that image's switches, the backward signal
is rectified at every ReLU, convs are transposed. That is exactly the gradient
of the neuron with a deconvnet backward rule at ReLUs (a max-pool's gradient
routes to its argmax: the switches), so it reuses the core gradient routine.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from kerasviz.activations import activations
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import score_gradients
from kerasviz.core.inputs import to_model_layout
from kerasviz.core.layers import LayerSpec
from kerasviz.core.relu_rules import relu_rule_substitute
from kerasviz.core.validate import check_choice, check_indices, check_int
from kerasviz.dataset.arguments import check_model, check_output_rank, renamed, resolve_layer
from kerasviz.dataset.streaming import image_batch
from kerasviz.decoding.substitution import decode_with_kernel_op

READINGS = ("rot180", "matrix_transpose")


@renamed(reading="kernel_op")
def decode_filters_transposed(
    model: keras.Model,
    layer: LayerSpec,
    kernel_op: str = "rot180",
    unpool: str = "bicubic",
    *,
    filters: Sequence[int] | None = None,
    dtype: str = "float32",
) -> np.ndarray:
    """Decode with a "transposed filter" at every conv instead of substitution.

    Args:
        model, layer, unpool, filters, dtype: as in `decode_filters`.
        kernel_op: how each kernel is pasted: "rot180" (rotated by 180°, i.e.
            MATLAB `conv2(S, rot90(w, 2), 'full')`) or "matrix_transpose"
            (`w.T`). The old keyword `reading=` still works, with a DeprecationWarning.

    Returns:
        `(K, RF_h, RF_w, C)` like `decode_filters`.

    Raises:
        KerasvizError: an unknown `kernel_op`, or see `decode_filters`.

    Example:
        >>> wrong = kv.decode_filters_transposed(net, "conv3", "rot180")
    """
    kernel_op = check_choice(kernel_op, "kernel_op", READINGS)
    return decode_with_kernel_op(model, layer, unpool, kernel_op=kernel_op, filters=filters, dtype=dtype)


def deconvnet_projection(
    model: keras.Model,
    layer: LayerSpec,
    images,
    filter_index: int,
    *,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Zeiler & Fergus deconvnet projection of one filter's strongest unit per image.

    For each image, the unit of `filter_index` with the highest activation in
    `layer` is projected to pixel space through the network below: max-pool
    switches of that image, rectified backward signal at each ReLU (the MatConvNet
    LeNet has a ReLU only after conv3, so only conv4 is rectified), transposed
    convolutions.

    Args:
        model: a Keras model (never changed).
        layer: any layer with a `(N, h, w, K)` output, typically a conv.
        images: `(N, H, W, C)` or one `(H, W, C)` in the model's input space.
        filter_index: the filter (channel) k.
        batch_size: images per compiled call.

    Returns:
        `(projections, positions)`: `(N, H, W, C)` signed projections and the
        `(N, 2)` (row, col) of the projected unit on the layer's grid.

    Raises:
        KerasvizError: a bad `layer` (unknown, not a feature map), `images`,
            `filter_index` (not one index in range) or `batch_size`.

    Example:
        >>> proj, where = kv.deconvnet_projection(net, "conv3", top_images, 7)
    """
    check_model(model)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    layer, found = resolve_layer(model, layer)
    check_output_rank(found, (4,), "a deconvnet projection needs feature maps (N, h, w, K)")
    check_int(filter_index, "filter_index")
    x, _ = image_batch(images, model)  # checked once, channels last
    maps = next(iter(activations(model, to_model_layout(x.numpy(), model), [layer], batch_size=batch_size).values()))
    if maps.ndim != 4:
        raise InvalidArgumentError(
            f"`layer` {layer!r} has outputs of shape {maps.shape[1:]}; expected feature maps (h, w, K)."
        )
    k = check_indices(filter_index, "filter_index", size=maps.shape[-1])[0]
    flat = maps[..., k].reshape(len(maps), -1).argmax(1)
    positions = np.stack(np.unravel_index(flat, maps.shape[1:3]), 1)
    units = (flat * maps.shape[-1] + k).astype(int)  # index into the flattened (h, w, K) output
    grads = score_gradients(
        model,
        x,
        target=list(units),
        score_layer=layer,
        substitute=relu_rule_substitute("deconvnet"),
        substitute_key="deconvnet",
        batch_size=batch_size,
        prepared=True,
    )
    return grads.input, positions
