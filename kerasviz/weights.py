"""Filter weights of a convolution layer and a per-filter roughness (noise) score.

The first layer's filters of a well-trained network are smooth; noisy patterns
suggest a network trained too briefly or with too little regularisation
(Stanford CS231n notes, "Visualizing what ConvNets learn"). `filter_roughness`
puts a number on it.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.graph import check_model
from kerasviz.core.layers import LayerSpec, find_conv_layer
from kerasviz.core.validate import check_finite_array


def filter_weights(model: keras.Model, layer: LayerSpec) -> np.ndarray:
    """The kernel of a 2-D convolution, `(kh, kw, c_in, filters)` float32 numpy.

    For a DepthwiseConv2D the kernel is `(kh, kw, c_in, multiplier)`; for a
    SeparableConv2D its depthwise kernel is returned. The kernel layout does not
    depend on the layer's `data_format`.

    Args:
        model: a Keras model (functional, Sequential or nested).
        layer: the convolution (name, "outer/inner" path, index or Layer).

    Returns:
        float32 NumPy array `(kh, kw, c_in, filters)`.

    Raises:
        UnsupportedLayerError: the layer is not a 2-D convolution (lists the conv layers).
        LayerNotFoundError, ArgumentTypeError: an unknown or malformed `layer`.

    Example:
        >>> kv.filter_weights(vgg, "block1_conv1").shape
        (3, 3, 3, 64)
    """
    check_model(model)
    conv = find_conv_layer(model, layer)
    kernel = getattr(conv, "kernel", None)
    if kernel is None:
        kernel = conv.depthwise_kernel
    return np.asarray(kernel, np.float32)


def filter_roughness(kernel: np.ndarray) -> np.ndarray:
    """Per-filter roughness: mean squared neighbour difference over twice the mean square.

    `r = mean((w[i] - w[j])^2 over 4-neighbours) / (2 * mean(w^2))`, summed over
    input channels. White noise has r ~ 1, a constant filter r = 0, a
    checkerboard r = 2; smooth, well-trained filters sit well below 1.

    Args:
        kernel: `(kh, kw, c_in, filters)`.

    Returns:
        `(filters,)` float array; NaN for 1x1 kernels (no neighbours) and for
        all-zero filters.

    Raises:
        KerasvizError: `kernel` is not a finite numeric 4-D array.

    Example:
        >>> kv.filter_roughness(kv.filter_weights(vgg, "block1_conv1")).mean()
    """
    k = check_finite_array(kernel, "kernel", dtype=np.float64)
    if k.ndim != 4:
        raise InvalidArgumentError(f"`kernel` must be a conv kernel (kh, kw, c_in, filters); got shape {k.shape}.")
    dy = np.diff(k, axis=0) ** 2
    dx = np.diff(k, axis=1) ** 2
    pairs = dy[..., 0, 0].size + dx[..., 0, 0].size
    energy = (k**2).sum(axis=(0, 1, 2)) / (k.shape[0] * k.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = (dy.sum(axis=(0, 1, 2)) + dx.sum(axis=(0, 1, 2))) / pairs if pairs else np.full(k.shape[-1], np.nan)
        return diff / (2 * energy)
