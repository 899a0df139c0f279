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
from typing import Optional

import keras
import numpy as np

from kerasviz.core.layers import LayerSpec
from kerasviz.dataset.topk import TopActivating, top_activating


@dataclass
class NeuronFeatures:
    """Neuron Features of one layer's filters.

    Attributes:
        layer: the layer key.
        images: `(filters, rf_h, rf_w, C)` weighted mean of each filter's top crops.
        weights: `(filters, k)` normalised activations `a_j / |max_j a_j|` (0 for a silent filter).
        class_selectivity: `(filters,)` class selectivity index in [0, 1], or
            None without labels (NaN for a filter with no positive weight).
        top: the `TopActivating` scan the features were built from.
    """

    layer: str
    images: np.ndarray
    weights: np.ndarray
    class_selectivity: Optional[np.ndarray]
    top: TopActivating


def normalized_weights(values: np.ndarray) -> np.ndarray:
    """`(filters, k)` activations divided by each filter's largest absolute top activation."""
    values = np.asarray(values, np.float64)
    scale = np.abs(values).max(axis=1, keepdims=True)
    return np.divide(values, scale, out=np.zeros_like(values), where=scale > 0)


def class_selectivity(labels: np.ndarray, weights: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Class selectivity index `(N - M) / (N - 1)` per filter (nefesi's definition).

    Args:
        labels: `(filters, N)` class labels of each filter's top-N images.
        weights: `(filters, N)` their normalised activations (negative ones count as 0).
        threshold: fraction of the weight mass the `M` most frequent classes must reach.

    Returns:
        `(filters,)` float in [0, 1]; NaN where a filter has no positive weight.

    Example:
        >>> class_selectivity(np.array([[3, 3, 3]]), np.ones((1, 3)))
        array([1.])
    """
    labels, weights = np.asarray(labels), np.clip(np.asarray(weights, np.float64), 0, None)
    n = labels.shape[1]
    out = np.full(len(labels), np.nan)
    for f, (lab, w) in enumerate(zip(labels, weights)):
        if w.sum() <= 0:
            continue
        mass = np.sort(np.bincount(lab, weights=w))[::-1] / w.sum()
        m = int(np.searchsorted(np.cumsum(mass), threshold - 1e-9) + 1)
        out[f] = (n - m) / (n - 1) if n > 1 else 1.0
    return out


def neuron_feature(
    model_or_top,
    layer: Optional[LayerSpec] = None,
    data=None,
    k: int = 20,
    *,
    labels=None,
    threshold: float = 1.0,
    pad_value: float = 0.0,
    **scan_kwargs,
) -> NeuronFeatures:
    """Neuron Feature of every filter, plus its class selectivity index.

    Args:
        model_or_top: a Keras model (then `layer` and `data` are scanned with
            `kv.top_activating`), or a `TopActivating` result to reuse.
        layer: the layer, when a model is given.
        data: images / dataset / generator, when a model is given.
        k: top images per filter (the paper's N; nefesi used 100).
        labels: `(N,)` labels for array data, for the class selectivity index.
        threshold: weight mass for the class selectivity index (nefesi: 1.0).
        pad_value: value of crop pixels outside the image (0 = the mean for
            centred inputs).
        **scan_kwargs: passed to `kv.top_activating` (batch_size, strategy, progress ...).

    Returns:
        `NeuronFeatures` with `.images` `(filters, rf_h, rf_w, C)` in the
        model's input space, `.weights` `(filters, k)` and `.class_selectivity` `(filters,)`.

    Example:
        >>> nf = kv.neuron_feature(net, "conv2", x_test, k=20, labels=y_test)
        >>> nf.images.shape, nf.class_selectivity.shape
        ((50, 14, 14, 1), (50,))
    """
    if isinstance(model_or_top, TopActivating):
        top = model_or_top
    elif isinstance(model_or_top, keras.Model):
        if layer is None or data is None:
            raise ValueError("neuron_feature(model, layer, data, ...) needs a layer and data (or pass a TopActivating).")
        top = top_activating(model_or_top, layer, data, k, labels=labels, **scan_kwargs)
    else:
        raise TypeError(f"Expected a keras.Model or a TopActivating result, got {type(model_or_top).__name__}.")
    weights = normalized_weights(top.values)
    # One filter at a time: all crops of a deep layer at once can take gigabytes (VGG16 block5: 196 px fields).
    images = np.stack([
        np.einsum("k,k...->...", weights[f], top.crops([f], pad_value=pad_value)[0]) / weights.shape[1]
        for f in range(len(weights))
    ])
    selectivity = None if top.labels is None else class_selectivity(top.labels, weights, threshold)
    return NeuronFeatures(top.layer, images.astype(np.float32), weights.astype(np.float32), selectivity, top)
