"""Neuron Feature and class selectivity index (Rafegas, Vanrell et al. 2017/2020; nefesi).

The Neuron Feature (NF) of a filter is the weighted mean of its top-N
receptive-field crops, each weighted by its activation relative to the
filter's best: `NF = (1/N) sum_j w_j crop_j`, `w_j = a_j / |max_j a_j|`. The
class selectivity index says how concentrated those top images are on one
class: with `f_c = sum_{j in c} w_j / sum_j w_j` sorted in descending order and
`M` the number of classes needed to reach `threshold` of the mass,
`CSI = (N - M) / (N - 1)` (1: all top images of one class).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.layers import LayerSpec
from kerasviz.core.precision import check_precision
from kerasviz.core.validate import check_int, check_number
from kerasviz.dataset.arguments import dataset_view
from kerasviz.dataset.topk import TopActivating, top_activating

DEFAULT_MAX_SIZE = 128


@dataclass
class NeuronFeatures:
    """Neuron Features of one layer's filters.

    Attributes:
        layer: the layer key.
        images: `(filters, h, w, C)` weighted mean of each filter's top crops
            (the patch size, scaled by `scale`).
        weights: `(filters, k)` normalised activations `a_j / |max_j a_j|` (0 for a silent filter).
        class_selectivity: `(filters,)` class selectivity index in [0, 1], or
            None without labels (NaN for a filter with no positive weight).
        top: the `TopActivating` scan the features were built from.
        scale: pixels of `images` per input pixel (1.0 unless the patches were
            larger than `max_size` and the features were averaged down).
    """

    layer: str
    images: np.ndarray
    weights: np.ndarray
    class_selectivity: np.ndarray | None
    top: TopActivating
    scale: float = 1.0


def normalized_weights(values: np.ndarray) -> np.ndarray:
    """`(filters, k)` activations divided by each filter's largest absolute top activation."""
    values = np.asarray(values, np.float64)
    scale = np.abs(values).max(axis=1, keepdims=True)
    return np.divide(values, scale, out=np.zeros_like(values), where=scale > 0)


def class_selectivity(labels: np.ndarray, weights: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Class selectivity index `(N - M) / (N - 1)` per filter (nefesi's definition).

    Args:
        labels: `(filters, N)` class labels (integers >= 0) of each filter's top-N images.
        weights: `(filters, N)` their normalised activations (negative ones count as 0).
        threshold: fraction in (0, 1] of the weight mass the `M` most frequent classes must reach.

    Returns:
        `(filters,)` float in [0, 1]; NaN where a filter has no positive weight.

    Raises:
        KerasvizError: `threshold` outside (0, 1]; labels not integers >= 0 or
            not the shape of `weights`.

    Example:
        >>> class_selectivity(np.array([[3, 3, 3]]), np.ones((1, 3)))
        array([1.])
    """
    threshold = check_number(threshold, "threshold", minimum=0.0, maximum=1.0, strict_minimum=True)
    labels, weights = np.asarray(labels), np.asarray(weights, np.float64)
    if labels.ndim != 2 or labels.shape != weights.shape:
        raise InvalidArgumentError(
            f"`labels` and `weights` must both be (filters, N); got {labels.shape} and {weights.shape}."
        )
    if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
        raise ArgumentTypeError(f"`labels` must be integer class indices >= 0; got dtype {labels.dtype}.")
    if not np.isfinite(weights).all():
        raise InvalidArgumentError("`weights` contains NaN or Inf.")
    weights = np.clip(weights, 0, None)
    n = labels.shape[1]
    out = np.full(len(labels), np.nan)
    for f, (lab, w) in enumerate(zip(labels, weights)):
        if w.sum() <= 0:
            continue
        mass = np.sort(np.bincount(lab, weights=w))[::-1] / w.sum()
        m = int(np.searchsorted(np.cumsum(mass), threshold - 1e-9) + 1)
        out[f] = (n - m) / (n - 1) if n > 1 else 1.0
    return out


def _feature(top: TopActivating, f: int, weights: np.ndarray, pad_value: float, out_size: tuple) -> np.ndarray:
    """One filter's weighted mean crop, accumulated image by image, averaged down to `out_size`."""
    k = len(weights)
    ph, pw = top.patch_size
    first = top.image(top.indices[f, 0])
    acc = np.full((ph, pw) + first.shape[2:], pad_value * weights.sum(), np.float64)
    for j in range(k):
        image = first if j == 0 else top.image(top.indices[f, j])
        t, l, b, r = top.patch_box(f, j)
        h, w = image.shape[:2]
        ti, li, bi, ri = max(t, 0), max(l, 0), min(b, h), min(r, w)
        if bi > ti and ri > li:
            acc[ti - t : bi - t, li - l : ri - l] += weights[j] * (image[ti:bi, li:ri] - pad_value)
    feature = (acc / k).astype(np.float32)
    if out_size != (ph, pw):
        feature = tf.image.resize(feature[None], out_size, method="area")[0].numpy()
    return feature


@dataset_view(legacy=("k",), aliases={"model_or_top": "model"})
def neuron_feature(
    model,
    layer: LayerSpec | None = None,
    data=None,
    *,
    k: int | None = None,
    labels=None,
    threshold: float = 1.0,
    pad_value: float = 0.0,
    max_size: int | None = None,
    batch_size: int = 64,
    pre_activation: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    field_method: str = "auto",
    precision: str = "auto",
    progress: bool = True,
) -> NeuronFeatures:
    """Neuron Feature of every filter, plus its class selectivity index.

    The Neuron Feature of a filter is accumulated crop by crop, so memory is
    one patch per filter plus the result, `filters x max_size^2 x C` floats at
    most (the default 128 px: 250 MB for the 1,280 RGB filters of MobileNetV2's
    last conv, whose 491 px field would need 3.7 GB at full size).

    Args:
        model: a Keras model (then `layer` and `data` are scanned with
            `kv.top_activating`), or a `TopActivating` result to reuse.
        layer: the layer, when a model is given.
        data: images, `(images, labels)`, a list of batches, a dataset or a
            generator, when a model is given (see `kv.top_activating`).
        k: top images per filter (the paper's N; nefesi used 100); default 20
            for a scan, all of a `TopActivating`'s (a smaller k uses its best k).
        labels: `(N,)` labels for array data, for the class selectivity index.
        threshold: weight mass in (0, 1] for the class selectivity index (nefesi: 1.0).
        pad_value: value of crop pixels outside the image (0 = the mean for
            centred inputs).
        max_size: longest side of a Neuron Feature in pixels (default 128);
            larger patches are averaged down (area interpolation), `scale` says by how much.
        batch_size, pre_activation, strategy, field_method, precision, progress:
            the scan's options (see `kv.top_activating`; `precision="auto"`
            scans in bfloat16 where this machine runs it natively); unused
            for a `TopActivating`. The features are averaged in float64 from
            the float32 images either way.

    Returns:
        `NeuronFeatures` with `.images` `(filters, h, w, C)` in the model's
        input space, `.weights` `(filters, k)`, `.class_selectivity` `(filters,)` and `.scale`.

    Raises:
        KerasvizError: a bad `k`, `threshold`, `max_size` or `pad_value`,
            `labels` next to a `TopActivating`, or (for a scan) a bad `layer`,
            `data` or scan option.

    Example:
        >>> nf = kv.neuron_feature(net, "conv2", x_test, k=20, labels=y_test)
        >>> nf.images.shape, nf.class_selectivity.shape
        ((50, 14, 14, 1), (50,))
    """
    k = check_int(k, "k", minimum=1, allow_none=True)
    precision = check_precision(precision)
    threshold = check_number(threshold, "threshold", minimum=0.0, maximum=1.0, strict_minimum=True)
    pad_value = check_number(pad_value, "pad_value")
    max_size = check_int(DEFAULT_MAX_SIZE if max_size is None else max_size, "max_size", minimum=1)
    if isinstance(model, TopActivating):
        top = model
        if labels is not None:
            raise InvalidArgumentError(
                "`labels` go with a scan; a TopActivating result carries its own (pass labels= to kv.top_activating)."
            )
        if k is not None and k > top.k:
            raise InvalidArgumentError(f"`k`={k} but the TopActivating result holds {top.k} images per filter.")
    elif isinstance(model, keras.Model):
        if layer is None:
            raise InvalidArgumentError("neuron_feature(model, layer, data) needs a `layer` (or pass a TopActivating).")
        if data is None:
            raise InvalidArgumentError("neuron_feature(model, layer, data) needs `data` (or pass a TopActivating).")
        top = top_activating(
            model,
            layer,
            data,
            k=20 if k is None else k,
            labels=labels,
            batch_size=batch_size,
            pre_activation=pre_activation,
            strategy=strategy,
            field_method=field_method,
            precision=precision,
            progress=progress,
        )
    else:
        raise ArgumentTypeError(f"`model` must be a keras.Model or a TopActivating result; got {type(model).__name__}.")
    k = top.k if k is None else min(k, top.k)
    weights = normalized_weights(top.values[:, :k])
    ph, pw = top.patch_size
    scale = min(1.0, max_size / max(ph, pw))
    out_size = (max(1, round(ph * scale)), max(1, round(pw * scale)))
    images = np.stack([_feature(top, f, weights[f], pad_value, out_size) for f in range(len(weights))])
    selectivity = None if top.labels is None else class_selectivity(top.labels[:, :k], weights, threshold)
    return NeuronFeatures(top.layer, images, weights.astype(np.float32), selectivity, top, scale=out_size[0] / ph)
