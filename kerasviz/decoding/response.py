"""Decoded responses: correlate images with decoded filters (the paper's I ⋆ df).

`I ⋆ df_k` is a valid cross-correlation sampled at the layer's cumulative
stride, on the same input the network sees, so it lands on the layer's own
output grid: position i sees input rows `stride*i ... stride*i + RF - 1`.
For a network without max-pools, ReLUs and biases it IS the layer's output
(with nearest unpooling and sum-pools); the gap to the real response measures
how non-linear the network below the layer is (the paper's Table 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.deprecation import renamed
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.inputs import batches
from kerasviz.core.layers import LayerSpec
from kerasviz.core.validate import check_finite_array, check_int
from kerasviz.dataset.arguments import dataset_view
from kerasviz.dataset.streaming import image_batch
from kerasviz.decoding.substitution import decode_filters, decoding_plan, filter_indices, input_geometry
from kerasviz.decoding.unpool import check_method


def correlate(images, decoded: np.ndarray, geometry, *, batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """Strided valid correlation of a batch with decoded filters, on a layer's output grid.

    Args:
        images: float tensor `(N, H, W, C)`.
        decoded: `(K, RF_h, RF_w, C)` decoded filters.
        geometry: `((stride, offset, out), (stride, offset, out))` from `input_geometry`.

    Returns:
        `(N, out_h, out_w, K)` numpy array.
    """
    (sh, oh, nh), (sw, ow, nw) = geometry
    kernel = tf.constant(np.transpose(decoded, (1, 2, 3, 0)), images.dtype)  # (RF_h, RF_w, C, K)
    rf_h, rf_w = decoded.shape[1:3]
    pad_h = max(0, sh * (nh - 1) + rf_h - oh - int(images.shape[1]))
    pad_w = max(0, sw * (nw - 1) + rf_w - ow - int(images.shape[2]))
    parts = []
    chunks = list(batches(len(images), batch_size))
    with progress_bar(len(chunks), "decoded responses", progress and len(chunks) > 1) as bar:
        for s in chunks:
            x = tf.pad(images[s], [[0, 0], [oh, pad_h], [ow, pad_w], [0, 0]])
            parts.append(tf.nn.conv2d(x, kernel, (1, sh, sw, 1), "VALID")[:, :nh, :nw].numpy())
            bar.update(1)
    return np.concatenate(parts)


@dataset_view(legacy=("unpool",), data_name="images")
def decoded_response(
    model: keras.Model,
    layer: LayerSpec,
    images=None,
    *,
    unpool: str = "bicubic",
    filters: Sequence[int] | None = None,
    decoded: np.ndarray | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> np.ndarray:
    """The paper's estimate of a conv layer's response: `I ⋆ df_k` for every filter k.

    Args:
        model: a Keras model (never changed); see `decode_filters`.
        layer: the decoded Conv2D layer.
        images: `(N, H, W, C)` or one `(H, W, C)` in the model's input space
            (the same preprocessing the network sees).
        unpool: "bicubic", "nearest" or "bilinear" (keyword; a fourth
            positional value still works, with a DeprecationWarning).
        filters: filter indices (an int or a list, negative from the end; default: all K).
        decoded: precomputed `decode_filters(...)` output for these filters
            (skips decoding, e.g. to try another kernel reading).
        batch_size: images per correlation call.
        progress: show a progress bar (only with more than one chunk).

    Returns:
        `(N, h, w, K)` numpy array shaped like the layer's output (no bias),
        or `(h, w, K)` for one image.

    Raises:
        KerasvizError: a bad `layer` (see `decode_filters`), `images` (shape,
            channels, size, NaN/Inf), `unpool`, `filters`, `decoded` or `batch_size`.

    Example:
        >>> r = kv.decoded_response(net, "conv2", x_test[:8])
        >>> r.shape
        (8, 8, 8, 50)
    """
    method = check_method(unpool)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    plan = decoding_plan(model, layer)
    indices = filter_indices(filters, plan)
    if decoded is not None:
        decoded = check_finite_array(decoded, "decoded")
        if decoded.ndim != 4 or len(decoded) != len(indices):
            raise InvalidArgumentError(
                f"`decoded` must be (K={len(indices)}, RF_h, RF_w, C) for the {len(indices)} filters; "
                f"got shape {decoded.shape}."
            )
    x, single = image_batch(images, model)
    if decoded is None:
        decoded = decode_filters(model, plan.layer, unpool=method, filters=indices, progress=progress)
    geometry = input_geometry(plan, int(x.shape[1]), int(x.shape[2]))
    response = correlate(x, decoded, geometry, batch_size=batch_size, progress=progress)
    return response[0] if single else response


@renamed(filter_index="filters")
def top_locations(responses: np.ndarray, filters: int, k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `k` images with the highest maximum of one filter's response map.

    Args:
        responses: `(N, h, w, K)` layer outputs (CNN or decoded).
        filters: which filter.
        k: how many images.

    Returns:
        `(indices, values, positions)`: `(k,)` image indices sorted by
        decreasing maximum, `(k,)` those maxima, `(k, 2)` the (row, col) of each
        maximum on the layer's output grid.

    Example:
        >>> images, peaks, where = kv.top_locations(kv.decoded_response(net, "conv3", x), 5, k=4)
    """
    from kerasviz.core.arguments import check_array
    from kerasviz.core.validate import check_int

    responses = check_array(responses, "responses", min_ndim=4, max_ndim=4)
    channels = responses.shape[-1]
    filters = check_int(filters, "filters", minimum=-channels, maximum=channels - 1)
    k = check_int(k, "k", minimum=1)
    maps = responses[..., filters].reshape(len(responses), -1)
    best = maps.max(1)
    order = np.argsort(-best, kind="stable")[:k]
    flat = maps[order].argmax(1)
    positions = np.stack(np.unravel_index(flat, responses.shape[1:3]), 1)
    return order, best[order], positions


def minmax(tensor: np.ndarray, axes) -> np.ndarray:
    """Range-normalise to [0, 1] over `axes` (the paper's "contrast range normalization")."""
    lo, hi = tensor.min(axes, keepdims=True), tensor.max(axes, keepdims=True)
    return (tensor - lo) / np.maximum(hi - lo, 1e-12)


@renamed(cnn="responses")
def decoding_error(responses: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """The paper's Table-1 error per image: MSE of the jointly min-max-normalised responses.

    Each image's whole `(h, w, K)` response tensor is normalised to [0, 1] once
    ("a single contrast range normalization for each image"), separately for the
    CNN and the decoded response; the squared differences are averaged.

    Args:
        responses: `(N, h, w, K)` the layer's real outputs (pre-pool, pre-ReLU, with bias).
        decoded: `(N, h, w, K)` `decoded_response` on the same inputs.

    Returns:
        `(N,)` errors; Table 1 reports their mean ± std.

    Example:
        >>> err = kv.decoding_error(cnn_conv2, kv.decoded_response(net, "conv2", x))
        >>> err.mean(), err.std()
    """
    responses, decoded = np.asarray(responses), np.asarray(decoded)
    if responses.shape != decoded.shape or responses.ndim < 2:
        raise InvalidArgumentError(
            f"`responses` and `decoded` must be responses of one shape; got {responses.shape} and {decoded.shape}."
        )
    axes = tuple(range(1, responses.ndim))
    return ((minmax(responses.astype(np.float64), axes) - minmax(decoded.astype(np.float64), axes)) ** 2).mean(axes)


def class_max_matrix(scores: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray, float]:
    """The paper's Figure 1: maximum activation of each filter over the images of each class.

    Args:
        scores: `(N, K)` one scalar per image and filter (e.g. decoded L7 responses).
        labels: `(N,)` classes 0..C-1.

    Returns:
        `(matrix, argmax, hit_rate)`: `(K, C)` maxima, `(K, C)` image index of each
        maximum, and the diagonal hit rate: the fraction of filters whose top
        image over the whole set is of the filter's own class.

    Example:
        >>> scores = kv.decoded_response(net, "conv4", x_test).max(axis=(1, 2))
        >>> matrix, argmax, hit_rate = kv.class_max_matrix(scores, y_test)
    """
    from kerasviz.core.arguments import check_array

    scores = check_array(scores, "scores", min_ndim=2, max_ndim=2)
    labels = np.asarray(check_array(labels, "labels", min_ndim=1, max_ndim=1))
    if len(labels) != len(scores):
        raise InvalidArgumentError(
            f"`labels` must hold one class per row of `scores` ({len(scores)}); got {len(labels)}."
        )
    classes = np.unique(labels)
    matrix = np.stack([scores[labels == c].max(0) for c in classes], 1)
    argmax = np.stack([np.flatnonzero(labels == c)[scores[labels == c].argmax(0)] for c in classes], 1)
    k = min(matrix.shape)
    hit_rate = float(np.mean(matrix[:k].argmax(1) == np.arange(k)))
    return matrix, argmax, hit_rate
